"""Batch transform jobs: an XGBoost model's serving process fed CSV objects from S3, judged line by line
against InvokeEndpoint on the same rows and model; filters, joins, failures, logs, Stop, the SDK v3."""

from __future__ import annotations

import time

import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.localcloud.sagemaker_support import (
    BUCKET,
    XGBOOST_PARAMS,
    breast_cancer_split,
    deploy,
    to_csv,
    training_request,
    wait_for_job,
)

MODEL = "transform-xgb"
PARTS = 3


@pytest.fixture(scope="module")
def test_rows():
    return breast_cancer_split()[1]


@pytest.fixture(scope="module")
def model(aws, test_rows):
    """A trained XGBoost model, an endpoint serving it, and the test set in three CSV objects."""
    x_train, _, y_train, _ = breast_cancer_split()
    s3, sagemaker = aws("s3"), aws("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="transform/train/train.csv", Body=to_csv(x_train, y_train))
    sagemaker.create_training_job(**training_request(MODEL, f"s3://{BUCKET}/transform/train/",
                                                     hyperparameters={**XGBOOST_PARAMS, "num_round": 10}))
    artifact = wait_for_job(sagemaker, MODEL)["ModelArtifacts"]["S3ModelArtifacts"]
    deploy(sagemaker, MODEL, artifact)
    for index, rows in enumerate(np.array_split(test_rows, PARTS)):
        s3.put_object(Bucket=BUCKET, Key=f"transform/in/part-{index}.csv", Body=to_csv(rows))
        ids = np.arange(len(rows))[:, None] + 1000 * index
        s3.put_object(Bucket=BUCKET, Key=f"transform/with-ids/part-{index}.csv", Body=to_csv(np.hstack([ids, rows])))
    yield MODEL
    sagemaker.delete_endpoint(EndpointName=MODEL)


def transform(aws, name: str, input_uri: str, output: str, wait: bool = True, **overrides) -> dict:
    sagemaker = aws("sagemaker")
    request = {
        "TransformJobName": name, "ModelName": MODEL,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/{output}", "Accept": "text/csv", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 1,
    }
    request.update(overrides)
    sagemaker.create_transform_job(**request)
    if not wait:
        return sagemaker.describe_transform_job(TransformJobName=name)
    try:
        sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
            TransformJobName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 240})
    except Exception:  # the waiter treats Failed as an error; the tests look at why
        pass
    return sagemaker.describe_transform_job(TransformJobName=name)


