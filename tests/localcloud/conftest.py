"""Helpers and fixtures of the localcloud tests; they reach localcloud only through clients and HTTP.
The session's localcloud itself (``cloud``, ``aws``) is in ``tests/conftest.py``."""

from __future__ import annotations

import io
import subprocess
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from workshop.target import ROOT

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
FUNCTIONS = HERE / "functions"


@pytest.fixture
def unique():
    """A short unique suffix for resource names (moto's state lives for the whole session)."""
    return uuid.uuid4().hex[:8]


def zip_sources(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in files.items():
            archive.writestr(name, source)
    return buffer.getvalue()


def wait_for(condition, timeout: float = 15.0, interval: float = 0.1):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def failure_reasons(cloudformation, stack_name: str) -> list[str]:
    events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
    return [
        f"{e['LogicalResourceId']} {e['ResourceStatus']}: {e['ResourceStatusReason']}"
        for e in events
        if e.get("ResourceStatusReason") and "FAILED" in e["ResourceStatus"]
    ]


def settled(cloudformation, stack_name: str, timeout: float = 60.0) -> dict:
    """The stack once it no longer works (CloudFormation works in the background), whatever its outcome."""
    return wait_for(lambda: next((stack for stack in cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
                                  if not stack["StackStatus"].endswith("_IN_PROGRESS")), None), timeout=timeout)


def wait_for_stack(cloudformation, stack_name: str, waiter: str = "stack_create_complete") -> dict:
    """Wait for the stack and return its outputs; on failure, fail with the resources' reasons."""
    try:
        cloudformation.get_waiter(waiter).wait(StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    except Exception as exc:
        raise AssertionError(f"{stack_name}: {exc}; {failure_reasons(cloudformation, stack_name)}") from exc
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


@pytest.fixture(scope="session")
def lambda_role(aws):
    return aws("iam").create_role(
        RoleName="localcloud-test-lambda",
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
    )["Role"]["Arn"]


@pytest.fixture
def make_function(aws, lambda_role, unique):
    """Create a Python function from ``{filename: source}`` and return its name."""

    def make(files: dict[str, str], handler: str = "app.handler", **config) -> str:
        name = config.pop("FunctionName", f"fn-{unique}-{uuid.uuid4().hex[:4]}")
        aws("lambda").create_function(
            FunctionName=name,
            Runtime=config.pop("Runtime", "python3.12"),
            Role=lambda_role,
            Handler=handler,
            Code={"ZipFile": zip_sources(files)},
            **config,
        )
        return name

    return make


def run(command: list[str], env: dict) -> subprocess.CompletedProcess:
    """Run a command (awscli, the workshop's own CLIs) as a user would, from the repository root; it must succeed."""
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result
