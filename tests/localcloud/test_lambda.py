"""Lambda execution through the Invoke API: warm reuse, cold starts, errors, timeouts, logs."""

from __future__ import annotations

import base64
import json
import re

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import wait_for, zip_sources

COUNTER = """
import os
import time

INVOCATIONS = 0
PID = os.getpid()


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    print("event:", event)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise ValueError(event["fail"])
    return {
        "invocations": INVOCATIONS,
        "pid": PID,
        "version": os.environ.get("CODE_VERSION", "1"),
        "colour": os.environ.get("COLOUR"),
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }
"""


def invoke(aws, name: str, event: dict | None = None, **kwargs) -> tuple[dict, dict]:
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kwargs)
    return json.loads(response["Payload"].read() or b"null"), response


def test_the_handler_runs_with_a_real_context(aws, make_function):
    name = make_function({"app.py": COUNTER}, MemorySize=256, Timeout=7)
    result, response = invoke(aws, name, {"a": 1})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    context = result["context"]
    assert context["function_name"] == name
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert context["memory_limit_in_mb"] == "256"
    assert context["log_group_name"] == f"/aws/lambda/{name}"
    assert "[$LATEST]" in context["log_stream_name"]
    assert 0 < context["remaining_ms"] <= 7000


def test_a_warm_worker_is_reused_and_keeps_module_state(aws, make_function):
    name = make_function({"app.py": COUNTER})
    first, _ = invoke(aws, name)
    second, _ = invoke(aws, name)
    assert (first["invocations"], second["invocations"]) == (1, 2)
    assert first["pid"] == second["pid"]


def test_updating_code_or_configuration_starts_a_new_cold_worker(aws, make_function):
    name = make_function({"app.py": COUNTER})
    before, _ = invoke(aws, name)
    aws("lambda").update_function_code(
        FunctionName=name, ZipFile=zip_sources({"app.py": COUNTER.replace('"CODE_VERSION", "1"', '"CODE_VERSION", "2"')})
    )
    after_code, _ = invoke(aws, name)
    assert after_code["version"] == "2"
    assert after_code["invocations"] == 1
    assert after_code["pid"] != before["pid"]

    aws("lambda").update_function_configuration(FunctionName=name, Environment={"Variables": {"COLOUR": "blue"}})
    after_config, _ = invoke(aws, name)
    assert after_config["colour"] == "blue"
    assert after_config["invocations"] == 1
    assert after_config["pid"] != after_code["pid"]


def test_an_unhandled_exception_gives_lambdas_error_payload(aws, make_function):
    name = make_function({"app.py": COUNTER})
    error, response = invoke(aws, name, {"fail": "bad input"})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "bad input"
    assert error["requestId"]
    assert any("raise ValueError" in frame for frame in error["stackTrace"])


def test_a_timeout_ends_the_worker_and_reports_lambdas_message(aws, make_function):
    name = make_function({"app.py": COUNTER}, Timeout=1)
    warm, _ = invoke(aws, name)
    error, response = invoke(aws, name, {"sleep": 5})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    after, _ = invoke(aws, name)
    assert after["pid"] != warm["pid"], "the timed-out worker must not be reused"


