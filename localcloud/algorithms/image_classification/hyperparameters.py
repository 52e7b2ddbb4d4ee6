"""Image Classification's hyperparameters: the documented names, defaults and ranges."""

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
from localcloud.algorithms.image_classification.network import SUPPORTED_DEPTHS

SPECS: dict[str, Spec] = {
    "num_classes": integer(None, 2),
    "num_training_samples": integer(None, 1),
    "image_shape": Spec("text", "3,224,224"),
    "num_layers": integer(152, 1),
    "epochs": integer(30, 1),
    "learning_rate": number(0.1, 0, 1, low_open=True),
    "mini_batch_size": integer(32, 1),
    "optimizer": choice("sgd", "sgd", "adam", "rmsprop", "nag"),
    "momentum": number(0.9, 0, 1),
    "weight_decay": number(0.0001, 0, 1),
    "beta_1": number(0.9, 0, 1),
    "beta_2": number(0.999, 0, 1),
    "eps": number(1e-8, 0, 1, low_open=True),
    "gamma": number(0.9, 0, 1),
    "lr_scheduler_factor": number(0.1, 0, 1),
    "lr_scheduler_step": Spec("text", ""),
    "augmentation_type": choice("", "", "crop", "crop_color", "crop_color_transform"),
    "top_k": integer(5, 2),
    "precision_dtype": choice("float32", "float32", "float16"),
    "resize": integer(None, 1),
    "early_stopping": boolean(False),
    "early_stopping_min_epochs": integer(10, 1),
    "early_stopping_patience": integer(5, 1),
    "early_stopping_tolerance": number(0.0, 0, 1),
    "checkpoint_frequency": integer(None, 1),
    "use_pretrained_model": integer(0, 0, 1),
    "use_weighted_loss": integer(0, 0, 1),
    "multi_label": integer(0, 0, 0),
    "kv_store": choice("device", "device", "dist_sync", "dist_async"),
}


def _parse(name: str, text: str, spec: Spec) -> Any:
    if spec.kind != "text":
        return parse_value(name, text, spec)
    if name == "image_shape":
        try:
            shape = tuple(int(part) for part in text.split(","))
        except ValueError:
            shape = ()
        if len(shape) != 3 or shape[0] not in (1, 3) or min(shape) < 1:
            raise fail(f"'{text}' is not a valid image_shape: use channels,height,width such as 3,224,224")
        return shape
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise fail(f"'{text}' is not a comma-separated list of epochs (hyperparameter {name})") from None


def validate(raw: dict[str, str]) -> dict[str, Any]:
    reject_unknown(raw, SPECS)
    for required in ("num_classes", "num_training_samples"):
        if required not in raw:
            raise fail(f"'{required}' is a required property")
    values = {name: spec.default for name, spec in SPECS.items()}
    values["image_shape"] = (3, 224, 224)
    values["lr_scheduler_step"] = ()
    for name, text in raw.items():
        if name in SPECS:
            values[name] = _parse(name, str(text).strip(), SPECS[name])
    if values["num_layers"] not in SUPPORTED_DEPTHS:
        raise fail(f"{values['num_layers']} is not one of {list(SUPPORTED_DEPTHS)} (hyperparameter num_layers)")
    return values
