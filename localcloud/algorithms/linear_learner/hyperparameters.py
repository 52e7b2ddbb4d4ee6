"""Linear Learner's hyperparameters: the documented names, defaults and ranges."""

from __future__ import annotations

from typing import Any

from localcloud.algorithms.hyperparameters import (
    Spec,
    boolean,
    choice,
    fail,
    integer,
    number,
    parse_value,
    reject_unknown,
)

PREDICTOR_TYPES = ["binary_classifier", "multiclass_classifier", "regressor"]
LOSSES = ["auto", "logistic", "squared_loss", "absolute_loss", "hinge_loss", "eps_insensitive_squared_loss",
          "eps_insensitive_absolute_loss", "quantile_loss", "huber_loss", "softmax_loss"]
CRITERIA = ["accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision", "loss_function"]


SPECS: dict[str, Spec] = {
    "predictor_type": choice(None, *PREDICTOR_TYPES),
    "feature_dim": integer("auto", 1, auto=True),
    "num_classes": integer(None, 3, 1_000_000),
    "mini_batch_size": integer(1000, 1),
    "epochs": integer(15, 1),
    "num_models": integer("auto", 1, 32, auto=True),
    "num_calibration_samples": integer(10_000_000, 1),
    "init_method": choice("uniform", "uniform", "normal"),
    "init_scale": number(0.07, 0, low_open=True),
    "init_sigma": number(0.01, 0, low_open=True),
    "init_bias": number(0.0),
    "optimizer": choice("auto", "auto", "sgd", "adam", "rmsprop"),
    "loss": choice("auto", *LOSSES),
    "wd": number("auto", 0, auto=True),
    "l1": number("auto", 0, auto=True),
    "momentum": number("auto", 0, 1, auto=True),
    "learning_rate": number("auto", 0, low_open=True, auto=True),
    "beta_1": number("auto", 0, 1, auto=True),
    "beta_2": number("auto", 0, 1, auto=True),
    "bias_lr_mult": number("auto", 0, low_open=True, auto=True),
    "bias_wd_mult": number("auto", 0, auto=True),
    "use_lr_scheduler": boolean(True),
    "lr_scheduler_step": integer("auto", 1, auto=True),
    "lr_scheduler_factor": number("auto", 0, 1, low_open=True, auto=True),
    "lr_scheduler_minimum_lr": number("auto", 0, low_open=True, auto=True),
    "normalize_data": boolean(True),
    "normalize_label": boolean("auto", auto=True),
    "unbias_data": boolean("auto", auto=True),
    "unbias_label": boolean("auto", auto=True),
    "num_point_for_scaler": integer(10_000, 1),
    "margin": number(1.0, 0),
    "quantile": number(0.5, 0, 1, low_open=True),
    "loss_insensitivity": number(0.01, 0, low_open=True),
    "huber_delta": number(1.0, 0, low_open=True),
    "binary_classifier_model_selection_criteria": choice("accuracy", *CRITERIA),
    "target_recall": number(0.8, 0, 1),
    "target_precision": number(0.8, 0, 1),
    "f_beta": number(1.0, 0, low_open=True),
    "positive_example_weight_mult": number(1.0, 0, low_open=True, literals=("balanced",)),
    "early_stopping_patience": integer(3, 1),
    "early_stopping_tolerance": number(0.001, 0, low_open=True),
    "use_bias": boolean(True),
    "accuracy_top_k": integer(3, 1),
    "balance_multiclass_weights": boolean(False),
}


def validate(raw: dict[str, str]) -> dict[str, Any]:
    """Every hyperparameter typed, with defaults filled in; a UserError for anything invalid."""
    reject_unknown(raw, SPECS)
    if "predictor_type" not in raw:
        raise fail("'predictor_type' is a required property")
    values = {name: spec.default for name, spec in SPECS.items()}
    for name, text in raw.items():
        if name in SPECS:
            values[name] = parse_value(name, str(text).strip(), SPECS[name])

    predictor = values["predictor_type"]
    if predictor == "multiclass_classifier" and values["num_classes"] is None:
        raise fail("'num_classes' is required when predictor_type is multiclass_classifier")
    if predictor != "multiclass_classifier" and "num_classes" in raw:
        raise fail("num_classes can only be set when predictor_type is multiclass_classifier")
    allowed = {"binary_classifier": ("auto", "logistic", "hinge_loss"),
               "multiclass_classifier": ("auto", "softmax_loss"),
               "regressor": ("auto", "squared_loss", "absolute_loss", "huber_loss", "eps_insensitive_squared_loss",
                             "eps_insensitive_absolute_loss", "quantile_loss")}[predictor]
    if values["loss"] not in allowed:
        raise fail(f"loss {values['loss']} cannot be used with predictor_type {predictor}; use one of {list(allowed)}")
    return values
