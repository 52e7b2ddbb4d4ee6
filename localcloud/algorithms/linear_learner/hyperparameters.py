"""Linear Learner's hyperparameters: the documented names, defaults and ranges.

SageMaker's first-party algorithms validate hyperparameters against a JSON schema and fail with
``Unable to initialize the algorithm. Failed to validate input hyperparameters.`` followed by the
schema's complaint; the messages here keep that shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localcloud.algorithms.container import UserError

PREFIX = "Unable to initialize the algorithm. Failed to validate input hyperparameters. (caused by ValidationError)"

PREDICTOR_TYPES = ["binary_classifier", "multiclass_classifier", "regressor"]
LOSSES = ["auto", "logistic", "squared_loss", "absolute_loss", "hinge_loss", "eps_insensitive_squared_loss",
          "eps_insensitive_absolute_loss", "quantile_loss", "huber_loss", "softmax_loss"]
CRITERIA = ["accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision", "loss_function"]


@dataclass(frozen=True)
class Spec:
    kind: str  # "int", "float", "choice", "bool"
    default: Any
    low: float | None = None  # inclusive unless low_open
    high: float | None = None
    low_open: bool = False
    choices: tuple = ()
    auto: bool = False  # "auto" is accepted as well


def _int(default, low=None, high=None, auto=False):
    return Spec("int", default, low, high, auto=auto)


def _float(default, low=None, high=None, low_open=False, auto=False):
    return Spec("float", default, low, high, low_open, auto=auto)


def _choice(default, *choices):
    return Spec("choice", default, choices=tuple(choices))


def _bool(default, auto=False):
    return Spec("bool", default, auto=auto)


SPECS: dict[str, Spec] = {
    "predictor_type": _choice(None, *PREDICTOR_TYPES),
    "feature_dim": _int("auto", 1, auto=True),
    "num_classes": _int(None, 3, 1_000_000),
    "mini_batch_size": _int(1000, 1),
    "epochs": _int(15, 1),
    "num_models": _int("auto", 1, 32, auto=True),
    "num_calibration_samples": _int(10_000_000, 1),
    "init_method": _choice("uniform", "uniform", "normal"),
    "init_scale": _float(0.07, 0, low_open=True),
    "init_sigma": _float(0.01, 0, low_open=True),
    "init_bias": _float(0.0),
    "optimizer": _choice("auto", "auto", "sgd", "adam", "rmsprop"),
    "loss": _choice("auto", *LOSSES),
    "wd": _float("auto", 0, auto=True),
    "l1": _float("auto", 0, auto=True),
    "momentum": _float("auto", 0, 1, auto=True),
    "learning_rate": _float("auto", 0, low_open=True, auto=True),
    "beta_1": _float("auto", 0, 1, auto=True),
    "beta_2": _float("auto", 0, 1, auto=True),
    "bias_lr_mult": _float("auto", 0, low_open=True, auto=True),
    "bias_wd_mult": _float("auto", 0, auto=True),
    "use_lr_scheduler": _bool(True),
    "lr_scheduler_step": _int("auto", 1, auto=True),
    "lr_scheduler_factor": _float("auto", 0, 1, low_open=True, auto=True),
    "lr_scheduler_minimum_lr": _float("auto", 0, low_open=True, auto=True),
    "normalize_data": _bool(True),
    "normalize_label": _bool("auto", auto=True),
    "unbias_data": _bool("auto", auto=True),
    "unbias_label": _bool("auto", auto=True),
    "num_point_for_scaler": _int(10_000, 1),
    "margin": _float(1.0, 0),
    "quantile": _float(0.5, 0, 1, low_open=True),
    "loss_insensitivity": _float(0.01, 0, low_open=True),
    "huber_delta": _float(1.0, 0, low_open=True),
    "binary_classifier_model_selection_criteria": _choice("accuracy", *CRITERIA),
    "target_recall": _float(0.8, 0, 1),
    "target_precision": _float(0.8, 0, 1),
    "f_beta": _float(1.0, 0, low_open=True),
    "positive_example_weight_mult": _float(1.0, 0, low_open=True),
    "early_stopping_patience": _int(3, 1),
    "early_stopping_tolerance": _float(0.001, 0, low_open=True),
    "use_bias": _bool(True),
    "accuracy_top_k": _int(3, 1),
    "balance_multiclass_weights": _bool(False),
}


def _fail(reason: str) -> UserError:
    return UserError(f"{PREFIX}\n\nCaused by: {reason}")


def _parse(name: str, text: str, spec: Spec) -> Any:
    if spec.auto and text == "auto":
        return "auto"
    if name == "positive_example_weight_mult" and text == "balanced":
        return "balanced"
    if spec.kind == "choice":
        if text not in spec.choices:
            raise _fail(f"'{text}' is not one of {list(spec.choices)} (hyperparameter {name})")
        return text
    if spec.kind == "bool":
        if text.lower() not in ("true", "false"):
            raise _fail(f"'{text}' is not one of ['true', 'false'] (hyperparameter {name})")
        return text.lower() == "true"
    try:
        value = float(text)
        if spec.kind == "int":
            if not value.is_integer():
                raise ValueError
            value = int(value)
    except ValueError:
        kind = "an integer" if spec.kind == "int" else "a number"
        raise _fail(f"'{text}' is not {kind} (hyperparameter {name})") from None
    if spec.low is not None and (value <= spec.low if spec.low_open else value < spec.low):
        bound = "greater than" if spec.low_open else "greater than or equal to"
        raise _fail(f"{value} is not {bound} {spec.low:g} (hyperparameter {name})")
    if spec.high is not None and value > spec.high:
        raise _fail(f"{value} is not less than or equal to {spec.high:g} (hyperparameter {name})")
    return value


def validate(raw: dict[str, str]) -> dict[str, Any]:
    """Every hyperparameter typed, with defaults filled in; a UserError for anything invalid."""
    unknown = sorted(name for name in raw if name not in SPECS and not name.startswith(("sagemaker_", "_")))
    if unknown:
        raise _fail(f"Additional properties are not allowed ({', '.join(repr(n) for n in unknown)} "
                    f"{'was' if len(unknown) == 1 else 'were'} unexpected)")
    if "predictor_type" not in raw:
        raise _fail("'predictor_type' is a required property")
    values = {name: spec.default for name, spec in SPECS.items()}
    for name, text in raw.items():
        if name in SPECS:
            values[name] = _parse(name, str(text).strip(), SPECS[name])

    predictor = values["predictor_type"]
    if predictor == "multiclass_classifier" and values["num_classes"] is None:
        raise _fail("'num_classes' is required when predictor_type is multiclass_classifier")
    if predictor != "multiclass_classifier" and "num_classes" in raw:
        raise _fail("num_classes can only be set when predictor_type is multiclass_classifier")
    allowed = {"binary_classifier": ("auto", "logistic", "hinge_loss"),
               "multiclass_classifier": ("auto", "softmax_loss"),
               "regressor": ("auto", "squared_loss", "absolute_loss", "huber_loss", "eps_insensitive_squared_loss",
                             "eps_insensitive_absolute_loss", "quantile_loss")}[predictor]
    if values["loss"] not in allowed:
        raise _fail(f"loss {values['loss']} cannot be used with predictor_type {predictor}; use one of {list(allowed)}")
    return values
