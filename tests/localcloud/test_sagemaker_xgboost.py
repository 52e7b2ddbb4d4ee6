"""XGBoost on localcloud's SageMaker: a training job that trains, an endpoint that serves, the SDK v3
and CloudFormation on the same state — judged against the xgboost library on the same data."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
import threading

import pytest
import xgboost as xgb
from botocore.exceptions import ClientError
from sklearn.metrics import roc_auc_score

from tests.localcloud.conftest import settled, wait_for_stack
from tests.localcloud.sagemaker_support import (
    BUCKET,
    ROLE,
    ROUNDS,
    XGBOOST_IMAGE,
    XGBOOST_PARAMS,
    breast_cancer_split,
    deploy,
    to_csv,
    training_request,
    wait_for_job,
)


@pytest.fixture(scope="module", autouse=True)
def bucket(aws):
    aws("s3").create_bucket(Bucket=BUCKET)


@pytest.fixture(scope="module")
def data():
    return breast_cancer_split()


@pytest.fixture(scope="module")
def trained(aws, data):
    """One training job on the breast-cancer split, shared by the tests of this module."""
    x_train, x_test, y_train, y_test = data
    s3 = aws("s3")
    s3.put_object(Bucket=BUCKET, Key="xgb/train/train.csv", Body=to_csv(x_train, y_train))
    s3.put_object(Bucket=BUCKET, Key="xgb/validation/validation.csv", Body=to_csv(x_test, y_test))
    request = training_request("xgb-breast-cancer", f"s3://{BUCKET}/xgb/train/", f"s3://{BUCKET}/xgb/validation/",
                               {**XGBOOST_PARAMS, "num_round": ROUNDS})
    aws("sagemaker").create_training_job(**request)
    return wait_for_job(aws("sagemaker"), "xgb-breast-cancer")


@pytest.fixture(scope="module")
def reference_auc(data):
    x_train, x_test, y_train, y_test = data
    booster = xgb.train(XGBOOST_PARAMS, xgb.DMatrix(x_train, label=y_train), num_boost_round=ROUNDS)
    return roc_auc_score(y_test, booster.predict(xgb.DMatrix(x_test)))


@pytest.fixture(scope="module")
def endpoint(aws, trained):
    deploy(aws("sagemaker"), "xgb-endpoint", trained["ModelArtifacts"]["S3ModelArtifacts"])
    yield "xgb-endpoint"
    aws("sagemaker").delete_endpoint(EndpointName="xgb-endpoint")


def invoke(aws, endpoint_name: str, body: bytes, **kwargs) -> dict:
    response = aws("sagemaker-runtime").invoke_endpoint(EndpointName=endpoint_name, Body=body, **kwargs)
    response["Body"] = response["Body"].read()
    return response


def test_the_training_job_goes_through_the_services_statuses(trained):
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")
    assert trained["SecondaryStatus"] == "Completed"
    assert [t["Status"] for t in trained["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert trained["TrainingTimeInSeconds"] >= 1
    assert trained["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/output/xgb-breast-cancer/output/model.tar.gz"


def test_metrics_come_from_the_log_with_the_services_definitions(aws, trained):
    metrics = {m["MetricName"]: m["Value"] for m in trained["FinalMetricDataList"]}
    assert set(metrics) == {"train:auc", "validation:auc"}
    assert 0.95 < metrics["validation:auc"] <= 1.0
    logs = aws("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                        logStreamNamePrefix="xgb-breast-cancer/")["logStreams"]
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith("xgb-breast-cancer/algo-1-")
    messages = [e["message"] for e in logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                                          logStreamName=streams[0]["logStreamName"])["events"]]
    last_round = f"[{ROUNDS - 1}]#011train-auc:"
    assert any(m.startswith(last_round) and "#011validation-auc:" in m for m in messages)


def test_the_artifact_is_a_model_tar_gz_with_xgboost_model(aws, trained):
    body = aws("s3").get_object(Bucket=BUCKET, Key="output/xgb-breast-cancer/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        assert archive.getnames() == ["xgboost-model"]
        booster = xgb.Booster(model_file=bytearray(archive.extractfile("xgboost-model").read()))
    assert booster.num_features() == 30


def test_endpoint_auc_matches_the_library_within_0_005(aws, data, endpoint, reference_auc):
    _, x_test, _, y_test = data
    response = invoke(aws, endpoint, to_csv(x_test), ContentType="text/csv")
    assert response["ContentType"] == "text/csv"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    scores = [float(line) for line in response["Body"].decode().splitlines()]
    assert len(scores) == len(y_test)
    assert abs(roc_auc_score(y_test, scores) - reference_auc) <= 0.005


def test_json_accept_answers_predictions_with_scores(aws, data, endpoint):
    _, x_test, _, _ = data
    response = invoke(aws, endpoint, to_csv(x_test[:3]), ContentType="text/csv", Accept="application/json")
    assert response["ContentType"] == "application/json"
    predictions = json.loads(response["Body"])["predictions"]
    assert len(predictions) == 3 and all(0.0 <= p["score"] <= 1.0 for p in predictions)
    lines = invoke(aws, endpoint, to_csv(x_test[:2]), ContentType="text/csv", Accept="application/jsonlines")["Body"]
    assert [set(json.loads(line)) for line in lines.decode().splitlines()] == [{"score"}, {"score"}]


def test_libsvm_requests_are_served(aws, data, endpoint):
    _, x_test, _, _ = data
    row = " ".join(f"{index}:{value}" for index, value in enumerate(x_test[0]))
    csv_score = float(invoke(aws, endpoint, to_csv(x_test[:1]), ContentType="text/csv")["Body"])
    libsvm_score = float(invoke(aws, endpoint, row.encode(), ContentType="text/libsvm")["Body"])
    assert libsvm_score == pytest.approx(csv_score, rel=1e-6)


def test_container_errors_become_model_errors_with_the_original_status(aws, endpoint):
    cases = [
        (b"1,2,3", {"ContentType": "text/csv"}, 400, "Unable to evaluate payload provided"),
        (b"1,2,3", {"ContentType": "application/x-unknown"}, 415, "Content-type application/x-unknown is not supported"),
        (b"1," * 29 + b"1", {"ContentType": "text/csv", "Accept": "image/png"}, 406, "Accept type image/png is not supported"),
    ]
    for body, headers, status, text in cases:
        with pytest.raises(ClientError) as raised:
            invoke(aws, endpoint, body, **headers)
        error = raised.value.response
        assert error["Error"]["Code"] == "ModelError"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
        assert error["OriginalStatusCode"] == status
        assert text in error["OriginalMessage"]
        assert f"Received client error ({status}) from primary" in error["Error"]["Message"]
        assert error["LogStreamArn"].startswith(
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/xgb-endpoint")


def test_an_unknown_endpoint_is_a_validation_error(aws):
    with pytest.raises(ClientError) as raised:
        invoke(aws, "no-such-endpoint", b"1", ContentType="text/csv")
    error = raised.value.response
    assert error["Error"]["Code"] == "ValidationError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"] == "Endpoint no-such-endpoint of account 123456789012 not found."


def test_a_body_over_6_mib_is_a_validation_error(aws, endpoint):
    with pytest.raises(ClientError) as raised:
        invoke(aws, endpoint, b"1," * (3 * 1024 * 1024 + 1), ContentType="text/csv")
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert "6 MB" in raised.value.response["Error"]["Message"]


def test_endpoint_logs_go_to_cloudwatch(aws, endpoint):
    streams = aws("logs").describe_log_streams(logGroupName=f"/aws/sagemaker/Endpoints/{endpoint}")["logStreams"]
    assert streams and all(s["logStreamName"].startswith("AllTraffic/i-") for s in streams)


def test_selectable_inference_output(aws, data, trained):
    deploy(aws("sagemaker"), "xgb-selectable", trained["ModelArtifacts"]["S3ModelArtifacts"],
           environment={"SAGEMAKER_INFERENCE_OUTPUT": "predicted_label,probabilities"})
    try:
        _, x_test, _, _ = data
        body = invoke(aws, "xgb-selectable", to_csv(x_test[:2]), ContentType="text/csv",
                      Accept="application/json")["Body"]
        predictions = json.loads(body)["predictions"]
        for prediction in predictions:
            assert set(prediction) == {"predicted_label", "probabilities"}
            assert prediction["predicted_label"] == int(prediction["probabilities"][1] > 0.5)
            assert sum(prediction["probabilities"]) == pytest.approx(1.0)
    finally:
        aws("sagemaker").delete_endpoint(EndpointName="xgb-selectable")


def test_two_variants_share_traffic_and_target_variant_is_honoured(aws, data, trained):
    deploy(aws("sagemaker"), "xgb-two-variants", trained["ModelArtifacts"]["S3ModelArtifacts"],
           variants=[("Blue", 1.0), ("Green", 1.0)])
    try:
        _, x_test, _, _ = data
        body = to_csv(x_test[:1])
        seen = {invoke(aws, "xgb-two-variants", body, ContentType="text/csv")["InvokedProductionVariant"]
                for _ in range(40)}
        assert seen == {"Blue", "Green"}
        targeted = {invoke(aws, "xgb-two-variants", body, ContentType="text/csv",
                           TargetVariant="Green")["InvokedProductionVariant"] for _ in range(10)}
        assert targeted == {"Green"}
        described = aws("sagemaker").describe_endpoint(EndpointName="xgb-two-variants")
        assert [v["VariantName"] for v in described["ProductionVariants"]] == ["Blue", "Green"]
    finally:
        aws("sagemaker").delete_endpoint(EndpointName="xgb-two-variants")


def test_update_endpoint_switches_config_without_failing_requests(aws, data, trained):
    sagemaker = aws("sagemaker")
    deploy(sagemaker, "xgb-update", trained["ModelArtifacts"]["S3ModelArtifacts"], variants=[("First", 1.0)])
    sagemaker.create_endpoint_config(EndpointConfigName="xgb-update-second", ProductionVariants=[
        {"VariantName": "Second", "ModelName": "xgb-update", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}])
    _, x_test, _, _ = data
    body, failures, variants, stop = to_csv(x_test[:5]), [], [], threading.Event()

    def keep_invoking():
        while not stop.is_set():
            try:
                variants.append(invoke(aws, "xgb-update", body, ContentType="text/csv")["InvokedProductionVariant"])
            except ClientError as error:
                failures.append(error)

    worker = threading.Thread(target=keep_invoking)
    worker.start()
    try:
        sagemaker.update_endpoint(EndpointName="xgb-update", EndpointConfigName="xgb-update-second")
        assert sagemaker.describe_endpoint(EndpointName="xgb-update")["EndpointStatus"] == "Updating"
        sagemaker.get_waiter("endpoint_in_service").wait(EndpointName="xgb-update", WaiterConfig={"Delay": 0.5})
        before = len(variants)
        while len(variants) < before + 5:
            pass
    finally:
        stop.set()
        worker.join()
        sagemaker.delete_endpoint(EndpointName="xgb-update")
    assert failures == []
    assert variants[0] == "First" and variants[-1] == "Second"
    assert sagemaker.describe_endpoint_config(EndpointConfigName="xgb-update-second")["ProductionVariants"]


def serving_processes() -> dict[int, int]:
    """pid -> port of the algorithm serving processes on this machine."""
    import os

    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"localcloud.algorithms.xgboost\x00serve" not in handle.read():
                    continue
            with open(f"/proc/{pid}/environ", "rb") as handle:
                env = dict(item.split(b"=", 1) for item in handle.read().split(b"\x00") if b"=" in item)
            found[int(pid)] = int(env[b"SAGEMAKER_BIND_TO_PORT"])
        except OSError:
            continue
    return found


def test_deleting_an_endpoint_stops_its_process_and_frees_its_port(aws, trained):
    import socket

    before = serving_processes()
    deploy(aws("sagemaker"), "xgb-delete-me", trained["ModelArtifacts"]["S3ModelArtifacts"])
    started = {pid: port for pid, port in serving_processes().items() if pid not in before}
    assert len(started) == 1
    (pid, port), = started.items()
    aws("sagemaker").delete_endpoint(EndpointName="xgb-delete-me")
    assert pid not in serving_processes()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(ClientError) as raised:
        aws("sagemaker").describe_endpoint(EndpointName="xgb-delete-me")
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_a_pickled_booster_artifact_from_older_container_versions_is_served(aws, data):
    x_train, x_test, y_train, _ = data
    booster = xgb.train(XGBOOST_PARAMS, xgb.DMatrix(x_train, label=y_train), num_boost_round=5)
    for key, payload in [("pickled", pickle.dumps(booster)), ("json", bytes(booster.save_raw("json")))]:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            info = tarfile.TarInfo("xgboost-model")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
        aws("s3").put_object(Bucket=BUCKET, Key=f"artifacts/{key}/model.tar.gz", Body=buffer.getvalue())
        deploy(aws("sagemaker"), f"xgb-{key}", f"s3://{BUCKET}/artifacts/{key}/model.tar.gz")
        try:
            score = float(invoke(aws, f"xgb-{key}", to_csv(x_test[:1]), ContentType="text/csv")["Body"])
            assert score == pytest.approx(float(booster.predict(xgb.DMatrix(x_test[:1]))[0]), rel=1e-6)
        finally:
            aws("sagemaker").delete_endpoint(EndpointName=f"xgb-{key}")


def test_the_hosting_half_through_cloudformation(aws, data, trained):
    template = f"""
