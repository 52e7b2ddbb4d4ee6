"""Training several linear models at once and keeping the best, as Linear Learner does.

All models share each mini-batch: their weights sit side by side in one matrix, so an update is
a pair of matrix products however many models there are.  Models differ in learning rate and
weight decay (where those are ``auto``).  After training, each is judged on the selection data
(the validation channel, or a calibration sample of the training data): binary classifiers by the
model-selection criterion at their best decision threshold, the others by their loss.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from localcloud.algorithms.container import UserError
from localcloud.algorithms.linear_learner import metrics

AUTO_MODELS = 8
AUTO_LEARNING_RATES = (0.1, 0.03, 0.01, 0.003)
AUTO_WEIGHT_DECAYS = (0.0, 1e-3)
OBJECTIVES = {"logistic": "binary_classification_cross_entropy_objective", "hinge_loss": "hinge_loss_objective",
              "squared_loss": "square_loss_objective", "absolute_loss": "absolute_loss_objective",
              "huber_loss": "huber_loss_objective", "softmax_loss": "multiclass_cross_entropy_objective"}


@dataclass
class Fitted:
    weights: np.ndarray  # (features, outputs) in the original feature and label scale
    bias: np.ndarray
    threshold: float
    loss: str
    model_index: int
    settings: dict


def resolve_loss(params: dict) -> str:
    if params["loss"] != "auto":
        if params["loss"] not in OBJECTIVES:
            raise UserError(f"loss {params['loss']} is not available in localcloud's Linear Learner; "
                            f"use one of {sorted(OBJECTIVES)}")
        return params["loss"]
    return {"binary_classifier": "logistic", "multiclass_classifier": "softmax_loss",
            "regressor": "squared_loss"}[params["predictor_type"]]


def model_settings(params: dict) -> list[dict]:
    """Learning rate and weight decay of each model trained in parallel."""
    count = AUTO_MODELS if params["num_models"] == "auto" else params["num_models"]
    rates = AUTO_LEARNING_RATES if params["learning_rate"] == "auto" else (params["learning_rate"],)
    decays = AUTO_WEIGHT_DECAYS if params["wd"] == "auto" else (params["wd"],)
    grid = [(rate, decay) for decay in decays for rate in rates]
    l1 = 0.0 if params["l1"] == "auto" else params["l1"]
    return [{"learning_rate": grid[i % len(grid)][0], "wd": grid[i % len(grid)][1], "l1": l1} for i in range(count)]


class _Scaler:
    """Feature standardisation from a sample of the data, folded back into the weights at the end."""

    def __init__(self, features: np.ndarray, params: dict, rng: np.random.Generator):
        sample = features[rng.permutation(len(features))[: params["num_point_for_scaler"]]]
        enabled = params["normalize_data"]
        unbias = enabled if params["unbias_data"] == "auto" else params["unbias_data"]
        self.mean = sample.mean(axis=0) if unbias else np.zeros(features.shape[1], dtype=np.float32)
        scale = sample.std(axis=0) if enabled else np.ones(features.shape[1], dtype=np.float32)
        self.scale = np.where(scale > 1e-12, scale, 1.0).astype(np.float32)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale).astype(np.float32, copy=False)


def _targets(labels: np.ndarray, params: dict) -> np.ndarray:
    predictor = params["predictor_type"]
    if predictor == "binary_classifier":
        if not np.isin(labels, (0.0, 1.0)).all():
            raise UserError("Binary classifier labels must be 0 or 1; found " + ", ".join(
                f"{v:g}" for v in np.unique(labels)[:5]))
    elif predictor == "multiclass_classifier":
        classes = params["num_classes"]
        if not np.isin(labels, np.arange(classes)).all():
            raise UserError(f"Multiclass labels must be integers from 0 to num_classes - 1 = {classes - 1}")
    return labels.astype(np.float32)


class _Losses:
    """Gradient and value of each loss with respect to the linear outputs, for every model at once."""

    def __init__(self, loss: str, params: dict, classes: int):
        self.loss, self.params, self.classes = loss, params, classes

    def __call__(self, z: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None):
        """z: (batch, models * outputs); returns (gradient like z, per-model mean loss)."""
        loss = self.loss
        if loss == "softmax_loss":
            batch, width = z.shape
            logits = z.reshape(batch, -1, self.classes)
            logits = logits - logits.max(axis=2, keepdims=True)
            probabilities = np.exp(logits)
            probabilities /= probabilities.sum(axis=2, keepdims=True)
            index = y.astype(np.int64)
            picked = probabilities[np.arange(batch), :, index]
            values = -np.log(np.clip(picked, 1e-12, None))
            gradient = probabilities
            gradient[np.arange(batch), :, index] -= 1.0
            gradient = gradient.reshape(batch, width)
        else:
            target = y[:, None]
            if loss == "logistic":
                probabilities = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
                gradient = probabilities - target
                values = -(target * np.log(np.clip(probabilities, 1e-12, None))
                           + (1 - target) * np.log(np.clip(1 - probabilities, 1e-12, None)))
            elif loss == "hinge_loss":
                sign = 2 * target - 1
                margin = self.params["margin"] - sign * z
                gradient = np.where(margin > 0, -sign, 0.0)
                values = np.maximum(margin, 0.0)
            elif loss == "squared_loss":
                gradient = z - target
                values = 0.5 * gradient**2
            elif loss == "absolute_loss":
                gradient = np.sign(z - target)
                values = np.abs(z - target)
            else:  # huber_loss
                delta = self.params["huber_delta"]
                residual = z - target
                gradient = np.clip(residual, -delta, delta)
                values = np.where(np.abs(residual) <= delta, 0.5 * residual**2, delta * (np.abs(residual) - 0.5 * delta))
        if sample_weight is not None:
            gradient = gradient * sample_weight.reshape(-1, *([1] * (gradient.ndim - 1)))
            values = values * sample_weight.reshape(-1, *([1] * (values.ndim - 1)))
        return gradient.astype(np.float32, copy=False), values.reshape(len(z), -1).mean(axis=0)


def fit(features: np.ndarray, labels: np.ndarray, selection: tuple[np.ndarray, np.ndarray] | None,
        params: dict, log=logging.info) -> Fitted:
    rng = np.random.default_rng(0)
    predictor = params["predictor_type"]
    loss = resolve_loss(params)
    classes = params["num_classes"] if predictor == "multiclass_classifier" else 1
    settings = model_settings(params)
    count, dims = len(settings), features.shape[1]
    labels = _targets(labels, params)
    scaler = _Scaler(features, params, rng)
    x = scaler(features)

    label_mean, label_scale = 0.0, 1.0
    if predictor == "regressor":
        normalize = params["normalize_label"] in ("auto", True) and loss in ("squared_loss", "huber_loss", "absolute_loss")
        if normalize:
            label_mean = float(labels.mean()) if params["unbias_label"] in ("auto", True) else 0.0
            label_scale = float(labels.std()) or 1.0
    y = ((labels - label_mean) / label_scale).astype(np.float32)

    sample_weight = None
    if predictor == "binary_classifier":
        multiplier = params["positive_example_weight_mult"]
        if multiplier == "balanced":
            positives = max(1.0, float(labels.sum()))
            multiplier = (len(labels) - positives) / positives
        if multiplier != 1.0:
            sample_weight = np.where(labels == 1.0, multiplier, 1.0).astype(np.float32)
    elif predictor == "multiclass_classifier" and params["balance_multiclass_weights"]:
        counts = np.bincount(labels.astype(np.int64), minlength=classes).astype(np.float32)
        class_weight = len(labels) / (classes * np.maximum(counts, 1))
        sample_weight = class_weight[labels.astype(np.int64)]

    width = count * classes
    if params["init_method"] == "normal":
        weights = rng.normal(0, params["init_sigma"], (dims, width)).astype(np.float32)
    else:
        weights = rng.uniform(-params["init_scale"], params["init_scale"], (dims, width)).astype(np.float32)
    bias = np.full(width, params["init_bias"], dtype=np.float32)
    rates = np.repeat([s["learning_rate"] for s in settings], classes).astype(np.float32)
    decays = np.repeat([s["wd"] for s in settings], classes).astype(np.float32)
    l1 = np.repeat([s["l1"] for s in settings], classes).astype(np.float32)
    bias_lr_mult = 10.0 if params["bias_lr_mult"] == "auto" else params["bias_lr_mult"]
    bias_wd_mult = 0.0 if params["bias_wd_mult"] == "auto" else params["bias_wd_mult"]
    use_bias = params["use_bias"]
    optimizer = "adam" if params["optimizer"] == "auto" else params["optimizer"]
    beta1 = 0.9 if params["beta_1"] == "auto" else params["beta_1"]
    beta2 = 0.999 if params["beta_2"] == "auto" else params["beta_2"]
    momentum = 0.9 if params["momentum"] == "auto" else params["momentum"]
    step_every = 100 if params["lr_scheduler_step"] == "auto" else params["lr_scheduler_step"]
    factor = 0.99 if params["lr_scheduler_factor"] == "auto" else params["lr_scheduler_factor"]
    minimum_lr = 1e-5 if params["lr_scheduler_minimum_lr"] == "auto" else params["lr_scheduler_minimum_lr"]
    first_w, second_w = np.zeros_like(weights), np.zeros_like(weights)
    first_b, second_b = np.zeros_like(bias), np.zeros_like(bias)
    losses = _Losses(loss, params, classes)

    selection_x = selection_y = None
    if selection is not None:
        selection_x, selection_y = scaler(selection[0]), _targets(selection[1], params)
        selection_y = ((selection_y - label_mean) / label_scale).astype(np.float32)
    batch_size, epochs = params["mini_batch_size"], params["epochs"]
    best_loss, patience, step = math.inf, 0, 0
    objective = OBJECTIVES[loss]
    for epoch in range(epochs):
        started = time.perf_counter()
        order = rng.permutation(len(x))
        epoch_loss = np.zeros(count, dtype=np.float64)
        for start in range(0, len(x), batch_size):
            index = order[start:start + batch_size]
            xb = x[index]
            z = xb @ weights + bias
            gradient, batch_loss = losses(z, y[index], None if sample_weight is None else sample_weight[index])
            epoch_loss += batch_loss * len(index)
            grad_w = xb.T @ gradient / len(index) + decays * weights + l1 * np.sign(weights)
            grad_b = gradient.mean(axis=0) + bias_wd_mult * decays * bias
            step += 1
            if params["use_lr_scheduler"] and step % step_every == 0:
                rates = np.maximum(rates * factor, minimum_lr).astype(np.float32)
            if optimizer == "adam":
                first_w = beta1 * first_w + (1 - beta1) * grad_w
                second_w = beta2 * second_w + (1 - beta2) * grad_w**2
                first_b = beta1 * first_b + (1 - beta1) * grad_b
                second_b = beta2 * second_b + (1 - beta2) * grad_b**2
                correction = math.sqrt(1 - beta2**step) / (1 - beta1**step)
                weights -= rates * correction * first_w / (np.sqrt(second_w) + 1e-8)
                if use_bias:
                    bias -= bias_lr_mult * rates * correction * first_b / (np.sqrt(second_b) + 1e-8)
            elif optimizer == "rmsprop":
                second_w = 0.9 * second_w + 0.1 * grad_w**2
                second_b = 0.9 * second_b + 0.1 * grad_b**2
                weights -= rates * grad_w / (np.sqrt(second_w) + 1e-8)
                if use_bias:
                    bias -= bias_lr_mult * rates * grad_b / (np.sqrt(second_b) + 1e-8)
            else:  # sgd with momentum
                first_w = momentum * first_w - rates * grad_w
                first_b = momentum * first_b - bias_lr_mult * rates * grad_b
                weights += first_w
                if use_bias:
                    bias += first_b
        epoch_loss /= len(x)
        seconds = time.perf_counter() - started
        train_best = float(epoch_loss.min())
        log(f"#quality_metric: host=algo-1, epoch={epoch}, train {objective} <loss>={train_best}")
        watched = train_best
        if selection_x is not None:
            _, selection_losses = losses(selection_x @ weights + bias, selection_y, None)
            watched = float(selection_losses.min())
            log(f"#quality_metric: host=algo-1, epoch={epoch}, validation {objective} <loss>={watched}")
        log(f"#early_stopping_criteria_metric: host=algo-1, epoch={epoch}, criteria={objective}, value={watched}")
        log(f"#progress_metric: host=algo-1, completed {100.0 * (epoch + 1) / epochs:.3f} % of epochs")
        log(f"#throughput_metric: host=algo-1, train throughput={len(x) / max(seconds, 1e-9):.3f} records/second")
        if watched < best_loss * (1 - params["early_stopping_tolerance"]):
            best_loss, patience = watched, 0
        else:
            patience += 1
            if patience >= params["early_stopping_patience"]:
                log(f"Early stop condition met. Stopping training at epoch {epoch}.")
                break

    # Fold the scaling back in: w' = w / scale, b' = b - mean . w' (and the label scale for regressors).
    original_w = (weights / scaler.scale[:, None]) * label_scale
    original_b = (bias - (scaler.mean / scaler.scale) @ weights) * label_scale + label_mean
    if selection is None:
        sample = rng.permutation(len(features))[: params["num_calibration_samples"]]
        selection = (features[sample], labels[sample])
    chosen, threshold = _select(original_w, original_b, selection, params, loss, count, classes)
    columns = slice(chosen * classes, (chosen + 1) * classes)
    log(f"Selected model {chosen} of {count} ({settings[chosen]}), threshold {threshold}")
    return Fitted(original_w[:, columns].copy(), original_b[columns].copy(), threshold, loss, chosen, settings[chosen])


def _select(weights, bias, selection, params, loss, count, classes) -> tuple[int, float]:
    features, labels = selection
    raw = features @ weights + bias
    predictor = params["predictor_type"]
    if predictor == "binary_classifier" and params["binary_classifier_model_selection_criteria"] != "loss_function":
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw, -30, 30)))
        _, model_losses = _Losses(loss, params, classes)(raw.astype(np.float32), labels.astype(np.float32), None)
        judged = [metrics.best_threshold(scores[:, model], labels, params) for model in range(count)]
        values = np.array([value for value, _ in judged])
        best = int(np.lexsort((model_losses, -values))[0])  # ties go to the lower loss
        return best, judged[best][1]
    _, model_losses = _Losses(loss, params, classes)(raw.astype(np.float32), labels.astype(np.float32), None)
    if predictor == "multiclass_classifier":
        predicted = raw.reshape(len(raw), count, classes).argmax(axis=2)
        accuracy = (predicted == labels[:, None]).mean(axis=0)
        return int(np.lexsort((model_losses, -accuracy))[0]), 0.5
    return int(np.argmin(model_losses)), 0.5
