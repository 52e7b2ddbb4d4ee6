"""Lambda's data plane joined to moto's control plane.

moto keeps the functions (code, configuration, versions, permissions); this module makes its
``Invoke`` and every trigger that reaches a function run the real code in
:class:`~localcloud.awslambda.runtime.LambdaRuntime`, and writes the invocation logs into moto's
CloudWatch Logs so that ``logs:FilterLogEvents`` and friends show them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from moto.awslambda import models as lambda_models
from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.core.exceptions import JsonRESTError

from localcloud.awslambda import event_sources, moto_patches
from localcloud.awslambda.packaging import PANDAS_LAYER_SHA256, LayerContent, is_pandas_layer
from localcloud.awslambda.runtime import (
    BadPackage,
    FunctionSpec,
    InvocationResult,
    LambdaRuntime,
    Throttled,
    UnsupportedRuntime,
)

logger = logging.getLogger("localcloud.lambda")

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 1024 * 1024

_runtime: LambdaRuntime | None = None


class InvalidRequestContentException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("InvalidRequestContentException", message)


class RequestTooLargeException(JsonRESTError):
    code = 413

    def __init__(self, message: str):
        super().__init__("RequestTooLargeException", message)


class InvalidRuntimeException(JsonRESTError):
    code = 502

    def __init__(self, message: str):
        super().__init__("InvalidRuntimeException", message)


class InvalidZipFileException(JsonRESTError):
    code = 502

    def __init__(self, message: str):
        super().__init__("InvalidZipFileException", message)


class TooManyRequestsException(JsonRESTError):
    """Lambda's throttling answer: HTTP 429 with the ``Reason`` (a ``ThrottleReason``) and ``Type``."""

    code = 429

    def __init__(self, reason: str):
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.description = json.dumps({"__type": "TooManyRequestsException", "Reason": reason, "Type": "User",
                                       "message": "Rate Exceeded."})


def function_spec(fn: lambda_models.LambdaFunction) -> FunctionSpec:
    """The execution view of a moto function version."""
    return FunctionSpec(
        name=fn.function_name,
        arn=fn.function_arn,
        version=str(fn.version),
        runtime=fn.run_time or "",
        handler=fn.handler or "",
        timeout=float(fn.timeout),
        memory_size=int(fn.memory_size),
        environment={k: str(v) for k, v in (fn.environment_vars or {}).items()},
        region=fn.region,
        # CodeSha256 is base64: make it safe for a directory name.
        code_sha256=fn.code_sha_256.replace("/", "_").replace("+", "-"),
        code_zip=fn.code_bytes,
        last_modified=str(fn.last_modified),
        layers=tuple(_layer_content(fn, layer["Arn"]) for layer in fn.layers or []),
        reserved_concurrency=moto_patches.reserved_concurrency(fn),
        region_reserved_concurrency=moto_patches.region_reserved_concurrency(fn),
    )


def _layer_content(fn: lambda_models.LambdaFunction, arn: str) -> LayerContent:
    if is_pandas_layer(arn):
        return LayerContent(arn, PANDAS_LAYER_SHA256)
    version = get_lambda_backend(fn.account_id, fn.region).layers_versions_by_arn(arn)
    if version is None:  # Lambda keeps a copy for the functions using it; localcloud does not
        raise InvalidRuntimeException(f"Layer version {arn} was deleted; localcloud cannot start the function "
                                      "without it. Update the function's Layers.")
    return LayerContent(arn, version.code_sha_256, version.code_bytes)


def invoke_function(fn: lambda_models.LambdaFunction, event: bytes, request_id: str | None = None) -> InvocationResult:
    """Run one synchronous invocation of a moto function."""
    try:
        return _require_runtime().invoke(function_spec(fn), event, request_id)
    except UnsupportedRuntime as exc:
        raise InvalidRuntimeException(str(exc)) from exc
    except BadPackage as exc:
        raise InvalidZipFileException(str(exc)) from exc
    except Throttled as exc:
        raise TooManyRequestsException(exc.reason) from exc


def invoke_function_async(fn: lambda_models.LambdaFunction, event: bytes) -> str:
    """Queue an asynchronous (``Event``) invocation, as S3, SNS and ``InvocationType=Event`` do."""
    name = fn.function_name

    def report(exc: Exception) -> None:
        logger.error("asynchronous invocation of %s failed: %s", name, exc)

    return _require_runtime().invoke_async(function_spec(fn), event, on_error=report)


def find_function(arn_or_name: str, region: str, account_id: str,
                  qualifier: str | None = None) -> lambda_models.LambdaFunction:
    """The function version or alias named (``$LATEST`` without a qualifier); moto's
    ``ResourceNotFoundException`` when there is none."""
    return get_lambda_backend(account_id, region).get_function(arn_or_name, qualifier)


def _require_runtime() -> LambdaRuntime:
    if _runtime is None:
        raise RuntimeError("localcloud's Lambda runtime is not started")
    return _runtime


def deliver_event(self: lambda_models.LambdaFunction, body: Any, request_headers: Any = None,
                  response_headers: Any = None) -> bytes:
    """Replacement for moto's ``LambdaFunction.invoke``, which only moto's own event sources (DynamoDB and
    Kinesis streams, CloudWatch Logs subscriptions, EventBridge, the old InvokeAsync API) still call: Lambda
    invokes those asynchronously, so the write that triggered them never waits for the function (and a
    function's own log write can never wait for itself)."""
    event = body.encode("utf-8") if isinstance(body, str) else (body or b"{}")
    invoke_function_async(self, event)
    return b""


def install(runtime: LambdaRuntime) -> None:
    """Route moto's Lambda invocations to ``runtime``."""
    global _runtime
    _runtime = runtime
    moto_patches.install()
    event_sources.POLLERS.bind(invoke_function, runtime.closed)
