"""Training: channels and hyperparameters in, the service's log lines and ``model_algo-1`` out."""

from __future__ import annotations

import json
import logging

import numpy as np

from localcloud.algorithms.container import TrainingEnvironment, UserError
from localcloud.algorithms.linear_learner import data, hyperparameters, learner, metrics
from mlformats.linear_learner import ARCHIVE_MEMBER, LinearLearnerModel

CHANNELS = ("train", "validation", "test")


def train(environment: TrainingEnvironment) -> None:
    params = hyperparameters.validate(environment.hyperparameters)
    logging.info("Final configuration: %s", json.dumps(params, sort_keys=True))
    unknown = sorted(set(environment.input_data_config) - set(CHANNELS))
    if unknown:
        raise UserError(f"Unexpected channel(s) {unknown}: Linear Learner accepts {list(CHANNELS)}")
    if "train" not in environment.input_data_config:
        raise UserError("Missing required channel: train")
    channels = {name: data.load_channel(environment.channel_dir(name), environment.content_type(name, data.CSV))
                for name in CHANNELS if name in environment.input_data_config}
    features, labels = channels["train"]
    dims = features.shape[1]
    if params["feature_dim"] != "auto" and params["feature_dim"] != dims:
        raise UserError(f"The feature_dim hyperparameter ({params['feature_dim']}) does not match the number of "
                        f"features in the training data ({dims})")
    for name in ("validation", "test"):
        if channels.get(name) is not None and channels[name][0].shape[1] != dims:
            raise UserError(f"The {name} data has {channels[name][0].shape[1]} features; the training data has {dims}")
    logging.info("Training on %d records with %d features", len(features), dims)

    fitted = learner.fit(features, labels, channels.get("validation"), params)
    predictor = params["predictor_type"]
    model = LinearLearnerModel(
        fitted.weights, fitted.bias, predictor, fitted.threshold,
        {"loss_type": fitted.loss, **({"num_classes": params["num_classes"]} if predictor == "multiclass_classifier" else {}),
         "metrics_params": {"accuracy_top_k": params["accuracy_top_k"], "f_beta": params["f_beta"],
                            "positive_example_weight_mult": params["positive_example_weight_mult"],
                            "threshold": fitted.threshold}})
    objective = learner.OBJECTIVES[fitted.loss]
    for name in ("validation", "test"):
        if channels.get(name) is not None:
            for metric, value in _evaluate(model, fitted.loss, params, *channels[name]).items():
                if metric == "objective_loss":
                    logging.info("#quality_metric: host=algo-1, %s %s <loss>=%s", name, objective, value)
                else:
                    unit = "loss" if metric in metrics.LOSS_LIKE else "score"
                    logging.info("#quality_metric: host=algo-1, %s %s <%s>=%s", name, metric, unit, value)
    environment.model_dir.mkdir(parents=True, exist_ok=True)
    (environment.model_dir / ARCHIVE_MEMBER).write_bytes(model.archive_member())


def _evaluate(model: LinearLearnerModel, loss: str, params: dict, features: np.ndarray, labels: np.ndarray) -> dict:
    raw = model.raw(features)
    predictor = model.predictor_type
    classes = raw.shape[1]
    _, loss_values = learner._Losses(loss, params, classes)(raw.astype(np.float32), labels.astype(np.float32), None)
    if predictor == "binary_classifier":
        outputs = 1.0 / (1.0 + np.exp(-raw[:, 0]))
    elif predictor == "multiclass_classifier":
        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
        outputs = shifted / shifted.sum(axis=1, keepdims=True)
    else:
        outputs = raw[:, 0]
    return metrics.evaluate(predictor, outputs, labels, model.threshold, float(loss_values[0]), params)
