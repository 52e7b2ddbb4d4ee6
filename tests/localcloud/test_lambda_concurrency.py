"""Lambda concurrency as AWS applies it: reserved concurrency, the account limit, throttling answered with
TooManyRequestsException, throttled asynchronous events retried, idle workers reaped, workers ended on
DeleteFunction."""

from __future__ import annotations

import json
import os
import threading

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.localcloud.background import Background, running
from tests.localcloud.conftest import wait_for, zip_sources

# Holds its execution environment until the test creates the release file.
HOLDER = """
import os
import time


def handler(event, context):
    if "started" in event:
        open(event["started"], "w").close()
    deadline = time.time() + 30
    while "release" in event and not os.path.exists(event["release"]) and time.time() < deadline:
        time.sleep(0.05)
    if "done" in event:
        open(event["done"], "w").close()
    return os.getpid()
"""


@pytest.fixture
def lam(cloud):
    """A Lambda client that does not retry throttled calls, so that the test sees the 429."""
    session = boto3.session.Session(aws_access_key_id=cloud.credentials.access_key_id,
                                    aws_secret_access_key=cloud.credentials.secret_access_key, region_name="us-east-1")
    return session.client("lambda", endpoint_url=cloud.endpoint_url, config=Config(retries={"total_max_attempts": 1}))


def hold(lam, name: str, tmp_path, tag: str) -> tuple[threading.Thread, os.PathLike]:
    """Start an invocation that runs until ``release`` exists; return once it runs."""
    started, release = tmp_path / f"{tag}.started", tmp_path / "release"
    thread = threading.Thread(target=lam.invoke, kwargs={
        "FunctionName": name, "Payload": json.dumps({"started": str(started), "release": str(release)}).encode()})
    thread.start()
    wait_for(started.exists, timeout=30)
    return thread, release


def throttle_reason(call) -> tuple[int, str, str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response.get("Reason"),
            response["Error"]["Message"])


def test_zero_reserved_concurrency_throttles_every_invocation(lam, make_function):
    name = make_function({"app.py": HOLDER})
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)

    assert throttle_reason(lambda: lam.invoke(FunctionName=name, Payload=b"{}")) == (
        429, "TooManyRequestsException", "ReservedFunctionConcurrentInvocationLimitExceeded", "Rate Exceeded.")

    lam.delete_function_concurrency(FunctionName=name)
    assert json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())


def test_reserved_concurrency_caps_executions_and_throttled_events_are_retried(lam, make_function, tmp_path):
    name = make_function({"app.py": HOLDER})
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    running_call, release = hold(lam, name, tmp_path, "first")

    assert throttle_reason(lambda: lam.invoke(FunctionName=name, Payload=b"{}"))[:3] == (
        429, "TooManyRequestsException", "ReservedFunctionConcurrentInvocationLimitExceeded")
    done = tmp_path / "event.done"
    queued = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"done": str(done)}).encode())
    assert queued["StatusCode"] == 202, "an event is queued, not refused, when the function is throttled"

    release.touch()
    running_call.join()
    wait_for(done.exists, timeout=30)


def test_deleting_a_function_ends_its_workers(lam, make_function):
    name = make_function({"app.py": HOLDER})
    pid = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert running(pid)
    lam.delete_function(FunctionName=name)
    wait_for(lambda: not running(pid), timeout=10)


@pytest.fixture(scope="module")
def small_account(tmp_path_factory):
    """A localcloud whose account runs at most 2 executions and reclaims a worker idle for 1 s."""
    cloud = Background(tmp_path_factory.mktemp("small-account"), LOCALCLOUD_LAMBDA_CONCURRENCY="2",
                       LOCALCLOUD_LAMBDA_IDLE_SECONDS="1").start()
    iam = cloud.client("iam")
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    for name in ("one", "two", "three"):
        cloud.client("lambda").create_function(FunctionName=name, Runtime="python3.12", Role=role,
                                               Handler="app.handler", Code={"ZipFile": zip_sources({"app.py": HOLDER})})
    yield cloud
    cloud.stop()


def test_the_account_limit_throttles_unreserved_functions(small_account, tmp_path):
    lam = small_account.client("lambda", retries=1)
    first, release = hold(lam, "one", tmp_path, "one")
    second, _ = hold(lam, "two", tmp_path, "two")

    assert throttle_reason(lambda: lam.invoke(FunctionName="three", Payload=b"{}"))[:3] == (
        429, "TooManyRequestsException", "ConcurrentInvocationLimitExceeded")

    release.touch()
    first.join()
    second.join()
    assert json.loads(lam.invoke(FunctionName="three", Payload=b"{}")["Payload"].read())


def test_idle_workers_are_reaped(small_account):
    lam = small_account.client("lambda")
    pid = json.loads(lam.invoke(FunctionName="one", Payload=b"{}")["Payload"].read())
    wait_for(lambda: not running(pid), timeout=15)
    assert json.loads(lam.invoke(FunctionName="one", Payload=b"{}")["Payload"].read()) != pid, "a cold start follows"
