"""Lambda's ``Invoke`` on the wire (REST-JSON), answered by localcloud rather than moto.

The request is checked as the service checks it before anything runs: the parameters against
botocore's model (``InvocationType``, ``LogType``, ``Qualifier``), the function's region and
account, the qualifier against the versions and aliases that exist, and the payload, which must
be JSON that Lambda's own parser accepts (no ``NaN``, no byte-order mark, valid UTF-8, at most
6 MB synchronous or 1 MB asynchronous).  Then the function runs in localcloud's runtime.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from moto.core.exceptions import JsonRESTError
from werkzeug.wrappers import Request, Response

from localcloud.auth import credential_scope
from localcloud.awslambda import models
from localcloud.config import ACCOUNT_ID, DEFAULT_REGION
from localcloud.errors import error_response
from localcloud.validation import operation_model, validation_errors, validation_message

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
_FUNCTION_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:")


class ValidationException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("ValidationException", message)


class ResourceNotFoundException(JsonRESTError):
    code = 404

    def __init__(self, message: str):
        super().__init__("ResourceNotFoundException", message)


def invoke(request: Request, function_name: str) -> Response:
    environ = request.environ
    region = credential_scope(environ)[0] or DEFAULT_REGION
    request_id = str(uuid.uuid4())
    try:
        function, invocation_type, log_type = _function_and_options(request, function_name, region)
        event = _event(request.get_data(), invocation_type)
        if invocation_type == "DryRun":
            return Response(status=204, headers={"x-amzn-RequestId": request_id})
        if invocation_type == "Event":
            request_id = models.invoke_function_async(function, event)
            return Response(status=202, headers={"x-amzn-RequestId": request_id})
        result = models.invoke_function(function, event, request_id)
    except JsonRESTError as error:
        return error_response(environ, error.code, error.error_type, error.message, "lambda",
                              extra=_extra_fields(error))
    headers = {"x-amzn-RequestId": request_id, "X-Amz-Executed-Version": result.executed_version}
    if result.function_error:
        headers["X-Amz-Function-Error"] = result.function_error
    if log_type == "Tail":
        headers["X-Amz-Log-Result"] = result.log_tail
    return Response(result.payload, status=200, headers=headers, content_type="application/json")


def _function_and_options(request: Request, function_name: str, region: str) -> tuple[Any, str, str]:
    qualifier = request.args.get("Qualifier")
    invocation_type = request.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    log_type = request.headers.get("X-Amz-Log-Type") or "None"
    params = {"FunctionName": function_name, "InvocationType": invocation_type, "LogType": log_type}
    if qualifier is not None:
        params["Qualifier"] = qualifier
    errors = validation_errors(operation_model("lambda", "Invoke"), params)
    if errors:
        raise ValidationException(validation_message(errors))
    arn = _FUNCTION_ARN.match(function_name)
    if arn and arn["region"] != region:
        raise ResourceNotFoundException(f"Functions from '{arn['region']}' are not reachable in this region "
                                        f"('{region}')")
    if arn and arn["account"] != ACCOUNT_ID:
        raise ResourceNotFoundException(f"Function not found: {function_name}")
    return models.find_function(function_name, region, ACCOUNT_ID, qualifier), invocation_type, log_type


def _event(body: bytes, invocation_type: str) -> bytes:
    """The payload as the function will see it, refused as Lambda refuses it."""
    limit = models.ASYNC_PAYLOAD_LIMIT if invocation_type == "Event" else models.SYNC_PAYLOAD_LIMIT
    if len(body) > limit:
        raise models.RequestTooLargeException(
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation")
    if not body:
        return b"{}"
    try:
        json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise models.InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: {error}") from None
    return body


def _refuse_constant(name: str) -> None:
    raise ValueError(f"Unrecognized token '{name}': was expecting a JSON value")


def _extra_fields(error: JsonRESTError) -> dict:
    """The fields beyond ``message`` that some of Lambda's errors carry (throttling's ``Reason``)."""
    try:
        body = json.loads(error.description)
    except (TypeError, ValueError):
        return {}
    return {key: value for key, value in body.items() if key in ("Reason", "Type")}
