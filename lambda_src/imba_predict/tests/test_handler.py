"""The handler's request forms, answers and CORS headers, with DynamoDB and the SageMaker runtime stubbed
by botocore's Stubber (tests/localcloud/test_module_05.py runs it for real)."""

from __future__ import annotations

import base64
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
ROW = "3,1,3,2.33333,5,62,15.5,41,17,0.583333,120,0.4,1.85,0.459459,8.2,0.6,2,0.6"
KEY = {"user_id": {"N": "1"}, "product_id": {"N": "196"}}
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "OPTIONS,POST",
        "Access-Control-Allow-Headers": "Content-Type"}


@pytest.fixture
def handler(monkeypatch):
    monkeypatch.setenv("ENDPOINT_NAME", "workshop-imba")
    monkeypatch.setenv("TABLE_NAME", "imba")
    monkeypatch.setenv("THRESHOLD", "0.3")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.syspath_prepend(str(FOLDER))
    sys.modules.pop("handler", None)
    module = importlib.import_module("handler")
    with Stubber(module.dynamodb) as store, Stubber(module.runtime) as runtime:
        module.store, module.endpoint = store, runtime
        yield module
    sys.modules.pop("handler", None)


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def stored(handler, key=KEY, item=None):
    handler.store.add_response("get_item", {"Item": item} if item is not None else {},
                               {"TableName": "imba", "Key": key, "ProjectionExpression": "feature"})


def scored(handler, answer: bytes, row=ROW):
    handler.endpoint.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(answer), len(answer)),
                                                      "ContentType": "text/csv"},
                                  {"EndpointName": "workshop-imba", "ContentType": "text/csv", "Accept": "text/csv",
                                   "Body": row})


def body(result: dict) -> dict:
    return json.loads(result["body"])


@pytest.mark.parametrize("event_file", ["api_gateway_proxy.json", "api_gateway_proxy_json.json", "direct.json"])
def test_the_pairs_features_go_to_the_endpoint_and_the_probability_comes_back(handler, event_file):
    stored(handler, item={"user_id": {"N": "1"}, "product_id": {"N": "196"}, "feature": {"S": ROW}})
    scored(handler, b"0.8125\n")
    result = handler.lambda_handler(event(event_file), None)
    assert result["statusCode"] == 200
    assert body(result) == {"user_id": 1, "product_id": 196, "probability": 0.8125, "reordered": True,
                            "threshold": 0.3}
    assert CORS.items() <= result["headers"].items()


@pytest.mark.parametrize("request_body", ['"1,196"', " 1 , 196 ", '{"user_id": "1", "product_id": "196"}'])
def test_the_sources_string_and_ids_as_strings_are_accepted(handler, request_body):
    stored(handler, item={"feature": {"S": ROW}})
    scored(handler, b"0.1")
    result = handler.lambda_handler(dict(event("api_gateway_proxy.json"), body=request_body), None)
    assert result["statusCode"] == 200
    assert body(result)["reordered"] is False


def test_a_base64_body_is_decoded(handler):
    stored(handler, item={"feature": {"S": ROW}})
    scored(handler, b"0.5")
    encoded = base64.b64encode(b"1,196").decode()
    result = handler.lambda_handler(dict(event("api_gateway_proxy.json"), body=encoded, isBase64Encoded=True), None)
    assert body(result)["probability"] == 0.5


def test_an_unknown_pair_is_a_404_that_says_so(handler):
    stored(handler, key={"user_id": {"N": "1"}, "product_id": {"N": "999999"}})
    result = handler.lambda_handler(dict(event("api_gateway_proxy.json"), body="1,999999"), None)
    assert result["statusCode"] == 404
    assert body(result)["message"].startswith("No features for user 1 and product 999999")
    assert CORS.items() <= result["headers"].items()


def test_the_preflight_is_answered_with_the_cors_headers_alone(handler):
    result = handler.lambda_handler(event("api_gateway_preflight.json"), None)
    assert result["statusCode"] == 204
    assert result["body"] == ""
    assert CORS.items() <= result["headers"].items()


@pytest.mark.parametrize(("request_body", "message"), [
    ("1;196", "Expected two comma-separated ids"),
    ("1,196,3", "Expected two comma-separated ids"),
    ("", "The request has no body"),
    ("x,196", "user_id must be a whole number"),
    ("1,-196", "product_id must be a whole number"),
    ("0,196", "user_id must be a whole number"),
    ("1,1.5", "product_id must be a whole number"),
    ("1," + "9" * 19, "product_id must be a whole number"),
    ("\u0661,196", "user_id must be a whole number"),
    ('{"user_id": 1}', "Missing product_id"),
    ("{}", "Missing user_id and product_id"),
    ('{"user_id": true, "product_id": 196}', "user_id must be a whole number"),
    ('{"user_id": 1.0, "product_id": 196}', "user_id must be a whole number"),
    ('{"user_id": [1], "product_id": 196}', "user_id must be a whole number"),
    ('{"user_id": NaN, "product_id": 196}', "user_id must be a whole number"),
    ("196", "Send"),
    ("[1, 196]", "Send"),
    ("[" * 5000 + "]" * 5000, "Expected two comma-separated ids"),
])
def test_malformed_requests_get_a_400_that_says_what_is_wrong(handler, request_body, message):
    result = handler.lambda_handler(dict(event("api_gateway_proxy.json"), body=request_body), None)
    assert result["statusCode"] == 400
    assert message in body(result)["message"]
    assert CORS.items() <= result["headers"].items()


def test_a_body_that_is_not_base64_or_not_utf8_is_a_400(handler):
    for encoded in ("not base64!", base64.b64encode(b"\xff\xfe").decode()):
        result = handler.lambda_handler(dict(event("api_gateway_proxy.json"), body=encoded, isBase64Encoded=True),
                                        None)
        assert result["statusCode"] == 400


@pytest.mark.parametrize("direct", [[1, 196], 7, None, {"user_id": 1, "product_id": None}])
def test_a_direct_event_of_the_wrong_shape_is_a_400(handler, direct):
    assert handler.lambda_handler(direct, None)["statusCode"] == 400


def test_an_endpoint_error_is_a_502_with_cors_headers(handler):
    stored(handler, item={"feature": {"S": ROW}})
    handler.endpoint.add_client_error("invoke_endpoint", "ValidationError",
                                      "Endpoint workshop-imba of account 123456789012 not found.", 400)
    result = handler.lambda_handler(event("direct.json"), None)
    assert result["statusCode"] == 502
    assert "not found" in body(result)["message"]
    assert CORS.items() <= result["headers"].items()


@pytest.mark.parametrize("answer", [b"nan", b"1.5", b"not a number", b"0.2,0.8"])
def test_an_answer_that_is_not_a_probability_is_a_502_never_nan_json(handler, answer):
    stored(handler, item={"feature": {"S": ROW}})
    scored(handler, answer)
    result = handler.lambda_handler(event("direct.json"), None)
    assert result["statusCode"] == 502
    json.loads(result["body"], parse_constant=lambda name: pytest.fail(f"{name} in the answer"))


def test_a_failing_store_or_a_broken_item_is_a_502(handler):
    handler.store.add_client_error("get_item", "ResourceNotFoundException", "Requested resource not found", 400)
    result = handler.lambda_handler(event("direct.json"), None)
    assert result["statusCode"] == 502
    assert "feature store imba could not answer" in body(result)["message"]
    stored(handler, item={"feature": {"S": "1,2,3"}})
    result = handler.lambda_handler(event("direct.json"), None)
    assert result["statusCode"] == 502
    assert "no feature string of 18 values" in body(result)["message"]
