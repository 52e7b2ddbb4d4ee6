"""Serving: Linear Learner's request and response formats over ``model_algo-1``."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from pathlib import Path

import numpy as np

from localcloud.algorithms.container import Invocation, Reply
from mlformats import recordio, recordio_protobuf
from mlformats.linear_learner import LinearLearnerModel

CSV, JSON, JSONLINES = "text/csv", "application/json", "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
CONTENT_TYPES = (CSV, JSON, JSONLINES, RECORDIO)
ACCEPTS = (JSON, JSONLINES, RECORDIO)


class BadPayload(ValueError):
    pass


def _json_row(instance) -> list[float]:
    """One instance: ``{"features": [...]}`` or ``{"data": {"features": {"values": [...]}}}``."""
    if isinstance(instance, dict) and "features" in instance:
        return instance["features"]
    if isinstance(instance, dict) and isinstance(instance.get("data"), dict):
        features = instance["data"].get("features")
        if isinstance(features, dict) and "values" in features:
            return features["values"]
    raise BadPayload('each instance must be {"features": [...]} or {"data": {"features": {"values": [...]}}}')


def parse(body: bytes, content_type: str) -> np.ndarray:
    try:
        if content_type == CSV:
            rows = [[float(cell) for cell in line.split(",")] for line in body.decode().strip().splitlines()
                    if line.strip()]
        elif content_type == JSON:
            document = json.loads(body)
            instances = document["instances"] if isinstance(document, dict) and "instances" in document else [document]
            rows = [_json_row(instance) for instance in instances]
        elif content_type == JSONLINES:
            rows = [_json_row(json.loads(line)) for line in body.decode().splitlines() if line.strip()]
        else:
            features, _ = recordio_protobuf.read_dense(body)
            return _finite(features)
    except BadPayload:
        raise
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise BadPayload(f"the {content_type} payload could not be read ({error})") from None
    if not rows:
        raise BadPayload("the payload holds no records")
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise BadPayload(f"records have different numbers of features: {sorted(widths)}")
    try:
        with np.errstate(over="ignore"):
            return _finite(np.asarray(rows, dtype=np.float32))
    except (ValueError, TypeError) as error:
        raise BadPayload(f"features must be numbers ({error})") from None


def _finite(features: np.ndarray) -> np.ndarray:
    """NaN, infinity, or a value beyond 32-bit float range would give a NaN score with a 200."""
    if not np.isfinite(features).all():
        raise BadPayload("features must be finite numbers within 32-bit float range (about +-3.4e38)")
    return features


def encode(predictions: list[dict], accept: str) -> bytes:
    if accept == JSON:
        return json.dumps({"predictions": predictions}).encode()
    if accept == JSONLINES:
        return "".join(json.dumps(p) + "\n" for p in predictions).encode()
    return b"".join(
        recordio.encode(recordio_protobuf.encode_record(label_tensors={
            name: np.atleast_1d(np.asarray(value, dtype=np.float32)) for name, value in prediction.items()}))
        for prediction in predictions)


def load_model(model_dir: Path) -> Invocation:
    model = LinearLearnerModel.load(model_dir)
    logging.info("Loaded Linear Learner %s with %d features", model.predictor_type, model.feature_dim)

    def invoke(body: bytes, content_type: str, accept: str) -> Reply:
        if content_type not in CONTENT_TYPES:
            return Reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                         f"Content type {content_type or '(none)'} is not supported; use one of {list(CONTENT_TYPES)}".encode())
        accept = JSON if accept in ("", "*/*") else accept
        if accept not in ACCEPTS:
            return Reply(HTTPStatus.NOT_ACCEPTABLE,
                         f"Accept type {accept} is not supported; use one of {list(ACCEPTS)}".encode())
        try:
            predictions = model.predict(parse(body, content_type))
        except ValueError as error:
            return Reply(HTTPStatus.BAD_REQUEST, f"unable to evaluate payload provided: {error}".encode())
        return Reply(HTTPStatus.OK, encode(predictions, accept), accept)

    return invoke
