"""Hyperparameter specifications shared by the first-party algorithms (Linear Learner, Image Classification).

Those algorithms validate hyperparameters against a JSON schema and fail with
``Unable to initialize the algorithm. Failed to validate input hyperparameters.`` followed by the
schema's complaint; the messages here keep that shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localcloud.algorithms.container import UserError

PREFIX = "Unable to initialize the algorithm. Failed to validate input hyperparameters. (caused by ValidationError)"


@dataclass(frozen=True)
class Spec:
    kind: str  # "int", "float", "choice", "bool"
    default: Any
    low: float | None = None  # inclusive unless low_open
    high: float | None = None
    low_open: bool = False
    choices: tuple = ()
    auto: bool = False  # "auto" is accepted as well
    literals: tuple = ()  # other words accepted as they are (Linear Learner's "balanced")


def integer(default, low=None, high=None, auto=False):
    return Spec("int", default, low, high, auto=auto)


def number(default, low=None, high=None, low_open=False, auto=False, literals=()):
    return Spec("float", default, low, high, low_open, auto=auto, literals=tuple(literals))


def choice(default, *choices):
    return Spec("choice", default, choices=tuple(choices))


def boolean(default, auto=False):
    return Spec("bool", default, auto=auto)


def fail(reason: str) -> UserError:
    return UserError(f"{PREFIX}\n\nCaused by: {reason}")


def parse_value(name: str, text: str, spec: Spec) -> Any:
    if spec.auto and text == "auto":
        return "auto"
    if text in spec.literals:
        return text
    if spec.kind == "choice":
        if text not in spec.choices:
            raise fail(f"'{text}' is not one of {list(spec.choices)} (hyperparameter {name})")
        return text
    if spec.kind == "bool":
        if text.lower() not in ("true", "false"):
            raise fail(f"'{text}' is not one of ['true', 'false'] (hyperparameter {name})")
        return text.lower() == "true"
    try:
        value = float(text)
        if spec.kind == "int":
            if not value.is_integer():
                raise ValueError
            value = int(value)
    except ValueError:
        kind = "an integer" if spec.kind == "int" else "a number"
        raise fail(f"'{text}' is not {kind} (hyperparameter {name})") from None
    if spec.low is not None and (value <= spec.low if spec.low_open else value < spec.low):
        bound = "greater than" if spec.low_open else "greater than or equal to"
        raise fail(f"{value} is not {bound} {spec.low:g} (hyperparameter {name})")
    if spec.high is not None and value > spec.high:
        raise fail(f"{value} is not less than or equal to {spec.high:g} (hyperparameter {name})")
    return value




def reject_unknown(raw: dict[str, str], specs: dict[str, Spec]) -> None:
    unknown = sorted(name for name in raw if name not in specs and not name.startswith(("sagemaker_", "_")))
    if unknown:
        raise fail(f"Additional properties are not allowed ({', '.join(repr(n) for n in unknown)} "
                   f"{'was' if len(unknown) == 1 else 'were'} unexpected)")
