"""Serving: the XGBoost container's request and response formats over a saved booster."""

from __future__ import annotations

import json
import logging
import os
import pickle
from http import HTTPStatus
from pathlib import Path

import numpy as np
import xgboost as xgb

from localcloud.algorithms.container import Invocation, Reply
from localcloud.algorithms.xgboost import data

JSON, JSONLINES, RECORDIO = "application/json", "application/jsonlines", "application/x-recordio-protobuf"
SUPPORTED_ACCEPTS = [JSON, JSONLINES, data.CSV]
SELECTABLE_KEYS = ("predicted_label", "labels", "probability", "probabilities", "raw_score", "raw_scores")


def load_booster(model_dir: Path) -> xgb.Booster:
    """Load the model file as the container does: xgboost's own formats, or a pickled booster."""
    files = [p for p in sorted(model_dir.iterdir()) if p.is_file() and not p.name.startswith(".")]
    if not files:
        raise RuntimeError(f"No model file found in {model_dir}")
    errors = []
    for path in files:
        try:
            return xgb.Booster(model_file=str(path))
        except (xgb.core.XGBoostError, UnicodeDecodeError) as error:  # xgboost's message about a pickle is binary
            errors.append(f"{path.name}: not an xgboost model file ({type(error).__name__})")
        try:
            with open(path, "rb") as handle:
                booster = pickle.load(handle)  # older container versions pickled the booster
            if isinstance(booster, xgb.Booster):
                return booster
        except Exception as error:
            errors.append(f"{path.name}: not a pickled booster ({type(error).__name__})")
    raise RuntimeError("Unable to load model: " + "; ".join(errors))


def load_model(model_dir: Path) -> Invocation:
    booster = load_booster(model_dir)
    config = json.loads(booster.save_config())["learner"]
    objective = config["objective"]["name"]
    num_class = int(config["learner_model_param"].get("num_class", "0") or 0)
    logging.info("Loaded XGBoost model (objective %s, %d features)", objective, booster.num_features())
    default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", data.CSV)
    selected = os.environ.get("SAGEMAKER_INFERENCE_OUTPUT")
    selected_keys = selected.replace(" ", "").lower().split(",") if selected else None

    def invoke(body: bytes, content_type: str, accept: str) -> Reply:
        if not body:
            return Reply(HTTPStatus.NO_CONTENT, b"")
        if content_type not in (data.CSV, *data.LIBSVM_TYPES):
            return Reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-type {content_type} is not supported.".encode())
        try:
            text = body.strip().decode("utf-8")
            matrix = data.csv_matrix(text) if content_type == data.CSV else data.libsvm_matrix(text)
            if matrix.num_col() != booster.num_features():
                raise ValueError(f"Feature shape mismatch, expected: {booster.num_features()}, got {matrix.num_col()}")
            predictions = booster.predict(matrix, validate_features=False)
        except Exception as error:
            return Reply(HTTPStatus.BAD_REQUEST, f"Unable to evaluate payload provided: {error}".encode())
        accept = default_accept if accept in ("", "*/*") else accept
        if accept not in SUPPORTED_ACCEPTS:
            return Reply(HTTPStatus.NOT_ACCEPTABLE, f"Accept type {accept} is not supported. Please use supported "
                                                    f"accept types: {SUPPORTED_ACCEPTS}.".encode())
        if selected_keys:
            try:
                rows = selected_predictions(predictions, selected_keys, objective, num_class)
            except ValueError as error:
                return Reply(HTTPStatus.INTERNAL_SERVER_ERROR, str(error).encode())
            return Reply(HTTPStatus.OK, encode_selected(rows, selected_keys, accept), accept)
        return Reply(HTTPStatus.OK, encode_scores(predictions.tolist(), accept), accept)

    return invoke


def encode_scores(scores: list, accept: str) -> bytes:
    if accept == JSON:
        return json.dumps({"predictions": [{"score": score} for score in scores]}).encode()
    if accept == JSONLINES:
        return "".join(json.dumps({"score": score}) + "\n" for score in scores).encode()
    return "".join((",".join(map(str, s)) if isinstance(s, list) else str(s)) + "\n" for s in scores).encode()


def selected_predictions(predictions: np.ndarray, keys: list[str], objective: str, num_class: int) -> list[dict]:
    """The container's ``SAGEMAKER_INFERENCE_OUTPUT`` content for classification objectives."""
    if objective not in ("binary:logistic", "binary:hinge", "multi:softmax", "multi:softprob"):
        raise ValueError(f"Objective `{objective}` unsupported for selectable inference predictions.")
    rows = []
    for raw in predictions.tolist():
        if objective in ("binary:logistic", "binary:hinge"):
            probabilities = [1.0 - raw, raw] if objective == "binary:logistic" else [float("nan")] * 2
            label, labels = (1 if raw > 0.5 else 0), [0, 1]
            probability, raw_score, raw_scores = raw if objective == "binary:logistic" else float("nan"), raw, probabilities
        elif objective == "multi:softprob":
            probabilities, labels = raw, list(range(num_class))
            label = int(np.argmax(raw))
            probability, raw_score, raw_scores = max(raw), max(raw), raw
        else:  # multi:softmax gives the label only
            labels, label = list(range(num_class)), int(raw)
            probabilities = [float("nan")] * num_class
            probability = raw_score = float("nan")
            raw_scores = probabilities
        values = {"predicted_label": label, "labels": labels, "probability": probability,
                  "probabilities": probabilities, "raw_score": raw_score, "raw_scores": raw_scores}
        rows.append({key: values.get(key, float("nan")) for key in keys})
    return rows


def encode_selected(rows: list[dict], keys: list[str], accept: str) -> bytes:
    if accept == JSON:
        return json.dumps({"predictions": rows}).encode()
    if accept == JSONLINES:
        return "".join(json.dumps(row) + "\n" for row in rows).encode()
    lines = []
    for row in rows:
        cells = [f'"{json.dumps(row[key])}"' if isinstance(row[key], list) else str(row[key]) for key in keys]
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()
