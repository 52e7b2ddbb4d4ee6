"""Requests in AWS's JSON protocol, checked against botocore's models before moto reads them.

The services answer a body that is not a JSON object, or a member of the wrong JSON type, with
``SerializationException``, and a missing required member with ``ValidationException``, before any of
their own code runs; moto's handlers assume well-formed input and fail with an internal error otherwise.
So localcloud checks first, and moto sees only requests the real service would read.  Enums, patterns
and lengths are left to moto: some services accept more than their model lists (SQS's ReceiveMessage
takes message attributes such as ``ApproximateReceiveCount`` in ``AttributeNames``).
"""

from __future__ import annotations

import functools
import json

import botocore.session
from werkzeug.wrappers import Response

from localcloud.auth import credential_scope, read_body
from localcloud.errors import error_response
from localcloud.validation import type_errors, validation_errors, validation_message


@functools.cache
def _json_service(signing_name: str, target_prefix: str):
    """botocore's model of the JSON-protocol service that signs as ``signing_name`` and takes this target."""
    try:
        model = botocore.session.get_session().get_service_model(signing_name)
    except Exception:  # a service botocore does not know by that name: moto answers as it can
        return None
    if model.metadata.get("targetPrefix") != target_prefix or not model.protocol.startswith("json"):
        return None
    return model


def check_json_request(environ: dict) -> Response | None:
    """The service's refusal of a malformed JSON-protocol request, or None to let it through."""
    target_prefix, _, operation_name = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")
    service = credential_scope(environ)[1]
    model = _json_service(service, target_prefix)
    if model is None:
        return None
    if operation_name not in model.operation_names:
        return error_response(environ, 400, "UnknownOperationException",
                              f"Unknown operation {operation_name} for {model.service_name}.", service)
    try:
        params = json.loads(read_body(environ) or b"{}")
    except (ValueError, RecursionError) as error:
        return error_response(environ, 400, "SerializationException", f"The request body is not JSON: {error}",
                              service)
    if not isinstance(params, dict):
        return error_response(environ, 400, "SerializationException", "The request body must be a JSON object.",
                              service)
    operation = model.operation_model(operation_name)
    errors = type_errors(operation, params)
    if errors:
        return error_response(environ, 400, "SerializationException", "; ".join(errors), service)
    errors = validation_errors(operation, params, constraints=False)
    if errors:
        return error_response(environ, 400, "ValidationException", validation_message(errors), service)
    return None
