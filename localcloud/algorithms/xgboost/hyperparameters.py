"""Hyperparameter validation with the ranges and messages of the SageMaker XGBoost container."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from localcloud.algorithms.container import UserError

MAXIMIZE_METRICS = ["auc", "aucpr", "map", "ndcg", "accuracy", "f1", "precision", "recall", "balanced_accuracy",
                    "r2", "f1_binary", "f1_macro", "precision_macro", "precision_micro", "recall_macro",
                    "recall_micro"]
MINIMIZE_METRICS = ["aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik", "interval-regression-accuracy",
                    "logloss", "mae", "mape", "merror", "mlogloss", "mse", "poisson-nloglik", "rmse", "rmsle",
                    "tweedie-nloglik", "mphe"]
OBJECTIVES = ["aft_loss_distribution", "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson",
              "multi:softmax", "multi:softprob", "rank:pairwise", "rank:ndcg", "rank:map", "reg:linear",
              "reg:squarederror", "reg:logistic", "reg:gamma", "reg:pseudohubererror", "reg:squaredlogerror",
              "reg:absoluteerror", "reg:tweedie", "survival:aft", "survival:cox"]
# Metrics the container computes itself rather than through xgboost.
CUSTOM_METRICS = {"accuracy", "f1", "precision", "recall", "balanced_accuracy", "r2", "f1_binary", "f1_macro",
                  "precision_macro", "precision_micro", "recall_macro", "recall_micro", "mse"}


@dataclass(frozen=True)
class Interval:
    min_open: float | None = None
    min_closed: float | None = None
    max_open: float | None = None
    max_closed: float | None = None

    def __contains__(self, value: float) -> bool:
        return not (
            (self.min_open is not None and value <= self.min_open)
            or (self.min_closed is not None and value < self.min_closed)
            or (self.max_open is not None and value >= self.max_open)
            or (self.max_closed is not None and value > self.max_closed)
        )

    def __str__(self) -> str:
        low = f"({self.min_open}, " if self.min_open is not None else (
            f"[{self.min_closed}, " if self.min_closed is not None else "(-inf, ")
        high = f"{self.max_open})" if self.max_open is not None else (
            f"{self.max_closed}]" if self.max_closed is not None else "+inf)")
        return low + high


def _integer(text: str) -> int:
    value = float(text)
    if not value.is_integer():
        raise ValueError(text)
    return int(value)


def _continuous(text: str) -> float:
    value = float(text)
    if math.isnan(value):
        raise ValueError(text)
    return value


# name -> (parser, Interval | list of categories | None)
SPEC: dict[str, tuple[Any, Any]] = {
    "num_round": (_integer, Interval(min_closed=1)),
    "csv_weights": (_integer, Interval(min_closed=0, max_closed=1)),
    "early_stopping_rounds": (_integer, Interval(min_closed=1)),
    "booster": (str, ["gbtree", "gblinear", "dart"]),
    "verbosity": (_integer, Interval(min_closed=0, max_closed=3)),
    "nthread": (_integer, Interval(min_closed=1)),
    "eta": (_continuous, Interval(min_closed=0, max_closed=1)),
    "gamma": (_continuous, Interval(min_closed=0)),
    "max_depth": (_integer, Interval(min_closed=0)),
    "min_child_weight": (_continuous, Interval(min_closed=0)),
    "max_delta_step": (_continuous, Interval(min_closed=0)),
    "subsample": (_continuous, Interval(min_open=0, max_closed=1)),
    "colsample_bytree": (_continuous, Interval(min_open=0, max_closed=1)),
    "colsample_bylevel": (_continuous, Interval(min_open=0, max_closed=1)),
    "colsample_bynode": (_continuous, Interval(min_open=0, max_closed=1)),
    "lambda": (_continuous, Interval(min_closed=0)),
    "alpha": (_continuous, Interval(min_closed=0)),
    "tree_method": (str, ["auto", "exact", "approx", "hist", "gpu_hist"]),
    "sketch_eps": (_continuous, Interval(min_open=0, max_open=1)),
    "scale_pos_weight": (_continuous, Interval(min_open=0)),
    "grow_policy": (str, ["depthwise", "lossguide"]),
    "max_leaves": (_integer, Interval(min_closed=0)),
    "max_bin": (_integer, Interval(min_closed=0)),
    "sample_type": (str, ["uniform", "weighted"]),
    "normalize_type": (str, ["tree", "forest"]),
    "rate_drop": (_continuous, Interval(min_closed=0, max_closed=1)),
    "one_drop": (_integer, Interval(min_closed=0, max_closed=1)),
    "skip_drop": (_continuous, Interval(min_closed=0, max_closed=1)),
    "tweedie_variance_power": (_continuous, Interval(min_open=1, max_open=2)),
    "objective": (str, OBJECTIVES),
    "num_class": (_integer, Interval(min_closed=2)),
    "base_score": (_continuous, Interval(min_closed=0)),
    "eval_metric": (lambda text: [m.strip() for m in text.split(",") if m.strip()], None),
    "seed": (_integer, Interval(min_open=-(2**31), max_open=2**31 - 1)),
    "num_parallel_tree": (_integer, Interval(min_closed=1)),
    "save_model_on_termination": (str, ["true", "false"]),
    "aft_loss_distribution": (str, ["normal", "logistic", "extreme"]),
}
REQUIRED = ("num_round",)
# SageMaker passes these to every training job; they are not the algorithm's.
IGNORED_PREFIXES = ("sagemaker_", "_")


def validate(raw: dict[str, str]) -> dict[str, Any]:
    """Typed hyperparameters, or a UserError worded as the container words it."""
    for name in REQUIRED:
        if name not in raw:
            raise UserError(f"Missing required hyperparameter: {name}")
    values: dict[str, Any] = {}
    for name, text in raw.items():
        if name.startswith(IGNORED_PREFIXES):
            continue
        if name not in SPEC:
            raise UserError(f"Extraneous hyperparameter found: {name}")
        parse, allowed = SPEC[name]
        try:
            value = parse(str(text))
        except ValueError:
            raise UserError(f"Hyperparameter {name}: could not parse value") from None
        if isinstance(allowed, Interval) and value not in allowed:
            raise UserError(f"Hyperparameter {name}: value {value} not in range {allowed}")
        if isinstance(allowed, list) and value not in allowed:
            raise UserError(f"Hyperparameter {name}: {value} is not in {allowed}")
        values[name] = value

    objective = values.get("objective")
    if objective in ("multi:softmax", "multi:softprob") and "num_class" not in values:
        raise UserError("Require input for parameter 'num_class' for multi-classification")
    if objective is None and "num_class" in values:
        raise UserError("Do not need to setup parameter 'num_class' for learning task other than multi-classification.")
    for metric in values.get("eval_metric", []):
        name = metric.split("@")[0]
        if name not in MAXIMIZE_METRICS + MINIMIZE_METRICS:
            raise UserError(f"Hyperparameter eval_metric: {metric} is not in {MAXIMIZE_METRICS + MINIMIZE_METRICS}")
        if name == "auc" and not (objective or "reg:squarederror").startswith(("binary:", "rank:")):
            raise UserError("Metric 'auc' can only be applied for classification and ranking problems.")
    return values
