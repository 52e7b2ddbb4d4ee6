"""Lambda's MemorySize: the execution environment is killed when it exceeds it, and REPORT shows what it used."""

from __future__ import annotations

import base64
import json
import re

ALLOCATOR = """
import os

HELD = []


def handler(event, context):
    # Touch every page: bytes(n) alone maps zeroed pages that are never resident.
    HELD.append(b"x" * (event.get("mib", 0) * 1024 * 1024))
    return {"pid": os.getpid()}
"""


def invoke(aws, name: str, event: dict) -> tuple[dict, dict, str]:
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    return json.loads(response["Payload"].read()), response, base64.b64decode(response["LogResult"]).decode()


def report_of(log: str) -> str:
    return next(line for line in log.splitlines() if line.startswith("REPORT RequestId:"))


def max_memory_used(report: str) -> int:
    return int(re.search(r"Max Memory Used: (\d+) MB", report)[1])


def test_a_function_above_its_memory_is_killed_and_its_environment_replaced(aws, make_function):
    """AWS kills a function whose execution environment exceeds its configured memory: Invoke answers
    200 with ``X-Amz-Function-Error: Unhandled`` and ``Runtime.OutOfMemory`` / "Runtime exited with
    error: signal: killed", the REPORT line shows Max Memory Used at the Memory Size with
    ``Status: error``, and the next invocation starts a new environment (Lambda developer guide,
    "Troubleshoot invocation issues in Lambda" and "Understanding the Lambda execution environment
    lifecycle"; the REPORT fields under "Lambda function logging")."""
    name = make_function({"app.py": ALLOCATOR}, MemorySize=128, Timeout=30)
    warm, _, _ = invoke(aws, name, {})

    error, response, log = invoke(aws, name, {"mib": 400})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.OutOfMemory"
    assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: Runtime exited with error: signal: killed",
                        error["errorMessage"]), error
    assert "Error: Runtime exited with error: signal: killed\nRuntime.OutOfMemory\nEND RequestId:" in log
    report = report_of(log)
    assert "Memory Size: 128 MB\tMax Memory Used: 128 MB" in report
    assert report.endswith("Status: error\tError Type: Runtime.OutOfMemory")

    after, _, log = invoke(aws, name, {})
    assert after["pid"] != warm["pid"], "the killed environment must not serve again"
    assert "Init Duration:" in report_of(log), "the next invocation is a cold start"


def test_max_memory_used_is_the_environments_real_peak(aws, make_function):
    """REPORT's Max Memory Used is the peak memory of the execution environment, runtime included, and
    it is a high-water mark of the environment: a later, lighter invocation of the same environment
    still reports the earlier peak (Lambda developer guide, "Lambda function logging": REPORT's
    ``Max Memory Used``; "Monitoring functions": the memory used by the execution environment)."""
    name = make_function({"app.py": ALLOCATOR}, MemorySize=512, Timeout=30)
    _, _, log = invoke(aws, name, {})
    bare = max_memory_used(report_of(log))
    assert 5 <= bare < 64, "a bare handler uses about its interpreter's memory"

    result, response, log = invoke(aws, name, {"mib": 150})
    assert "FunctionError" not in response
    peak = max_memory_used(report_of(log))
    assert bare + 150 <= peak < 512

    _, _, log = invoke(aws, name, {})
    assert max_memory_used(report_of(log)) >= peak


CHILD = """
import subprocess
import sys


def handler(event, context):
    subprocess.run([sys.executable, "-c", "import time; held = b'x' * (300 * 1024 * 1024); time.sleep(30)"],
                   timeout=20)
    return "the child finished"
"""


def test_processes_the_function_starts_count_against_its_memory(aws, make_function):
    """Lambda's memory limit covers the whole execution environment, so a child process that the
    handler starts counts towards it (Lambda developer guide, "Configure Lambda function memory":
    the memory available to the function at runtime)."""
    name = make_function({"app.py": CHILD}, MemorySize=128, Timeout=30)
    error, response, _ = invoke(aws, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.OutOfMemory"
