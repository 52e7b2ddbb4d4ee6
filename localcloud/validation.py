"""Server-side request validation from botocore's service models, worded as AWS words it.

botocore checks required members and types on the client; the service also checks lengths,
ranges, enum values and patterns, and answers ``ValidationException`` with messages such as::

    1 validation error detected: Value 'bad name' at 'trainingJobName' failed to satisfy
    constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session
from botocore.model import OperationModel, Shape

MAX_REPORTED_ERRORS = 10  # the service stops listing after a handful, as here


@functools.cache
def service_model(service: str):
    return botocore.session.get_session().get_service_model(service)


def operation_model(service: str, operation: str) -> OperationModel:
    return service_model(service).operation_model(operation)


def validation_errors(operation: OperationModel, params: dict[str, Any], constraints: bool = True) -> list[str]:
    """Every constraint of the operation's input shape that ``params`` violates; with ``constraints`` off,
    only missing required members (some services accept values outside their model's enums)."""
    errors: list[str] = []
    if operation.input_shape is not None:
        _check(operation.input_shape, params, "", errors, top=True, constraints=constraints)
    return errors


def validation_message(errors: list[str]) -> str:
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(errors[:MAX_REPORTED_ERRORS])


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(pattern, re.S)
    except re.error:  # a Java-only construct (\p{...}): the service checks it, we cannot
        return None


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _check(shape: Shape, value: Any, path: str, errors: list[str], top: bool = False, constraints: bool = True) -> None:
    meta = shape.metadata
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return
        for name in meta.get("required", []):
            if value.get(name) is None:
                member_path = _camel(name) if top else f"{path}.{_camel(name)}"
                errors.append(f"Value null at '{member_path}' failed to satisfy constraint: Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                member_path = _camel(name) if top else f"{path}.{_camel(name)}"
                _check(member, value[name], member_path, errors, constraints=constraints)
        return
    if not constraints:
        if shape.type_name == "list" and isinstance(value, list):
            for index, item in enumerate(value, start=1):
                _check(shape.member, item, f"{path}.{index}.member", errors, constraints=False)
        elif shape.type_name == "map" and isinstance(value, dict):
            for key, item in value.items():
                _check(shape.value, item, f"{path}.{key}.value", errors, constraints=False)
        return

    def fail(constraint: str) -> None:
        errors.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: {constraint}")

    if shape.type_name == "list":
        if not isinstance(value, list):
            return
        _check_length(meta, len(value), fail)
        for index, item in enumerate(value, start=1):
            _check(shape.member, item, f"{path}.{index}.member", errors)
    elif shape.type_name == "map":
        if not isinstance(value, dict):
            return
        _check_length(meta, len(value), fail)
        for key, item in value.items():
            _check(shape.key, key, f"{path}.{key}.key", errors)
            _check(shape.value, item, f"{path}.{key}.value", errors)
    elif shape.type_name == "string":
        if not isinstance(value, str):
            return
        _check_length(meta, len(value), fail)
        if shape.enum and value not in shape.enum:
            fail(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        pattern = meta.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            fail(f"Member must satisfy regular expression pattern: {pattern}")
    elif shape.type_name in ("integer", "long", "float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        if "min" in meta and value < meta["min"]:
            fail(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            fail(f"Member must have value less than or equal to {meta['max']}")


def _check_length(meta: dict, length: int, fail) -> None:
    if "min" in meta and length < meta["min"]:
        fail(f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and length > meta["max"]:
        fail(f"Member must have length less than or equal to {meta['max']}")


_JSON_TYPES = {"string": str, "blob": str, "boolean": bool, "integer": int, "long": int, "float": (int, float),
               "double": (int, float), "timestamp": (int, float, str), "structure": dict, "list": list, "map": dict}


def type_errors(operation: OperationModel, params: Any) -> list[str]:
    """Members of a JSON request whose JSON type is not the one the model gives them (the service answers
    ``SerializationException`` for these before it looks at any value)."""
    errors: list[str] = []
    if operation.input_shape is not None:
        _check_types(operation.input_shape, params, "", errors)
    return errors


def _check_types(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    if value is None or len(errors) >= MAX_REPORTED_ERRORS:
        return
    expected = _JSON_TYPES.get(shape.type_name)
    numeric = shape.type_name in ("integer", "long", "float", "double")
    if expected and (not isinstance(value, expected) or (numeric and isinstance(value, bool))):
        errors.append(f"{path or 'The request body'} must be a JSON {shape.type_name}, not {_json_type(value)}")
        return
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value:
                _check_types(member, value[name], f"{path}.{name}" if path else name, errors)
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            _check_types(shape.member, item, f"{path}[{index}]", errors)
    elif shape.type_name == "map":
        for key, item in value.items():
            _check_types(shape.value, item, f"{path}.{key}", errors)


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number"}.get(type(value), type(value).__name__)
