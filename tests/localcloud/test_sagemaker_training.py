"""Training jobs: request validation, the container's failure reasons, stopping, and the SDK v3."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.localcloud.background import descendants, running
from tests.localcloud.conftest import wait_for
from tests.localcloud.sagemaker_support import (
    BUCKET,
    ROLE,
    XGBOOST_IMAGE,
    breast_cancer_split,
    deploy,
    to_csv,
    training_request,
    wait_for_job,
)


@pytest.fixture(scope="module")
def train_uri(aws):
    x_train, _, y_train, _ = breast_cancer_split()
    s3 = aws("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="training/train/part-0.csv", Body=to_csv(x_train[:200], y_train[:200]))
    s3.put_object(Bucket=BUCKET, Key="training/train/part-1.csv", Body=to_csv(x_train[200:], y_train[200:]))
    return f"s3://{BUCKET}/training/train/"


def run(aws, request: dict) -> dict:
    aws("sagemaker").create_training_job(**request)
    return wait_for_job(aws("sagemaker"), request["TrainingJobName"])


def test_a_bad_hyperparameter_fails_the_job_with_the_containers_reason(aws, train_uri, unique):
    job = run(aws, training_request(f"bad-eta-{unique}", train_uri, hyperparameters={"num_round": 5, "eta": 2}))
    assert job["TrainingJobStatus"] == "Failed"
    assert job["SecondaryStatus"] == "Failed"
    assert job["FailureReason"] == "ClientError: Hyperparameter eta: value 2.0 not in range [0, 1]"


def test_a_missing_required_hyperparameter_fails_the_job(aws, train_uri, unique):
    job = run(aws, training_request(f"no-rounds-{unique}", train_uri, hyperparameters={"eta": 0.1}))
    assert job["FailureReason"] == "ClientError: Missing required hyperparameter: num_round"


def test_an_empty_channel_fails_clearly(aws, unique):
    job = run(aws, training_request(f"empty-{unique}", f"s3://{BUCKET}/nothing-here/",
                                    hyperparameters={"num_round": 5}))
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(
        f'ClientError: No S3 objects found under S3 URL "s3://{BUCKET}/nothing-here/" given in input data source.')


def test_several_files_in_a_channel_and_a_manifest_are_read(aws, train_uri, unique):
    job = run(aws, training_request(f"two-parts-{unique}", train_uri, hyperparameters={"num_round": 3}))
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    manifest = [{"prefix": train_uri}, "part-0.csv"]
    aws("s3").put_object(Bucket=BUCKET, Key="training/manifest.json", Body=json.dumps(manifest).encode())
    request = training_request(f"manifest-{unique}", train_uri, hyperparameters={"num_round": 3})
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"] = {
        "S3DataType": "ManifestFile", "S3Uri": f"s3://{BUCKET}/training/manifest.json"}
    job = run(aws, request)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    events = aws("logs").filter_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                           logStreamNamePrefix=f"manifest-{unique}/")["events"]
    assert any("Train matrix has 200 rows" in e["message"] for e in events)


def test_libsvm_training_data(aws, unique):
    x_train, _, y_train, _ = breast_cancer_split()
    lines = [f"{label:g} " + " ".join(f"{i}:{v:g}" for i, v in enumerate(row)) for row, label in zip(x_train, y_train, strict=True)]
    aws("s3").put_object(Bucket=BUCKET, Key="libsvm/train.libsvm", Body="\n".join(lines).encode())
    request = training_request(f"libsvm-{unique}", f"s3://{BUCKET}/libsvm/", hyperparameters={"num_round": 3})
    request["InputDataConfig"][0]["ContentType"] = "text/libsvm"
    job = run(aws, request)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")


@pytest.mark.parametrize("image", [
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
    "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.5-1",
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:0.90-2-cpu-py3",
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5",
])
def test_every_xgboost_image_uri_the_sdk_returns_is_accepted(aws, train_uri, unique, image):
    name = f"image-{unique}-{abs(hash(image)) % 10000}"
    aws("sagemaker").create_training_job(**training_request(name, train_uri, image=image,
                                                            hyperparameters={"num_round": 2}))
    assert aws("sagemaker").describe_training_job(TrainingJobName=name)["AlgorithmSpecification"]["TrainingImage"] == image


def test_an_image_localcloud_cannot_run_is_refused_with_what_it_can_run(aws, train_uri, unique):
    with pytest.raises(ClientError) as raised:
        aws("sagemaker").create_training_job(**training_request(
            f"custom-{unique}", train_uri, image="123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own-image:latest"))
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "my-own-image:latest cannot be run" in error["Message"]
    assert "sagemaker-xgboost" in error["Message"]


def test_requests_are_validated_against_the_service_model(aws, train_uri, unique):
    sagemaker = aws("sagemaker")
    with pytest.raises(ClientError) as raised:
        sagemaker.create_training_job(**training_request("not a valid name", train_uri))
    assert raised.value.response["Error"]["Message"] == (
        "1 validation error detected: Value 'not a valid name' at 'trainingJobName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
    request = training_request(f"bad-instance-{unique}", train_uri)
    request["ResourceConfig"]["InstanceType"] = "ml.banana.large"
    with pytest.raises(ClientError) as raised:
        sagemaker.create_training_job(**request)
    message = raised.value.response["Error"]["Message"]
    assert "at 'resourceConfig.instanceType' failed to satisfy constraint: Member must satisfy enum value set" in message


def test_training_job_names_are_unique(aws, train_uri, unique):
    request = training_request(f"twice-{unique}", train_uri, hyperparameters={"num_round": 2})
    aws("sagemaker").create_training_job(**request)
    with pytest.raises(ClientError) as raised:
        aws("sagemaker").create_training_job(**request)
    assert raised.value.response["Error"]["Code"] == "ResourceInUse"


def test_describing_an_unknown_job_is_resource_not_found(aws):
    with pytest.raises(ClientError) as raised:
        aws("sagemaker").describe_training_job(TrainingJobName="never-created")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"


def long_job(aws, name: str, train_uri: str, **overrides) -> None:
    aws("sagemaker").create_training_job(**training_request(
        name, train_uri, hyperparameters={"num_round": 1_000_000, "max_depth": 6}, **overrides))
    deadline = time.monotonic() + 60
    while aws("sagemaker").describe_training_job(TrainingJobName=name)["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_stop_training_job_stops_it(aws, train_uri, unique):
    name = f"stop-me-{unique}"
    long_job(aws, name, train_uri)
    aws("sagemaker").stop_training_job(TrainingJobName=name)
    assert aws("sagemaker").describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in ("Stopping", "Stopped")
    job = wait_for_job(aws("sagemaker"), name)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]][-2:] == ["Uploading", "Stopped"]


def test_max_runtime_stops_the_job(aws, train_uri, unique):
    name = f"too-long-{unique}"
    long_job(aws, name, train_uri, StoppingCondition={"MaxRuntimeInSeconds": 2})
    job = wait_for_job(aws("sagemaker"), name)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")


def test_a_missing_or_corrupt_artifact_fails_the_endpoint_with_a_reason(aws, unique):
    sagemaker = aws("sagemaker")
    deploy(sagemaker, f"missing-{unique}", f"s3://{BUCKET}/no/model.tar.gz", wait=False)
    aws("s3").put_object(Bucket=BUCKET, Key="corrupt/model.tar.gz", Body=b"this is not a tar.gz")
    deploy(sagemaker, f"corrupt-{unique}", f"s3://{BUCKET}/corrupt/model.tar.gz", wait=False)
    for name, reason in [(f"missing-{unique}", f"Could not find model data at s3://{BUCKET}/no/model.tar.gz."),
                         (f"corrupt-{unique}", "Failed to extract model data archive from URL")]:
        with pytest.raises(WaiterError):
            sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 0.5})
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
        assert endpoint["EndpointStatus"] == "Failed"
        assert reason in endpoint["FailureReason"]
        with pytest.raises(ClientError) as raised:
            aws("sagemaker-runtime").invoke_endpoint(EndpointName=name, Body=b"1", ContentType="text/csv")
        assert raised.value.response["Error"]["Code"] == "ValidationError"
        assert "is not in service" in raised.value.response["Error"]["Message"]


def test_the_sagemaker_sdk_v3_trains_deploys_and_invokes(cloud, aws, train_uri, monkeypatch):
    for name, value in cloud.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")
    from sagemaker.core import image_uris
    from sagemaker.core.resources import Endpoint, EndpointConfig, Model, TrainingJob
    from sagemaker.core.shapes import ContainerDefinition, ProductionVariant
    from sagemaker.core.training.configs import Compute, InputData
    from sagemaker.train import ModelTrainer

    image = image_uris.retrieve("xgboost", region="us-east-1", version="1.7-1")
    assert image == XGBOOST_IMAGE
    trainer = ModelTrainer(training_image=image, role=ROLE, base_job_name="sdk-xgb",
                           hyperparameters={"num_round": "10", "objective": "binary:logistic"},
                           compute=Compute(instance_type="ml.m5.large", instance_count=1))
    trainer.train(input_data_config=[InputData(channel_name="train", data_source=train_uri, content_type="text/csv")],
                  wait=False)
    job_name = aws("sagemaker").list_training_jobs(NameContains="sdk-xgb")["TrainingJobSummaries"][0]["TrainingJobName"]
    job = TrainingJob.get(job_name)
    job.wait(poll=1, logs=True)
    assert job.training_job_status == "Completed"

    Model.create(model_name="sdk-model", execution_role_arn=ROLE, primary_container=ContainerDefinition(
        image=image, model_data_url=job.model_artifacts.s3_model_artifacts))
    EndpointConfig.create(endpoint_config_name="sdk-config", production_variants=[ProductionVariant(
        variant_name="AllTraffic", model_name="sdk-model", initial_instance_count=1, instance_type="ml.m5.large")])
    endpoint = Endpoint.create(endpoint_name="sdk-endpoint", endpoint_config_name="sdk-config")
    endpoint.wait_for_status("InService", poll=1)
    _, x_test, _, _ = breast_cancer_split()
    response = endpoint.invoke(body=to_csv(x_test[:2]), content_type="text/csv", accept="application/json")
    scores = [p["score"] for p in json.loads(response.body.read())["predictions"]]
    assert len(scores) == 2 and all(0 <= s <= 1 for s in scores)
    endpoint.delete()
    endpoint.wait_for_delete(poll=1)


def test_the_low_level_flow_uses_botos_waiters(aws, train_uri, unique):
    sagemaker = aws("sagemaker")
    name = f"waiters-{unique}"
    sagemaker.create_training_job(**training_request(name, train_uri, hyperparameters={"num_round": 3}))
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name, WaiterConfig={"Delay": 1})
    artifact = sagemaker.describe_training_job(TrainingJobName=name)["ModelArtifacts"]["S3ModelArtifacts"]
    deploy(sagemaker, name, artifact)
    sagemaker.delete_endpoint(EndpointName=name)
    sagemaker.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig={"Delay": 1})
    assert name not in [e["EndpointName"] for e in sagemaker.list_endpoints(NameContains=name)["Endpoints"]]


def test_a_job_stopped_as_soon_as_it_is_created_never_trains_to_the_end(aws, train_uri, unique):
    name = f"stop-at-once-{unique}"
    aws("sagemaker").create_training_job(**training_request(
        name, train_uri, hyperparameters={"num_round": 1_000_000, "max_depth": 6}))
    aws("sagemaker").stop_training_job(TrainingJobName=name)
    job = wait_for_job(aws("sagemaker"), name)
    assert job["TrainingJobStatus"] == "Stopped"


def xgboost_zygotes() -> list:
    """The XGBoost zygotes of the localcloud running in this test process."""
    return [p for p in descendants(os.getpid())
            if p.ppid == os.getpid() and "localcloud.algorithms.zygote xgboost" in p.command]


def training_process(zygote_pid: int):
    """The training job process the zygote forked (the one job training in these tests)."""
    found = wait_for(lambda: [p for p in descendants(os.getpid()) if p.ppid == zygote_pid], timeout=30)
    assert len(found) == 1, found
    return found[0]


def test_a_training_job_runs_in_a_session_of_its_own_and_a_dead_zygote_is_replaced(aws, train_uri, unique):
    """AWS runs each training job in a container of its own, which StopTrainingJob ends with SIGTERM
    ("How Amazon SageMaker Runs Your Training Image", docs.aws.amazon.com/sagemaker/latest/dg/
    your-algorithms-training-algo-dockerfile.html): here a process forked from the algorithm's
    zygote, leading its own session, and a zygote that died does not stop the next job from training."""
    name = f"forked-{unique}"
    long_job(aws, name, train_uri)
    [zygote] = xgboost_zygotes()
    child = training_process(zygote.pid)
    assert os.getsid(child.pid) == child.pid != os.getsid(zygote.pid)
    aws("sagemaker").stop_training_job(TrainingJobName=name)
    assert wait_for_job(aws("sagemaker"), name)["TrainingJobStatus"] == "Stopped"
    assert not running(child.pid)

    os.kill(zygote.pid, signal.SIGKILL)
    wait_for(lambda: not running(zygote.pid))
    job = run(aws, training_request(f"after-zygote-{unique}", train_uri, hyperparameters={"num_round": 3}))
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert [p.pid for p in xgboost_zygotes()] != [zygote.pid]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads other processes' environment in /proc")
def test_a_jobs_environment_reaches_its_process_and_the_hosts_credentials_do_not(aws, train_uri, unique,
                                                                                  monkeypatch):
    """A training job's ``Environment`` is set in its container (CreateTrainingJob API reference,
    ``Environment``); the container has no credentials but its role's, none of the host's.  A job whose
    environment differs from the zygote's gets a zygote of its own, and the previous one exits."""
    canary = f"host-secret-{unique}"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", canary)
    run(aws, training_request(f"plain-env-{unique}", train_uri, hyperparameters={"num_round": 2}))
    [previous] = xgboost_zygotes()

    name = f"own-env-{unique}"
    long_job(aws, name, train_uri, Environment={"WORKSHOP_MARK": unique})
    try:
        [zygote] = wait_for(lambda: [p for p in xgboost_zygotes() if p.pid != previous.pid], timeout=30)
        child = training_process(zygote.pid)
        for pid in (zygote.pid, child.pid):
            environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert f"WORKSHOP_MARK={unique}".encode() in environment
            assert not [v for v in environment if canary.encode() in v or v.startswith(b"AWS_")]
        wait_for(lambda: not running(previous.pid))
    finally:
        aws("sagemaker").stop_training_job(TrainingJobName=name)
        wait_for_job(aws("sagemaker"), name)


