"""Nothing outlives localcloud: its children end with it however it ends, the next start sweeps what
survived and clears its work folder, ``stop`` signals only the localcloud it started, concurrent
starts start one, and neither the server nor a function sees the host's AWS credentials."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest

from tests.localcloud.background import Background, children_running, descendants, localcloud, running, zombie
from tests.localcloud.conftest import wait_for, zip_sources
from tests.localcloud.sagemaker_support import (
    BUCKET,
    breast_cancer_split,
    deploy,
    to_csv,
    training_request,
    wait_for_job,
)

SLEEPER = """
import os
import time


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return os.getpid()
"""

CANARY = "LOCALCLOUDCANARY" + uuid.uuid4().hex.upper()[:12]

ENVIRONMENT_READER = """
import glob
import os


def handler(event, context):
    canary = event["canary"]
    seen = [name for name, value in os.environ.items() if canary in value]
    for path in glob.glob("/proc/[0-9]*/environ"):
        try:
            with open(path, "rb") as environ:
                if canary.encode() in environ.read():
                    seen.append(path)
        except OSError:
            pass
    return {"seen": seen, "parent_environ_readable": os.path.exists(f"/proc/{os.getppid()}/environ")}
"""


def make_function(cloud: Background, name: str, source: str, timeout: int = 120) -> str:
    iam = cloud.client("iam")
    try:
        role = iam.get_role(RoleName="lifetimes")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="lifetimes", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    cloud.client("lambda").create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                                           Code={"ZipFile": zip_sources({"app.py": source})}, Timeout=timeout)
    return name


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("localcloud-home")


def upload_training_data(s3) -> str:
    x_train, _, y_train, _ = breast_cancer_split()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="lifetimes/train/part.csv", Body=to_csv(x_train[:100], y_train[:100]))
    return f"s3://{BUCKET}/lifetimes/train/"


def test_a_sigkilled_localcloud_leaves_no_process_behind(home):
    cloud = Background(home).start()
    sagemaker, lam = cloud.client("sagemaker"), cloud.client("lambda")
    train_uri = upload_training_data(cloud.client("s3"))
    # An endpoint: its serving process.
    model = wait_for_job(sagemaker, _train(sagemaker, "lifetimes-model", train_uri, rounds=3))
    deploy(sagemaker, "lifetimes", model["ModelArtifacts"]["S3ModelArtifacts"])
    # A training job in its Training phase: its algorithm process, and the zygote it was forked from.
    _train(sagemaker, "lifetimes-long", train_uri, rounds=1_000_000)
    wait_for(lambda: sagemaker.describe_training_job(TrainingJobName="lifetimes-long")["SecondaryStatus"]
             == "Training", timeout=60)
    # Lambda: an idle warm worker and a busy one.
    make_function(cloud, "warm", SLEEPER)
    warm_pid = json.loads(lam.invoke(FunctionName="warm", Payload=b"{}")["Payload"].read())
    make_function(cloud, "busy", SLEEPER)
    lam.invoke(FunctionName="busy", InvocationType="Event", Payload=b'{"sleep": 100}')
    server = cloud.pid
    wait_for(lambda: len(children_running(server, "worker.py")) == 2, timeout=30)

    children = descendants(server)
    commands = " | ".join(p.command for p in children)
    # The training process is forked from the XGBoost zygote, so it shows the zygote's command line too.
    assert "xgboost serve" in commands and commands.count("localcloud.algorithms.zygote xgboost") == 2, commands
    assert warm_pid in {p.pid for p in children}

    subprocess.run(["kill", "-KILL", str(server)], check=True)

    def all_gone() -> bool:
        return not [p for p in children if running(p.pid)]

    wait_for(all_gone, timeout=10)


def _train(sagemaker, name: str, train_uri: str, rounds: int) -> str:
    sagemaker.create_training_job(**training_request(name, train_uri, hyperparameters={"num_round": rounds}))
    return name


def test_the_next_start_sweeps_what_survived_and_clears_the_work_folder(home):
    # What a localcloud killed before its watchdogs fired could leave: a recorded child still running
    # and files from its training jobs.
    survivor = subprocess.Popen(["sleep", "300"], start_new_session=True)
    records = home / "work" / ".children"
    records.mkdir(parents=True, exist_ok=True)
    (records / str(survivor.pid)).write_text(json.dumps({"command": "sleep 300"}))
    stale = home / "work" / "sagemaker" / "training" / "same-name" / "opt_ml" / "input" / "data" / "train"
    stale.mkdir(parents=True, exist_ok=True)
    (stale / "rows-from-last-session.csv").write_text("1,2,3\n")

    cloud = Background(home).start()
    try:
        survivor.wait(timeout=10)
        assert survivor.returncode == -signal.SIGKILL
        assert not (home / "work" / "sagemaker" / "training" / "same-name").exists()
    finally:
        cloud.stop()


def test_stop_with_a_stale_state_file_signals_nothing(tmp_path):
    bystander = subprocess.Popen(["sleep", "300"])
    other = Background(tmp_path / "other").start()  # another user's localcloud, answering at its own address
    try:
        home = tmp_path / "home"
        home.mkdir()
        env = dict(other.env, LOCALCLOUD_HOME=str(home))
        for endpoint_url in (f"http://127.0.0.1:{free_port()}", other.client_env["AWS_ENDPOINT_URL"]):
            # A crash or a reboot left this file; the pid now belongs to something else.
            (home / "state.json").write_text(json.dumps({"pid": bystander.pid, "instance": "an-old-instance",
                                                         "endpoint_url": endpoint_url}))
            stopped = localcloud("stop", env=env)
            assert stopped.returncode == 0, stopped.stderr
            assert "stale state file" in stopped.stdout
            assert not (home / "state.json").exists()
            time.sleep(0.5)
            assert bystander.poll() is None, "stop signalled a process it did not start"
        assert localcloud("status", env=other.env).returncode == 0, "stop signalled another localcloud"
    finally:
        bystander.kill()
        bystander.wait()
        other.stop()


def test_concurrent_starts_start_one_localcloud(tmp_path):
    cloud = Background(tmp_path / "home")
    results: list[subprocess.CompletedProcess] = []

    def start() -> None:
        results.append(localcloud("start", "--port", "0", env=cloud.env))

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
        assert sorted(r.stdout.split(" at ")[0] for r in results) == [
            "localcloud is already running", "localcloud is already running", "localcloud started"]
        assert len({re.search(r"\(pid (\d+)", r.stdout)[1] for r in results}) == 1
        assert localcloud("status", env=cloud.env).returncode == 0
    finally:
        cloud.stop()


def test_no_host_credential_is_visible_to_a_function(tmp_path):
    host = {"AWS_ACCESS_KEY_ID": f"AKIA{CANARY}", "AWS_SECRET_ACCESS_KEY": f"secret{CANARY}",
            "AWS_SESSION_TOKEN": f"token{CANARY}", "AWS_PROFILE": f"profile{CANARY}"}
    cloud = Background(tmp_path / "home", **host)
    cloud.start()
    try:
        lam = cloud.client("lambda")
        make_function(cloud, "reader", ENVIRONMENT_READER)
        response = lam.invoke(FunctionName="reader", Payload=json.dumps({"canary": CANARY}).encode())
        result = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, result
        assert result["seen"] == [], "the host's AWS credentials are readable by a function"
    finally:
        cloud.stop()


def test_a_killed_serving_process_is_replaced_and_a_crash_loop_fails_the_endpoint(cloud, aws, unique):
    sagemaker = aws("sagemaker")
    x_train, x_test, y_train, _ = breast_cancer_split()
    aws("s3").create_bucket(Bucket=BUCKET)
    aws("s3").put_object(Bucket=BUCKET, Key=f"replace-{unique}/train/part.csv", Body=to_csv(x_train, y_train))
    job = f"replace-{unique}"
    sagemaker.create_training_job(**training_request(job, f"s3://{BUCKET}/replace-{unique}/train/",
                                                     hyperparameters={"num_round": 3}))
    model = wait_for_job(sagemaker, job)["ModelArtifacts"]["S3ModelArtifacts"]
    before = children_running(os.getpid(), "xgboost serve")
    deploy(sagemaker, job, model)
    (serving,) = children_running(os.getpid(), "xgboost serve") - before
    row = to_csv(x_test[:1])

    def invoke() -> bytes | None:
        try:
            return aws("sagemaker-runtime").invoke_endpoint(EndpointName=job, Body=row, ContentType="text/csv")[
                "Body"].read()
        except Exception:
            return None

    expected = invoke()
    assert expected is not None
    os.kill(serving, signal.SIGKILL)
    assert wait_for(invoke, timeout=60) == expected
    assert sagemaker.describe_endpoint(EndpointName=job)["EndpointStatus"] == "InService"
    assert not zombie(serving) and not running(serving)
    (replacement,) = children_running(os.getpid(), "xgboost serve") - before
    assert replacement != serving

    # A process that keeps exiting is not replaced forever: the endpoint fails, with the reason.
    for _ in range(5):
        current = children_running(os.getpid(), "xgboost serve") - before
        if sagemaker.describe_endpoint(EndpointName=job)["EndpointStatus"] == "Failed":
            break
        for pid in current:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: invoke() is not None or
                 sagemaker.describe_endpoint(EndpointName=job)["EndpointStatus"] == "Failed", timeout=60)
    endpoint = sagemaker.describe_endpoint(EndpointName=job)
    assert endpoint["EndpointStatus"] == "Failed"
    assert "The serving process of production variant AllTraffic was killed by signal 9" in endpoint["FailureReason"]
    assert not children_running(os.getpid(), "xgboost serve") - before
    sagemaker.delete_endpoint(EndpointName=job)

