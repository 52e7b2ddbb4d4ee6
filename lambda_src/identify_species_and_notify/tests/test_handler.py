"""The handler's messages, key decoding and refusals, with S3, SageMaker and SNS stubbed by botocore's Stubber."""

from __future__ import annotations

import importlib
import io
import json
import sys
import urllib.parse
from pathlib import Path

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

FOLDER = Path(__file__).resolve().parents[1]
EVENTS = FOLDER / "events"
BUCKET = "workshop-birds-123456789012-us-east-1"
TOPIC = "arn:aws:sns:us-east-1:123456789012:workshop-bird-sightings"
CLASSES = "American Goldfinch,Eastern Bluebird,Northern Cardinal,Purple Martin"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.fixture
def handler(monkeypatch):
    monkeypatch.setenv("SAGEMAKER_ENDPOINT_NAME", "nabirds-species-identifier")
    monkeypatch.setenv("SNS_TOPIC_ARN", TOPIC)
    monkeypatch.setenv("CLASS_NAMES", CLASSES)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # Presigning needs a key to sign with; nothing is sent anywhere.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDUNITTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit-test-secret")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.syspath_prepend(str(FOLDER))
    sys.modules.pop("handler", None)
    module = importlib.import_module("handler")
    with Stubber(module.s3) as s3, Stubber(module.runtime) as runtime, Stubber(module.sns) as sns:
        module.stubs = {"s3": s3, "runtime": runtime, "sns": sns}
        yield module
        for stub in module.stubs.values():
            stub.assert_no_pending_responses()
    sys.modules.pop("handler", None)


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def stored(handler, key: str, data: bytes, length: int | None = None) -> None:
    handler.stubs["s3"].add_response("get_object", {"Body": StreamingBody(io.BytesIO(data), len(data)),
                                                    "ContentLength": len(data) if length is None else length},
                                     {"Bucket": BUCKET, "Key": key})


def answers(handler, probabilities, body: bytes = JPEG) -> None:
    reply = json.dumps(probabilities).encode()
    handler.stubs["runtime"].add_response(
        "invoke_endpoint", {"Body": StreamingBody(io.BytesIO(reply), len(reply)), "ContentType": "application/json"},
        {"EndpointName": "nabirds-species-identifier", "ContentType": "application/x-image",
         "Accept": "application/json", "Body": body})


def published(handler) -> list[str]:
    """Expect one Publish call; the list receives its message."""
    messages = []
    handler.stubs["sns"].add_response("publish", {"MessageId": "1"},
                                      {"TopicArn": TOPIC, "Subject": "Bird identified", "Message": ANY})
    handler.sns.meta.events.register("provide-client-params.sns.Publish",
                                     lambda params, **kwargs: messages.append(params["Message"]))
    return messages


def test_a_confident_answer_names_the_species_and_links_the_photo(handler):
    stored(handler, "birds/card.jpg", JPEG)
    answers(handler, [0.02, 0.03, 0.93, 0.02])
    messages = published(handler)
    assert handler.lambda_handler(event("s3_put_cardinal.json"), None) == {"published": 1, "skipped": 0}
    first, second = messages[0].splitlines()
    assert first == "Bird [birds/card.jpg] is a: Northern Cardinal(0.93)"
    assert second.startswith("Photo (link valid for one hour): https://")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(second.split(": ", 1)[1]).query)
    assert query["X-Amz-Expires"] == ["3600"]
    assert "/birds/card.jpg" in second


def test_below_the_threshold_it_gives_the_top_two_guesses(handler):
    stored(handler, "birds/card.jpg", JPEG)
    answers(handler, [0.05, 0.31, 0.09, 0.55])
    messages = published(handler)
    handler.lambda_handler(event("s3_put_cardinal.json"), None)
    assert messages[0].splitlines()[0] == "Bird [birds/card.jpg] may be a: Purple Martin(0.55), or Eastern Bluebird(0.31)"


def test_the_threshold_itself_is_certain_enough(handler):
    stored(handler, "birds/card.jpg", PNG)
    answers(handler, [0.7, 0.1, 0.1, 0.1], body=PNG)
    messages = published(handler)
    handler.lambda_handler(event("s3_put_cardinal.json"), None)
    assert messages[0].startswith("Bird [birds/card.jpg] is a: American Goldfinch(0.70)")


def test_keys_are_decoded_as_s3_encodes_them(handler):
    key = "birds/back yard/my bird(1).jpg"
    stored(handler, key, JPEG)
    answers(handler, [0.9, 0.05, 0.03, 0.02])
    messages = published(handler)
    handler.lambda_handler(event("s3_put_key_with_spaces.json"), None)
    assert messages[0].startswith(f"Bird [{key}] is a: American Goldfinch(0.90)")


def test_an_object_that_is_not_an_image_is_logged_and_publishes_nothing(handler, capsys):
    stored(handler, "birds/bad.jpg", b"this is no photo")
    assert handler.lambda_handler(event("s3_put_not_an_image.json"), None) == {"published": 0, "skipped": 1}
    assert "ERROR s3://workshop-birds-123456789012-us-east-1/birds/bad.jpg is not a JPEG or PNG image" in capsys.readouterr().out


def test_a_photo_the_endpoint_rejects_is_logged_and_publishes_nothing(handler, capsys):
    stored(handler, "birds/card.jpg", JPEG)
    handler.stubs["runtime"].add_client_error(
        "invoke_endpoint", "ModelError", "Received client error (400) from primary with message \"Unable to decode "
        "the request body as an image\"", 424)
    assert handler.lambda_handler(event("s3_put_cardinal.json"), None) == {"published": 0, "skipped": 1}
    out = capsys.readouterr().out
    assert "ERROR s3://workshop-birds-123456789012-us-east-1/birds/card.jpg was refused by endpoint" in out
    assert "Unable to decode" in out


def test_a_photo_over_the_endpoints_6_mb_limit_is_not_sent(handler, capsys):
    stored(handler, "birds/card.jpg", JPEG, length=7 * 1024 * 1024)
    handler.lambda_handler(event("s3_put_cardinal.json"), None)
    assert "the endpoint takes images of at most 6291456 bytes" in capsys.readouterr().out


def test_a_deleted_object_is_logged(handler, capsys):
    handler.stubs["s3"].add_client_error("get_object", "NoSuchKey", "The specified key does not exist.", 404)
    assert handler.lambda_handler(event("s3_put_cardinal.json"), None) == {"published": 0, "skipped": 1}
    assert "could not be read" in capsys.readouterr().out


def test_an_answer_that_does_not_match_the_class_names_is_logged(handler, capsys):
    stored(handler, "birds/card.jpg", JPEG)
    answers(handler, [0.5, 0.5])
    handler.lambda_handler(event("s3_put_cardinal.json"), None)
    assert "expected 4 probabilities, one for each of CLASS_NAMES" in capsys.readouterr().out


def test_records_from_other_sources_and_s3_test_events_publish_nothing(handler):
    assert handler.lambda_handler({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}, None) == \
        {"published": 0, "skipped": 1}
    assert handler.lambda_handler({"Service": "Amazon S3", "Event": "s3:TestEvent"}, None) == \
        {"published": 0, "skipped": 0}
