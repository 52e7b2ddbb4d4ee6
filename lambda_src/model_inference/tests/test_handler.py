"""The inference function: the curl body answered from a Linear Learner artifact, bad bodies, breeds,
and the real SageMaker Linear Learner artifact in tests/fixtures loaded and predicting."""

from __future__ import annotations

import importlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from mlformats.linear_learner import LinearLearnerModel

FOLDER = Path(__file__).resolve().parents[1]
ROOT = FOLDER.parents[1]
REAL_ARTIFACT = ROOT / "tests/fixtures/linear-learner-regressor-real"
# A binary classifier over the six features: more distance, less health and magic, heat -> service.
WEIGHTS = np.array([[0.04], [-0.01], [-0.0004], [0.004], [0.006], [0.003]], dtype=np.float32)
CLASSIFIER = LinearLearnerModel(WEIGHTS, np.array([-1.5], dtype=np.float32), "binary_classifier", 0.4)


def load(monkeypatch, **environment):
    settings = {"BUCKET": "workshop-bucket", "MODEL_PATH": "s3://workshop-bucket/wild-rydes/model.tar.gz", "AWS_DEFAULT_REGION": "us-east-1"}
    for name, value in {**settings, **environment}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(FOLDER))
    sys.modules.pop("handler", None)
    return importlib.import_module("handler")


@pytest.fixture
def handler(monkeypatch):
    module = load(monkeypatch)
    with Stubber(module.s3) as stubber:
        module.stubber = stubber
        yield module
    sys.modules.pop("handler", None)


def artifact(data: bytes) -> dict:
    return {"Body": StreamingBody(io.BytesIO(data), len(data))}


def event(name: str) -> dict:
    return json.loads((FOLDER / "events" / name).read_text())


@pytest.mark.parametrize("event_file", ["api_gateway_proxy.json", "direct.json"])
def test_the_curl_body_is_answered_as_the_endpoint_would(handler, event_file):
    handler.stubber.add_response("get_object", artifact(CLASSIFIER.to_tar_gz()),
                                 {"Bucket": "workshop-bucket", "Key": "wild-rydes/model.tar.gz"})
    result = handler.lambda_handler(event(event_file), None)
    assert result["statusCode"] == 200
    body = json.loads(result["body"])
    row = np.array([[30, 30, 2500, 300, 333, 0]], dtype=np.float32)  # the model's feature order
    expected = CLASSIFIER.predict(row)[0]
    assert body == {"predicted_label": int(expected["predicted_label"]), "score": expected["score"]}


def test_the_model_is_downloaded_once_per_execution_environment(handler):
    handler.stubber.add_response("get_object", artifact(CLASSIFIER.to_tar_gz()))
    for _ in range(3):
        assert handler.lambda_handler(event("direct.json"), None)["statusCode"] == 200
    handler.stubber.assert_no_pending_responses()


def test_a_breed_chooses_its_own_model(handler):
    handler.stubber.add_response("get_object", artifact(CLASSIFIER.to_tar_gz()),
                                 {"Bucket": "workshop-bucket", "Key": "models/pegasus/model.tar.gz"})
    assert handler.lambda_handler(dict(event("direct.json"), breed="pegasus"), None)["statusCode"] == 200
    handler.stubber.add_client_error("get_object", "NoSuchKey", "The specified key does not exist.", 404)
    missing = handler.lambda_handler(dict(event("direct.json"), breed="narwhal"), None)
    assert missing["statusCode"] == 404
    assert json.loads(missing["body"]) == {"message": "No model at s3://workshop-bucket/models/narwhal/model.tar.gz"}


def test_model_path_must_be_an_s3_url(monkeypatch):
    with pytest.raises(ValueError, match="MODEL_PATH must be s3://bucket/key"):
        load(monkeypatch, MODEL_PATH="wild-rydes/model.tar.gz")
    sys.modules.pop("handler", None)


@pytest.mark.parametrize(("body", "message"), [
    (json.dumps({"distance": 30, "healthpoints": "thirty", "magicpoints": 2500}),
     "Missing field(s): TMIN, TMAX, PRCP"),
    (json.dumps({"distance": 30, "healthpoints": "thirty", "magicpoints": 2500, "TMIN": 1, "TMAX": 2, "PRCP": None}),
     "Not a finite number: healthpoints, PRCP"),
    ("not json", "The body must be a JSON object"),
    ("[1, 2]", "The body must be a JSON object"),
    (json.dumps({"distance": 1, "healthpoints": 1, "magicpoints": 1, "TMIN": 1, "TMAX": 1, "PRCP": 1, "breed": "../x"}),
     "breed must be"),
])
def test_bad_bodies_get_a_400_naming_the_fields(handler, body, message):
    result = handler.lambda_handler(dict(event("api_gateway_proxy.json"), body=body), None)
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["message"].startswith(message)


def test_the_real_sagemaker_linear_learner_artifact_loads_and_predicts(monkeypatch):
    module = load(monkeypatch, MODEL_PATH="s3://fixtures/linear-learner/model.tar.gz", FEATURES="months")
    expected = {32: 1144.408, 61: 1382.766, 37: 1185.504, 59: 1366.327, 14: 996.462, 22: 1062.216}
    with Stubber(module.s3) as stubber:
        stubber.add_response("get_object", artifact((REAL_ARTIFACT / "model.tar.gz").read_bytes()))
        for months, salary in expected.items():
            result = module.lambda_handler({"months": months}, None)
            assert result["statusCode"] == 200
            assert json.loads(result["body"])["score"] == pytest.approx(salary, abs=1e-3)
    sys.modules.pop("handler", None)
