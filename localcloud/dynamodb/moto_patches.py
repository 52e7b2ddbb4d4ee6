"""Where localcloud changes moto's DynamoDB (through :mod:`localcloud.motoadapter`).

PartiQL ``ExecuteStatement`` binds ``?`` parameters in every statement, as DynamoDB does
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.html, "parameters").
moto's parser binds them in ``SELECT`` and ``UPDATE`` but not in ``INSERT`` (it failed with a
``TypeError``, a 500) nor in ``DELETE`` (it compared the key with the text ``?``).  Here each ``?``
of those two becomes a unique string placeholder before parsing, and each placeholder in what the
parser produced is then replaced by the typed value the request sent, so every DynamoDB type binds
exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.parsing import partiql

from localcloud import motoadapter

MISMATCH = "Number of parameters in request and statement don't match."


def _with_placeholders(statement: str, parameters: list[dict[str, Any]]) -> tuple[str, dict[str, dict[str, Any]]]:
    """``statement`` with each ``?`` outside quotes replaced by a quoted placeholder, and what each stands for."""
    marker = uuid.uuid4().hex
    pieces, bound, quote = [], {}, None
    for character in statement:
        if quote:
            quote = None if character == quote else quote
        elif character in "'\"":
            quote = character
        elif character == "?":
            if len(bound) == len(parameters):
                raise MockValidationException(MISMATCH)
            placeholder = f"{marker}-{len(bound)}"
            bound[placeholder] = parameters[len(bound)]
            pieces.append(f"'{placeholder}'")
            continue
        pieces.append(character)
    if len(bound) != len(parameters):
        raise MockValidationException(MISMATCH)
    return "".join(pieces), bound


def _bind(value: Any, bound: dict[str, dict[str, Any]]) -> Any:
    """``value`` (a DynamoDB-typed item or attribute) with each placeholder replaced by its parameter."""
    if isinstance(value, Mapping):  # the parser's items are case-insensitive mappings, not dicts
        if set(value) == {"S"} and value["S"] in bound:
            return bound[value["S"]]
        return {key: _bind(inner, bound) for key, inner in value.items()}
    if isinstance(value, list):
        return [_bind(inner, bound) for inner in value]
    return value


def _delete(statement: str, source_data: dict[str, list[Any]], bound: dict[str, dict[str, Any]]):
    from py_partiql_parser._internal.delete_parser import DeleteParser

    table_name, key = DeleteParser().parse(statement.replace("\n", " "))
    if table_name not in source_data:
        return moto_query(statement, source_data, [])  # moto's own error for an unknown table
    key = [(name, _bind(value, bound)) for name, value in key]
    deleted = [(item, None) for item in source_data[table_name]
               if all(item.get(name) == value for name, value in key)]
    return [], {table_name: deleted}


def query(statement: str, source_data: dict[str, list[Any]], parameters: list[dict[str, Any]]):
    verb = statement.lstrip()[:6].lower()
    if verb not in ("insert", "delete") or not parameters and "?" not in statement:
        return moto_query(statement, source_data, parameters)
    text, bound = _with_placeholders(statement, list(parameters or []))
    if verb == "delete":
        return _delete(text, source_data, bound)
    return_data, updates = moto_query(text, source_data, [])
    return return_data, {table: [(_bind(before, bound), _bind(after, bound)) for before, after in changes]
                         for table, changes in updates.items()}


moto_query = partiql.query  # moto's parser; install() checks it before replacing it


def install() -> None:
    global moto_query
    moto_query = motoadapter.replace(partiql, "query", query, ("statement", "source_data", "parameters"))