@pytest.mark.skipif((os.cpu_count() or 1) < 2 or not Path("/proc/self/task").exists(),
                    reason="needs OpenBLAS to start a thread when imported, and /proc to count threads")
def test_a_job_whose_libraries_start_threads_on_import_is_spawned_not_forked(aws, train_uri, unique):
    """The same training job contract (CreateTrainingJob, its Environment) when forking would be unsafe:
    with ``OPENBLAS_NUM_THREADS`` above 1 numpy starts BLAS threads as it is imported, a zygote with a
    second thread refuses to fork, and the job's process is spawned as a container of its own."""
    run(aws, training_request(f"forked-{unique}", train_uri, hyperparameters={"num_round": 2}))
    before = xgboost_zygotes()
    name = f"spawned-{unique}"
    long_job(aws, name, train_uri, Environment={"OPENBLAS_NUM_THREADS": "2"})
    try:
        trainer = wait_for(lambda: [p for p in descendants(os.getpid())
                                    if "localcloud.algorithms.xgboost train" in p.command], timeout=30)
        assert len(trainer) == 1 and trainer[0].ppid == os.getpid()
    finally:
        aws("sagemaker").stop_training_job(TrainingJobName=name)
    assert wait_for_job(aws("sagemaker"), name)["TrainingJobStatus"] == "Stopped"
    job = run(aws, training_request(f"forked-again-{unique}", train_uri, hyperparameters={"num_round": 2}))
    assert job["TrainingJobStatus"] == "Completed"
    after = {p.pid for p in xgboost_zygotes()}
    assert after and after <= {p.pid for p in before}  # no new zygote: the other jobs' one was kept