CRASH = """
import os
import signal


def handler(event, context):
    if event.get("exit"):
        os._exit(event["exit"])
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_crashed_worker_is_reported_as_a_runtime_exit_never_as_a_timeout(aws, make_function):
    name = make_function({"app.py": CRASH}, Timeout=30)
    for _ in range(20):  # the pipe closes before the process is reaped: the answer must not depend on which is first
        error, response = invoke(aws, name)
        assert response["FunctionError"] == "Unhandled"
        assert error["errorType"] == "Runtime.ExitError"
        assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: Runtime exited with error: signal: killed",
                            error["errorMessage"]), error
    error, response = invoke(aws, name, {"exit": 3}, LogType="Tail")
    assert error["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    log = base64.b64decode(response["LogResult"]).decode()
    assert "Runtime exited with error: exit status 3\nRuntime.ExitError\nEND RequestId:" in log


def test_import_errors_and_missing_handlers_are_reported(aws, make_function):
    missing_module = make_function({"app.py": COUNTER}, handler="nowhere.handler")
    error, response = invoke(aws, missing_module)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'nowhere'" in error["errorMessage"]

    missing_function = make_function({"app.py": COUNTER}, handler="app.missing")
    error, _ = invoke(aws, missing_function)
    assert error["errorType"] == "Runtime.HandlerNotFound"
    assert error["errorMessage"] == "Handler 'missing' missing on module 'app'"


def test_a_result_that_is_not_json_is_a_marshal_error(aws, make_function):
    name = make_function({"app.py": "def handler(event, context):\n    return {1, 2}\n"})
    error, response = invoke(aws, name)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.MarshalError"


def test_other_runtimes_fail_the_invocation_with_a_clear_error(aws, make_function):
    name = make_function({"index.js": "exports.handler = async () => 1;"}, handler="index.handler", Runtime="nodejs20.x")
    with pytest.raises(ClientError) as raised:
        invoke(aws, name)
    assert raised.value.response["Error"]["Code"] == "InvalidRuntimeException"
    assert "Python functions only" in raised.value.response["Error"]["Message"]
    assert "nodejs20.x" in raised.value.response["Error"]["Message"]


def test_a_payload_that_is_not_json_is_rejected(aws, make_function):
    name = make_function({"app.py": COUNTER})
    with pytest.raises(ClientError) as raised:
        aws("lambda").invoke(FunctionName=name, Payload=b"{not json")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_payload_over_six_mebibytes_is_rejected(aws, make_function):
    name = make_function({"app.py": COUNTER})
    with pytest.raises(ClientError) as raised:
        aws("lambda").invoke(FunctionName=name, Payload=json.dumps({"x": "a" * (6 * 1024 * 1024)}).encode())
    assert raised.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_event_invocations_return_202_and_run_in_the_background(aws, make_function):
    name = make_function({"app.py": COUNTER})
    response = aws("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=b'{"async": true}')
    assert response["StatusCode"] == 202
    wait_for(lambda: any("'async': True" in m for m in log_messages(aws, name)))


def test_output_goes_to_cloudwatch_logs_with_start_end_report(aws, make_function):
    name = make_function({"app.py": COUNTER}, MemorySize=512)
    invoke(aws, name, {"marker": "first"})
    messages = log_messages(aws, name)
    starts = [m for m in messages if m.startswith("START RequestId: ")]
    assert len(starts) == 1 and starts[0].endswith("Version: $LATEST")
    invocation_id = starts[0].split()[2]
    assert f"END RequestId: {invocation_id}" in messages
    report = next(m for m in messages if m.startswith(f"REPORT RequestId: {invocation_id}"))
    assert "Memory Size: 512 MB" in report and "Init Duration:" in report and "Billed Duration:" in report
    assert "event: {'marker': 'first'}" in messages

    invoke(aws, name, {"marker": "second"})
    reports = [m for m in log_messages(aws, name) if m.startswith("REPORT")]
    assert len(reports) == 2 and "Init Duration" not in reports[1], "a warm invocation has no init phase"


def test_tail_returns_the_last_4_kb_of_the_invocation_log(aws, make_function):
    name = make_function({"app.py": "def handler(event, context):\n"
                                     "    for i in range(200):\n        print(f'line {i:03d} ' + 'y' * 40)\n"})
    _, response = invoke(aws, name, LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert len(tail.encode()) <= 4096
    assert tail.rstrip().splitlines()[-1].startswith("REPORT RequestId:")
    assert "line 199" in tail and "line 000" not in tail

    _, without_tail = invoke(aws, name)
    assert "LogResult" not in without_tail


def test_boto3_inside_a_function_reaches_localcloud(aws, make_function):
    source = (
        "import boto3\n"
        "def handler(event, context):\n"
        "    return [b['Name'] for b in boto3.client('s3').list_buckets()['Buckets']]\n"
    )
    aws("s3").create_bucket(Bucket="seen-from-inside-lambda")
    name = make_function({"app.py": source}, Timeout=15)
    buckets, response = invoke(aws, name)
    assert "FunctionError" not in response, buckets
    assert "seen-from-inside-lambda" in buckets


def log_messages(aws, name: str) -> list[str]:
    try:
        events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except aws("logs").exceptions.ResourceNotFoundException:
        return []
    return [event["message"] for event in events]