Resources:
  Model:
    Type: AWS::SageMaker::Model
    Properties:
      ExecutionRoleArn: {ROLE}
      PrimaryContainer:
        Image: {XGBOOST_IMAGE}
        ModelDataUrl: {trained["ModelArtifacts"]["S3ModelArtifacts"]}
  Config:
    Type: AWS::SageMaker::EndpointConfig
    Properties:
      ProductionVariants:
        - VariantName: AllTraffic
          ModelName: !GetAtt Model.ModelName
          InitialInstanceCount: 1
          InstanceType: ml.m5.large
          InitialVariantWeight: 1
  Endpoint:
    Type: AWS::SageMaker::Endpoint
    Properties:
      EndpointName: xgb-from-cloudformation
      EndpointConfigName: !GetAtt Config.EndpointConfigName
Outputs:
  EndpointArn:
    Value: !Ref Endpoint
  EndpointName:
    Value: !GetAtt Endpoint.EndpointName
"""
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(StackName="xgb-hosting", TemplateBody=template)
    outputs = wait_for_stack(cloudformation, "xgb-hosting")
    assert outputs["EndpointName"] == "xgb-from-cloudformation"
    assert outputs["EndpointArn"] == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/xgb-from-cloudformation"
    assert aws("sagemaker").describe_endpoint(EndpointName="xgb-from-cloudformation")["EndpointStatus"] == "InService"
    _, x_test, _, _ = data
    scores = invoke(aws, "xgb-from-cloudformation", to_csv(x_test[:4]), ContentType="text/csv")["Body"]
    assert len(scores.decode().splitlines()) == 4

    cloudformation.delete_stack(StackName="xgb-hosting")
    cloudformation.get_waiter("stack_delete_complete").wait(StackName="xgb-hosting", WaiterConfig={"Delay": 1})
    with pytest.raises(ClientError):
        aws("sagemaker").describe_endpoint(EndpointName="xgb-from-cloudformation")
    assert not aws("sagemaker").list_models(NameContains="xgb-hosting")["Models"]


def test_a_stack_whose_endpoint_fails_rolls_back_with_the_reason(aws):
    template = f"""
Resources:
  Model:
    Type: AWS::SageMaker::Model
    Properties:
      ExecutionRoleArn: {ROLE}
      PrimaryContainer:
        Image: {XGBOOST_IMAGE}
        ModelDataUrl: s3://{BUCKET}/does/not/exist/model.tar.gz
  Config:
    Type: AWS::SageMaker::EndpointConfig
    Properties:
      ProductionVariants:
        - VariantName: AllTraffic
          ModelName: !GetAtt Model.ModelName
          InitialInstanceCount: 1
          InstanceType: ml.m5.large
  Endpoint:
    Type: AWS::SageMaker::Endpoint
    Properties:
      EndpointConfigName: !GetAtt Config.EndpointConfigName
"""
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(StackName="xgb-broken-hosting", TemplateBody=template)
    stack = settled(cloudformation, "xgb-broken-hosting")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cloudformation.describe_stack_events(StackName="xgb-broken-hosting")["StackEvents"]
    reason = next(e["ResourceStatusReason"] for e in events if e["ResourceStatus"] == "CREATE_FAILED")
    assert "Could not find model data at s3://" in reason