def read(aws, key: str) -> str:
    return aws("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def invoke_lines(aws, rows) -> list[str]:
    body = aws("sagemaker-runtime").invoke_endpoint(EndpointName=MODEL, Body=to_csv(rows), ContentType="text/csv",
                                                    Accept="text/csv")["Body"].read().decode()
    return body.splitlines()


@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
def test_batch_transform_equals_invoke_endpoint_line_for_line(aws, model, test_rows, strategy, unique):
    job = transform(aws, f"csv-{strategy.lower()}-{unique}", f"s3://{BUCKET}/transform/in/", f"out-{unique}",
                    BatchStrategy=strategy)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TransformStartTime"] <= job["TransformEndTime"]
    for index, rows in enumerate(np.array_split(test_rows, PARTS)):
        output = read(aws, f"out-{unique}/part-{index}.csv.out")
        assert output.endswith("\n")
        assert output.splitlines() == invoke_lines(aws, rows)


def test_several_requests_within_max_payload_give_the_same_output(aws, model, test_rows, unique):
    """Rows repeated until one object is over 1 MB: MultiRecord must cut it into several requests."""
    rows = np.tile(test_rows, (40, 1))
    aws("s3").put_object(Bucket=BUCKET, Key=f"transform/big-{unique}/big.csv", Body=to_csv(rows))
    job = transform(aws, f"big-{unique}", f"s3://{BUCKET}/transform/big-{unique}/", f"big-out-{unique}")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    lines = read(aws, f"big-out-{unique}/big.csv.out").splitlines()
    assert len(to_csv(rows)) > 1024 * 1024 and len(lines) == len(rows)
    assert lines[: len(test_rows)] == lines[len(test_rows): 2 * len(test_rows)] == invoke_lines(aws, test_rows)


def test_join_source_input_keeps_the_input_beside_the_prediction(aws, model, test_rows, unique):
    job = transform(aws, f"join-{unique}", f"s3://{BUCKET}/transform/in/", f"joined-{unique}",
                    DataProcessing={"JoinSource": "Input"})
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    first = np.array_split(test_rows, PARTS)[0]
    inputs = to_csv(first).decode().splitlines()
    predictions = invoke_lines(aws, first)
    assert read(aws, f"joined-{unique}/part-0.csv.out").splitlines() == [
        f"{row},{prediction}" for row, prediction in zip(inputs, predictions, strict=True)]


def test_input_and_output_filters_keep_the_id_and_the_prediction(aws, model, test_rows, unique):
    job = transform(aws, f"filters-{unique}", f"s3://{BUCKET}/transform/with-ids/", f"filtered-{unique}",
                    DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"})
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert job["DataProcessing"]["OutputFilter"] == "$[0,-1]"
    second = np.array_split(test_rows, PARTS)[1]
    lines = read(aws, f"filtered-{unique}/part-1.csv.out").splitlines()
    assert lines == [f"{1000 + i},{p}" for i, p in enumerate(invoke_lines(aws, second))]


def test_an_object_the_model_cannot_parse_fails_the_job_with_its_name_and_the_models_message(aws, model, unique):
    aws("s3").put_object(Bucket=BUCKET, Key=f"transform/bad-{unique}/a-good.csv", Body=b"1," * 29 + b"1\n")
    aws("s3").put_object(Bucket=BUCKET, Key=f"transform/bad-{unique}/b-bad.csv", Body=b"not,numbers,at,all\n")
    job = transform(aws, f"bad-{unique}", f"s3://{BUCKET}/transform/bad-{unique}/", f"bad-out-{unique}")
    assert job["TransformJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith(f"ClientError: s3://{BUCKET}/transform/bad-{unique}/b-bad.csv: ")
    assert "Bad HTTP status received from algorithm: 400" in reason and "Unable to evaluate payload" in reason
    assert read(aws, f"bad-out-{unique}/a-good.csv.out").count("\n") == 1


def test_transform_logs_go_to_cloudwatch(aws, model, unique):
    name = f"logged-{unique}"
    assert transform(aws, name, f"s3://{BUCKET}/transform/in/", f"logged-{unique}")["TransformJobStatus"] == "Completed"
    logs = aws("logs")
    streams = [s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=f"{name}/")["logStreams"]]
    assert any(s.endswith("/data-log") for s in streams) and any(not s.endswith("/data-log") for s in streams)
    data_log = next(s for s in streams if s.endswith("/data-log"))
    messages = [e["message"] for e in logs.get_log_events(logGroupName="/aws/sagemaker/TransformJobs",
                                                           logStreamName=data_log)["events"]]
    assert any("BatchStrategy=MultiRecord" in m for m in messages)
    assert sum("transformed into" in m for m in messages) == PARTS


def test_an_empty_prefix_or_a_missing_model_is_refused_or_fails_clearly(aws, model, unique):
    job = transform(aws, f"empty-{unique}", f"s3://{BUCKET}/transform/nothing-here/", f"empty-{unique}")
    assert job["TransformJobStatus"] == "Failed"
    assert "No S3 objects found under S3 URL" in job["FailureReason"]
    with pytest.raises(ClientError) as raised:
        transform(aws, f"no-model-{unique}", f"s3://{BUCKET}/transform/in/", "x", ModelName="no-such-model")
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Could not find model" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as raised:
        transform(aws, f"bad-filter-{unique}", f"s3://{BUCKET}/transform/in/", "x",
                  DataProcessing={"InputFilter": "$..features"})
    assert "DataProcessing.InputFilter" in raised.value.response["Error"]["Message"]


def test_stop_and_list_transform_jobs(aws, model, unique):
    sagemaker = aws("sagemaker")
    name = f"stop-me-{unique}"
    transform(aws, name, f"s3://{BUCKET}/transform/in/", f"stopped-{unique}", wait=False,
              BatchStrategy="SingleRecord")
    sagemaker.stop_transform_job(TransformJobName=name)
    deadline = time.monotonic() + 60
    while (status := sagemaker.describe_transform_job(TransformJobName=name)["TransformJobStatus"]) == "Stopping":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert status == "Stopped"
    listed = sagemaker.list_transform_jobs(NameContains=unique, StatusEquals="Stopped")["TransformJobSummaries"]
    assert [s["TransformJobName"] for s in listed] == [name]
    page = sagemaker.list_transform_jobs(MaxResults=1, SortBy="CreationTime", SortOrder="Descending")
    assert page["TransformJobSummaries"][0]["TransformJobName"] == name and page["NextToken"]


def test_the_sdk_v3_transformer_runs_a_batch_transform(cloud, aws, model, test_rows, monkeypatch, unique):
    for name, value in cloud.env.items():
        monkeypatch.setenv(name, value)
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.transformer import Transformer

    transformer = Transformer(model_name=MODEL, instance_count=1, instance_type="ml.m5.large",
                              strategy="MultiRecord", assemble_with="Line", accept="text/csv",
                              output_path=f"s3://{BUCKET}/sdk-{unique}", sagemaker_session=Session())
    transformer.transform(f"s3://{BUCKET}/transform/in/", content_type="text/csv", split_type="Line",
                          job_name=f"sdk-{unique}", wait=False)
    transformer.latest_transform_job.wait(poll=1, logs=True)
    assert transformer.latest_transform_job.refresh().transform_job_status == "Completed"
    first = np.array_split(test_rows, PARTS)[0]
    assert read(aws, f"sdk-{unique}/part-0.csv.out").splitlines() == invoke_lines(aws, first)
