"""The ingest function queues one message per ride line, ten per call, with S3 and SQS stubbed."""

from __future__ import annotations

import importlib
import io
import json
import sys
from pathlib import Path

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

FOLDER = Path(__file__).resolve().parents[1]
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/workshop-02-rides"


@pytest.fixture
def handler(monkeypatch):
    monkeypatch.setenv("QUEUE_URL", QUEUE_URL)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.syspath_prepend(str(FOLDER))
    sys.modules.pop("handler", None)
    module = importlib.import_module("handler")
    with Stubber(module.s3) as s3, Stubber(module.sqs) as sqs:
        module.s3_stub, module.sqs_stub = s3, sqs
        yield module
    sys.modules.pop("handler", None)


def rides_object(lines: list[str]) -> dict:
    body = "".join(line + "\n" for line in lines).encode()
    return {"Body": StreamingBody(io.BytesIO(body), len(body))}


def test_every_line_becomes_one_message_ten_per_batch(handler):
    event = json.loads((FOLDER / "events/s3_put.json").read_text())
    lines = [json.dumps({"name": f"unicorn-{i}"}) for i in range(23)] + ["", "   "]
    handler.s3_stub.add_response("get_object", rides_object(lines), {
        "Bucket": "workshop-02-rides-123456789012-us-east-1", "Key": "rides/2019-05-06.json"})
    for start, size in ((0, 10), (10, 10), (20, 3)):
        entries = [{"Id": str(i), "MessageBody": lines[start + i]} for i in range(size)]
        handler.sqs_stub.add_response("send_message_batch", {"Successful": [], "Failed": []},
                                      {"QueueUrl": QUEUE_URL, "Entries": entries})
    assert handler.lambda_handler(event, None) == {"queued": 23}
    handler.sqs_stub.assert_no_pending_responses()


def test_keys_arrive_url_encoded_as_s3_sends_them(handler):
    event = json.loads((FOLDER / "events/s3_put.json").read_text())
    event["Records"][0]["s3"]["object"]["key"] = "rides/may+6%2C+2019.json"
    handler.s3_stub.add_response("get_object", rides_object([]), {
        "Bucket": "workshop-02-rides-123456789012-us-east-1", "Key": "rides/may 6, 2019.json"})
    assert handler.lambda_handler(event, None) == {"queued": 0}


def test_a_refused_message_fails_the_invocation_so_s3_retries_it(handler):
    event = json.loads((FOLDER / "events/s3_put.json").read_text())
    handler.s3_stub.add_response("get_object", rides_object(["{}", "{}"]))
    handler.sqs_stub.add_response("send_message_batch", {"Successful": [], "Failed": [
        {"Id": "1", "SenderFault": True, "Code": "InvalidParameterValue", "Message": "Message too long"}]})
    with pytest.raises(RuntimeError, match="line 2: Message too long"):
        handler.lambda_handler(event, None)
