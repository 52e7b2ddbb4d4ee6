"""Linear Learner on localcloud: the real service's artifact served, wire formats, quality bars."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlformats import recordio_protobuf
from mlformats.linear_learner import LinearLearnerModel
from tests.localcloud.sagemaker_support import BUCKET, deploy, to_csv, training_request, wait_for_job

IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "linear-learner-regressor-real"
README_PREDICTIONS = {32: 1144.408, 61: 1382.766, 37: 1185.504, 59: 1366.327, 14: 996.462, 22: 1062.216}


@pytest.fixture(scope="module", autouse=True)
def bucket(aws):
    aws("s3").create_bucket(Bucket=BUCKET)


@pytest.fixture(scope="module")
def real_endpoint(aws):
    aws("s3").put_object(Bucket=BUCKET, Key="ll-real/model.tar.gz", Body=(FIXTURE / "model.tar.gz").read_bytes())
    deploy(aws("sagemaker"), "ll-real", f"s3://{BUCKET}/ll-real/model.tar.gz", image=IMAGE)
    yield "ll-real"
    aws("sagemaker").delete_endpoint(EndpointName="ll-real")


def invoke(aws, name: str, body: bytes, content_type: str, accept: str | None = None) -> bytes:
    extra = {"Accept": accept} if accept else {}
    return aws("sagemaker-runtime").invoke_endpoint(EndpointName=name, Body=body, ContentType=content_type,
                                                    **extra)["Body"].read()


def test_the_real_services_artifact_served_by_localcloud_predicts_its_readme_values(aws, real_endpoint):
    months = list(README_PREDICTIONS)
    body = "\n".join(str(m) for m in months).encode()
    predictions = json.loads(invoke(aws, real_endpoint, body, "text/csv"))["predictions"]
    assert [set(p) for p in predictions] == [{"score"}] * len(months)
    for month, prediction in zip(months, predictions, strict=True):
        assert prediction["score"] == pytest.approx(README_PREDICTIONS[month], abs=1e-3)


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/json", json.dumps({"instances": [{"features": [32]}, {"features": [61]}]}).encode()),
    ("application/json", json.dumps({"instances": [{"data": {"features": {"values": [32]}}},
                                                   {"data": {"features": {"values": [61]}}}]}).encode()),
    ("application/jsonlines", b'{"features": [32]}\n{"data": {"features": {"values": [61]}}}\n'),
    ("application/x-recordio-protobuf", recordio_protobuf.to_bytes(np.array([[32.0], [61.0]]))),
])
def test_every_request_format_is_understood(aws, real_endpoint, content_type, body):
    predictions = json.loads(invoke(aws, real_endpoint, body, content_type))["predictions"]
    assert [p["score"] for p in predictions] == pytest.approx([1144.408, 1382.766], abs=1e-3)


def test_jsonlines_and_recordio_protobuf_answers(aws, real_endpoint):
    lines = invoke(aws, real_endpoint, b"32\n61", "text/csv", "application/jsonlines").decode().splitlines()
    assert [json.loads(line)["score"] for line in lines] == pytest.approx([1144.408, 1382.766], abs=1e-3)
    records = recordio_protobuf.read_label_records(
        invoke(aws, real_endpoint, b"32", "text/csv", "application/x-recordio-protobuf"))
    assert records[0]["score"][0] == pytest.approx(1144.408, abs=1e-3)


@pytest.mark.parametrize(("content_type", "body", "accept", "status", "text"), [
    ("text/csv", b"1,2", None, 400, "unable to evaluate payload provided: the model expects 1 features, the request has 2"),
    ("text/csv", b"abc", None, 400, "unable to evaluate payload provided"),
    ("application/json", b'{"instances": [{"wrong": 1}]}', None, 400, "unable to evaluate payload provided"),
    ("image/png", b"1", None, 415, "Content type image/png is not supported"),
    ("text/csv", b"1", "text/html", 406, "Accept type text/html is not supported"),
    ("text/csv", b"nan", None, 400, "features must be finite numbers"),
    ("text/csv", b"inf", None, 400, "features must be finite numbers"),
    ("text/csv", b"4e38", None, 400, "within 32-bit float range"),
    ("application/json", b'{"instances": [{"features": [NaN]}]}', None, 400, "features must be finite numbers"),
])
def test_bad_requests_are_model_errors_that_say_what_was_wrong(aws, real_endpoint, content_type, body, accept,
                                                               status, text):
    with pytest.raises(ClientError) as raised:
        invoke(aws, real_endpoint, body, content_type, accept)
    error = raised.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == status
    assert text in error["OriginalMessage"]


def upload_csv(aws, key: str, features: np.ndarray, labels: np.ndarray) -> str:
    aws("s3").put_object(Bucket=BUCKET, Key=key, Body=to_csv(features, labels))
    return f"s3://{BUCKET}/{key}"


def train_linear_learner(aws, name: str, hyperparameters: dict, train: str, **channels: str) -> dict:
    request = training_request(name, train, image=IMAGE, hyperparameters=hyperparameters)
    for channel, uri in channels.items():
        request["InputDataConfig"].append({"ChannelName": channel, "ContentType": "text/csv", "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}})
    aws("sagemaker").create_training_job(**request)
    job = wait_for_job(aws("sagemaker"), name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    return job


def load_artifact(aws, job: dict) -> LinearLearnerModel:
    key = job["ModelArtifacts"]["S3ModelArtifacts"].split(f"s3://{BUCKET}/", 1)[1]
    return LinearLearnerModel.load(aws("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_binary_breast_cancer_quality_and_metrics(aws):
    features, labels = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(features, labels, test_size=0.2, random_state=42,
                                                        stratify=labels)
    # 455 rows make a handful of mini-batches per epoch: more epochs than the default 15, as a user would set.
    job = train_linear_learner(aws, "ll-binary", {"predictor_type": "binary_classifier", "mini_batch_size": 100,
                                                  "epochs": 40},
                               upload_csv(aws, "ll-binary/train.csv", x_train, y_train),
                               test=upload_csv(aws, "ll-binary/test.csv", x_test, y_test))
    model = load_artifact(aws, job)
    accuracy = np.mean([p["predicted_label"] == y for p, y in zip(model.predict(x_test), y_test, strict=True)])
    reference = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(x_train, y_train)
    assert accuracy >= 0.95
    assert accuracy >= reference.score(x_test, y_test) - 0.01
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert metrics["test:binary_classification_accuracy"] == pytest.approx(accuracy, abs=1e-9)
    assert {"train:objective_loss", "test:objective_loss", "test:binary_f_beta", "test:precision", "test:recall",
            "test:roc_auc_score", "train:progress"} <= set(metrics)
    assert metrics["train:progress"] <= 100


def test_regression_diabetes_quality(aws):
    features, labels = load_diabetes(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(features, labels, test_size=0.2, random_state=42)
    job = train_linear_learner(aws, "ll-regressor", {"predictor_type": "regressor", "mini_batch_size": 100},
                               upload_csv(aws, "ll-regressor/train.csv", x_train, y_train),
                               validation=upload_csv(aws, "ll-regressor/validation.csv", x_test, y_test))
    model = load_artifact(aws, job)
    ours = r2_score(y_test, [p["score"] for p in model.predict(x_test)])
    assert ours >= LinearRegression().fit(x_train, y_train).score(x_test, y_test) - 0.02
    metrics = {m["MetricName"] for m in job["FinalMetricDataList"]}
    assert {"validation:mse", "validation:rmse", "validation:absolute_loss", "validation:objective_loss"} <= metrics


def test_multiclass_wine_quality(aws):
    features, labels = load_wine(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(features, labels, test_size=0.2, random_state=42,
                                                        stratify=labels)
    job = train_linear_learner(aws, "ll-multiclass", {"predictor_type": "multiclass_classifier", "num_classes": 3,
                                                      "mini_batch_size": 32},
                               upload_csv(aws, "ll-multiclass/train.csv", x_train, y_train))
    predictions = load_artifact(aws, job).predict(x_test)
    assert len(predictions[0]["score"]) == 3 and sum(predictions[0]["score"]) == pytest.approx(1.0)
    accuracy = np.mean([p["predicted_label"] == y for p, y in zip(predictions, y_test, strict=True)])
    reference = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(x_train, y_train)
    assert accuracy >= reference.score(x_test, y_test) - 0.02


def test_recordio_protobuf_training_data_and_a_served_binary_model(aws):
    features, labels = load_breast_cancer(return_X_y=True)
    buffer = io.BytesIO()
    recordio_protobuf.write_numpy_to_dense_tensor(buffer, features.astype(np.float32), labels.astype(np.float32))
    aws("s3").put_object(Bucket=BUCKET, Key="ll-protobuf/train.rec", Body=buffer.getvalue())
    request = training_request("ll-protobuf", f"s3://{BUCKET}/ll-protobuf/", image=IMAGE,
                               hyperparameters={"predictor_type": "binary_classifier", "feature_dim": 30})
    request["InputDataConfig"][0]["ContentType"] = "application/x-recordio-protobuf"
    aws("sagemaker").create_training_job(**request)
    job = wait_for_job(aws("sagemaker"), "ll-protobuf")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    deploy(aws("sagemaker"), "ll-binary-endpoint", job["ModelArtifacts"]["S3ModelArtifacts"], image=IMAGE)
    try:
        answer = json.loads(invoke(aws, "ll-binary-endpoint", to_csv(features[:2]), "text/csv"))
        for prediction in answer["predictions"]:
            assert set(prediction) == {"score", "predicted_label"}
            assert prediction["predicted_label"] in (0.0, 1.0)
    finally:
        aws("sagemaker").delete_endpoint(EndpointName="ll-binary-endpoint")


@pytest.mark.parametrize(("hyperparameters", "reason"), [
    ({"epochs": 3}, "'predictor_type' is a required property"),
    ({"predictor_type": "classifier"}, "'classifier' is not one of ['binary_classifier', 'multiclass_classifier', 'regressor']"),
    ({"predictor_type": "multiclass_classifier"}, "'num_classes' is required"),
    ({"predictor_type": "regressor", "epochs": 0}, "0 is not greater than or equal to 1 (hyperparameter epochs)"),
    ({"predictor_type": "regressor", "feature_dim": 7}, "feature_dim hyperparameter (7) does not match"),
    ({"predictor_type": "regressor", "colour": "red"}, "Additional properties are not allowed ('colour' was unexpected)"),
])
def test_invalid_hyperparameters_fail_the_job_with_a_reason(aws, unique, hyperparameters, reason):
    train = upload_csv(aws, "ll-invalid/train.csv", np.ones((4, 2)), np.array([0, 1, 0, 1]))
    request = training_request(f"ll-invalid-{unique}", train, image=IMAGE, hyperparameters=hyperparameters)
    aws("sagemaker").create_training_job(**request)
    job = wait_for_job(aws("sagemaker"), request["TrainingJobName"])
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: ")
    assert reason in job["FailureReason"]
