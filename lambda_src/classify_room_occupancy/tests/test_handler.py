"""The handler's answers and refusals, with the SageMaker runtime stubbed by botocore's Stubber."""

from __future__ import annotations

import importlib
import io
import json
import sys
from pathlib import Path

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

FOLDER = Path(__file__).resolve().parents[1]
EVENTS = FOLDER / "events"
MODULES = ("handler", "occupancy_features")


@pytest.fixture
def handler(monkeypatch):
    monkeypatch.setenv("SAGEMAKER_ENDPOINT", "roomOccupancyEndpoint")
    monkeypatch.setenv("UTC_OFFSET_HOURS", "-8")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.syspath_prepend(str(FOLDER))
    for name in MODULES:
        sys.modules.pop(name, None)
    module = importlib.import_module("handler")
    with Stubber(module.runtime) as stubber:
        module.stubber = stubber
        yield module
    for name in MODULES:
        sys.modules.pop(name, None)


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def answer(score: float, label: int) -> dict:
    body = json.dumps({"predictions": [{"score": score, "predicted_label": label}]}).encode()
    return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"}


def test_the_tutorials_event_answers_with_a_label_and_probability(handler):
    handler.stubber.add_response("invoke_endpoint", answer(0.91, 1), {
        "EndpointName": "roomOccupancyEndpoint", "ContentType": "text/csv", "Accept": "application/json", "Body": ANY})
    result = handler.lambda_handler(event("shadow_update_accepted.json"), None)
    assert result == {"statusCode": 200, "body": {"predicted_label": "True", "probability": "0.910"}}


def test_the_row_holds_the_features_of_the_reading_and_not_the_rules_label(handler):
    features = importlib.import_module("occupancy_features")
    document = event("shadow_update_accepted.json")
    expected = features.features(document["state"]["reported"], document["timestamp"], -8)
    named = dict(zip(features.FEATURE_NAMES, expected, strict=True))
    assert named["hour_14"] == 1.0 and named["weekend"] == 0.0 and named["hvac_STANDBY"] == 1.0  # Thursday 14:00
    assert "roomOccupancy" not in " ".join(features.FEATURE_NAMES)
    handler.stubber.add_response("invoke_endpoint", answer(0.91, 1), {
        "EndpointName": "roomOccupancyEndpoint", "ContentType": "text/csv", "Accept": "application/json",
        "Body": ",".join(repr(v) for v in expected)})
    handler.lambda_handler(document, None)
    flipped = dict(document, state={"reported": dict(document["state"]["reported"], roomOccupancy=False)})
    assert features.features(flipped["state"]["reported"], flipped["timestamp"], -8) == expected


def test_the_devices_own_clock_wins_over_the_time_of_the_update(handler):
    features = importlib.import_module("occupancy_features")
    document = event("replayed_reading.json")
    row = dict(zip(features.FEATURE_NAMES, handler.read_features(document), strict=True))
    assert row["hour_03"] == 1.0  # 03:00 on Friday 2026-11-20, not when the update was accepted
    handler.stubber.add_response("invoke_endpoint", answer(0.02, 0))
    result = handler.lambda_handler(document, None)
    assert result["body"] == {"predicted_label": "False", "probability": "0.980"}


def test_without_sound_the_answer_is_a_400_naming_sound(handler):
    result = handler.lambda_handler(event("missing_sound.json"), None)
    assert result == {"statusCode": 400, "body": {"message": "Missing attributes: sound"}}


@pytest.mark.parametrize(("reported", "message"), [
    ({}, "Missing attributes: sound, temperature, hvacStatus"),
    ({"sound": None, "temperature": 70, "hvacStatus": "STANDBY"}, "Missing attributes: sound"),
    ({"sound": "loud", "temperature": 70, "hvacStatus": "STANDBY"}, "sound must be a number, got 'loud'"),
    ({"sound": True, "temperature": 70, "hvacStatus": "STANDBY"}, "sound must be a number"),
    ({"sound": 300, "temperature": 70, "hvacStatus": "STANDBY"}, "sound must lie within 0-255"),
    ({"sound": 5, "temperature": float("nan"), "hvacStatus": "STANDBY"}, "temperature must be a number"),
    ({"sound": 5, "temperature": 70, "hvacStatus": "OFF"}, "hvacStatus must be one of HEATING, COOLING, STANDBY"),
    ({"sound": 5, "temperature": 70, "hvacStatus": "STANDBY", "timestamp": "noon"}, "timestamp must be epoch seconds"),
    ("sound=5", "state.reported must be an object"),
])
def test_bad_readings_get_a_400_that_names_the_attribute(handler, reported, message):
    result = handler.lambda_handler({"state": {"reported": reported}, "timestamp": 1795125600}, None)
    assert result["statusCode"] == 400
    assert message in result["body"]["message"]


@pytest.mark.parametrize("document", [None, [], "state", {"state": {"desired": {"roomOccupancy": True}}},
                                      {"state": {"reported": {"sound": 5, "temperature": 70, "hvacStatus": "STANDBY"}}}])
def test_a_document_without_a_reading_gets_a_400(handler, document):
    result = handler.lambda_handler(document, None)
    assert result["statusCode"] == 400
    assert result["body"]["message"]


def test_an_endpoint_error_becomes_a_502(handler):
    handler.stubber.add_client_error("invoke_endpoint", "ValidationError",
                                     "Endpoint roomOccupancyEndpoint of account 123456789012 not found.", 400)
    result = handler.lambda_handler(event("shadow_update_accepted.json"), None)
    assert result["statusCode"] == 502
    assert "not found" in result["body"]["message"]


def test_a_score_outside_zero_to_one_is_a_502(handler):
    handler.stubber.add_response("invoke_endpoint", answer(float("nan"), 1))
    assert handler.lambda_handler(event("shadow_update_accepted.json"), None)["statusCode"] == 502
