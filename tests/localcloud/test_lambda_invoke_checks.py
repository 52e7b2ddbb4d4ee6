"""Invoke is checked as Lambda checks it, and moto's own event sources never block the caller (issue 8)."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import wait_for

ECHO = "import json\ndef handler(event, context):\n    print('got', json.dumps(event))\n    return event\n"
SLOW = "import time\ndef handler(event, context):\n    time.sleep(3)\n    return 'done'\n"


def raw_invoke(aws, name: str, payload: bytes, **options):
    return aws("lambda").invoke(FunctionName=name, Payload=payload, **options)


def error_of(call) -> dict:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response


@pytest.mark.parametrize(("payload", "what"), [
    (b'{"a": NaN}', "NaN"),
    (b'{"a": Infinity}', "Infinity"),
    (b'\xef\xbb\xbf{"a": 1}', "byte-order mark"),
    (b'{"a": "\xff\xfe"}', "invalid UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nesting beyond any parser's depth"),
    (b"{'a': 1}", "single quotes"),
])
def test_payloads_lambda_cannot_parse_are_refused_and_the_worker_lives_on(aws, make_function, payload, what):
    name = make_function({"app.py": ECHO})
    assert json.load(raw_invoke(aws, name, b'{"warm": true}')["Payload"]) == {"warm": True}
    error = error_of(lambda: raw_invoke(aws, name, payload))
    assert error["Error"]["Code"] == "InvalidRequestContentException", what
    assert error["Error"]["Message"].startswith("Could not parse request body into json")
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert json.load(raw_invoke(aws, name, b'{"after": 1}')["Payload"]) == {"after": 1}


def test_an_unknown_qualifier_is_not_found_and_versions_and_aliases_run(aws, make_function):
    lam = aws("lambda")
    name = make_function({"app.py": "def handler(e, c):\n    return c.invoked_function_arn\n"})
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    error = error_of(lambda: lam.invoke(FunctionName=name, Qualifier="999"))
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert lam.invoke(FunctionName=name, Qualifier=version)["ExecutedVersion"] == version
    assert lam.invoke(FunctionName=name, Qualifier="live")["ExecutedVersion"] == version
    assert lam.invoke(FunctionName=name)["ExecutedVersion"] == "$LATEST"


def test_an_unknown_invocation_type_is_a_validation_error_not_a_synchronous_run(aws, make_function):
    name = make_function({"app.py": ECHO})
    error = error_of(lambda: aws("lambda").invoke(FunctionName=name, InvocationType="garbage"))
    assert error["Error"]["Code"] == "ValidationException"
    assert "Member must satisfy enum value set: [Event, RequestResponse, DryRun]" in error["Error"]["Message"]


def test_an_arn_of_another_region_is_not_reachable(aws, make_function):
    name = make_function({"app.py": ECHO})
    arn = aws("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    elsewhere = arn.replace(":us-east-1:", ":eu-west-1:")
    error = error_of(lambda: aws("lambda").invoke(FunctionName=elsewhere))
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"] == "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"


def test_dry_run_and_event_answer_without_waiting(aws, make_function):
    name = make_function({"app.py": SLOW}, Timeout=10)
    assert aws("lambda").invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    started = time.monotonic()
    assert aws("lambda").invoke(FunctionName=name, InvocationType="Event")["StatusCode"] == 202
    assert time.monotonic() - started < 2


def test_a_log_subscription_to_a_function_never_hangs_lambda(cloud, aws, make_function):
    """A subscription filter on a function's log group used to make the function's own log write re-enter a
    lock: every later invoke of every function timed out."""
    logs, lam = aws("logs"), aws("lambda")
    source = make_function({"app.py": ECHO})
    sink = make_function({"app.py": ECHO})
    sink_arn = lam.get_function(FunctionName=sink)["Configuration"]["FunctionArn"]
    lam.add_permission(FunctionName=sink, StatementId="logs", Action="lambda:InvokeFunction",
                       Principal="logs.amazonaws.com")
    raw_invoke(aws, source, b"{}")  # creates the log group
    logs.put_subscription_filter(logGroupName=f"/aws/lambda/{source}", filterName="all", filterPattern="",
                                 destinationArn=sink_arn)
    quick = boto3.session.Session(
        aws_access_key_id=cloud.credentials.access_key_id, aws_secret_access_key=cloud.credentials.secret_access_key,
        region_name="us-east-1").client("lambda", endpoint_url=cloud.endpoint_url,
                                        config=boto3.session.Config(read_timeout=20, retries={"max_attempts": 0}))
    for index in range(5):
        assert json.load(quick.invoke(FunctionName=source, Payload=json.dumps({"n": index}))["Payload"]) == {"n": index}
    other = make_function({"app.py": ECHO})
    assert json.load(quick.invoke(FunctionName=other, Payload=b'{"still": "fine"}')["Payload"]) == {"still": "fine"}

    def delivered():
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{sink}")["events"]
        return any("awslogs" in event["message"] for event in events)

    wait_for(delivered, timeout=20)


def test_a_stream_write_does_not_wait_for_the_function_it_triggers(aws, make_function, unique):
    dynamodb, lam = aws("dynamodb"), aws("lambda")
    table = dynamodb.create_table(
        TableName=f"stream-{unique}", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["TableDescription"]
    name = make_function({"app.py": SLOW}, Timeout=10)
    lam.create_event_source_mapping(EventSourceArn=table["LatestStreamArn"], FunctionName=name,
                                    StartingPosition="LATEST")
    started = time.monotonic()
    dynamodb.put_item(TableName=table["TableName"], Item={"id": {"S": "1"}})
    assert time.monotonic() - started < 2  # the function sleeps 3 s

    def ran():
        try:
            events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except ClientError:
            return False
        return any(event["message"].startswith("END ") for event in events)

    wait_for(ran, timeout=20)
