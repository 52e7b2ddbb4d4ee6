"""The handler's input checks and answers, with the SageMaker runtime stubbed by botocore's Stubber."""

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
EVENTS = FOLDER / "events"


@pytest.fixture
def handler(monkeypatch):
    monkeypatch.setenv("ENDPOINT_NAME", "workshop-breast-cancer")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.syspath_prepend(str(FOLDER))
    sys.modules.pop("handler", None)
    module = importlib.import_module("handler")
    with Stubber(module.runtime) as stubber:
        module.stubber = stubber
        yield module
    sys.modules.pop("handler", None)


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def answer(prediction: dict) -> dict:
    body = json.dumps({"predictions": [prediction]}).encode()
    return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"}


@pytest.mark.parametrize("event_file", ["direct.json", "api_gateway_proxy.json"])
def test_the_blogs_row_is_sent_as_csv_and_the_label_mapped_to_a_diagnosis(handler, event_file):
    row = event("direct.json")["data"]
    handler.stubber.add_response("invoke_endpoint", answer({"score": 0.02, "predicted_label": 0.0}), {
        "EndpointName": "workshop-breast-cancer", "ContentType": "text/csv", "Accept": "application/json",
        "Body": ",".join(repr(float(v)) for v in row.split(","))})
    result = handler.lambda_handler(event(event_file), None)
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"diagnosis": "B", "score": 0.02}


def test_label_one_is_malignant(handler):
    handler.stubber.add_response("invoke_endpoint", answer({"score": 0.97, "predicted_label": 1.0}))
    assert json.loads(handler.lambda_handler(event("direct.json"), None)["body"])["diagnosis"] == "M"


@pytest.mark.parametrize(("body", "message"), [
    ('{"data": "1,2,3"}', "Expected 30 comma-separated features, got 3"),
    ("not json", "The body must be JSON"),
    ('{"rows": "1"}', 'Send {"data"'),
    (json.dumps({"data": ",".join(["x"] * 30)}), "Every feature must be a number"),
    (json.dumps({"data": ",".join(["nan"] * 30)}), "Features must be finite numbers"),
    (json.dumps({"data": ",".join(["1e400"] * 30)}), "Features must be finite numbers"),
    (json.dumps({"data": [1e300] * 30}), "Features must lie within"),
    (json.dumps({"data": ",".join(["3.5e38"] * 30)}), "Features must lie within"),
    (json.dumps({"data": [True] * 30}), "Every feature must be a number"),
    (json.dumps({"data": [[1]] * 30}), "Every feature must be a number"),
    ('{"data": [' + ",".join(["NaN"] * 30) + "]}", "The body must be JSON"),
    ("[" * 1000 + "]" * 1000, "The body must be JSON"),
    ('{"data": ' + "[" * 5000 + "]" * 5000 + "}", "The body must be JSON"),
    ("[1, 2]", 'Send {"data"'),
])
def test_bad_requests_get_a_400_that_says_what_is_wrong(handler, body, message):
    result = handler.lambda_handler(dict(event("api_gateway_proxy.json"), body=body), None)
    assert result["statusCode"] == 400
    assert message in json.loads(result["body"])["message"]


@pytest.mark.parametrize("direct", [[1, 2], "data", 7, None])
def test_an_event_that_is_not_an_object_gets_a_400(handler, direct):
    result = handler.lambda_handler(direct, None)
    assert result["statusCode"] == 400
    assert "JSON object" in json.loads(result["body"])["message"]


def test_a_non_finite_score_from_the_model_is_a_502_never_nan_json(handler):
    handler.stubber.add_response("invoke_endpoint", answer({"score": float("nan"), "predicted_label": 1.0}))
    result = handler.lambda_handler(event("direct.json"), None)
    assert result["statusCode"] == 502
    json.loads(result["body"], parse_constant=lambda name: pytest.fail(f"{name} in the answer"))


def test_an_endpoint_error_becomes_a_502(handler):
    handler.stubber.add_client_error("invoke_endpoint", "ValidationError",
                                     "Endpoint workshop-breast-cancer of account 123456789012 not found.", 400)
    result = handler.lambda_handler(event("direct.json"), None)
    assert result["statusCode"] == 502
    assert "not found" in json.loads(result["body"])["message"]
