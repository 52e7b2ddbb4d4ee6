"""SageMaker's wire protocols: the control plane (JSON 1.1, ``X-Amz-Target: SageMaker.<Operation>``)
for the operations localcloud owns, and the runtime's ``InvokeEndpoint`` (REST-JSON)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from localcloud.config import ACCOUNT_ID, DEFAULT_REGION
from localcloud.sagemaker import service
from localcloud.sagemaker.hosting import ContainerTimeout, VariantUnavailable
from localcloud.sagemaker.models import SageMakerError, ValidationException
from localcloud.validation import operation_model, validation_errors, validation_message

# Operation -> (backend method, takes the whole request rather than a name)
OPERATIONS = {
    "CreateTrainingJob": ("create_training_job", True),
    "DescribeTrainingJob": ("describe_training_job", "TrainingJobName"),
    "ListTrainingJobs": ("list_training_jobs", True),
    "StopTrainingJob": ("stop_training_job", "TrainingJobName"),
    "CreateModel": ("create_model", True),
    "DescribeModel": ("describe_model", "ModelName"),
    "ListModels": ("list_models", True),
    "DeleteModel": ("delete_model", "ModelName"),
    "CreateEndpointConfig": ("create_endpoint_config", True),
    "DescribeEndpointConfig": ("describe_endpoint_config", "EndpointConfigName"),
    "ListEndpointConfigs": ("list_endpoint_configs", True),
    "DeleteEndpointConfig": ("delete_endpoint_config", "EndpointConfigName"),
    "CreateEndpoint": ("create_endpoint", True),
    "DescribeEndpoint": ("describe_endpoint", "EndpointName"),
    "ListEndpoints": ("list_endpoints", True),
    "UpdateEndpoint": ("update_endpoint", True),
    "DeleteEndpoint": ("delete_endpoint", "EndpointName"),
    "CreateHyperParameterTuningJob": ("create_hyper_parameter_tuning_job", True),
    "DescribeHyperParameterTuningJob": ("describe_hyper_parameter_tuning_job", "HyperParameterTuningJobName"),
    "ListHyperParameterTuningJobs": ("list_hyper_parameter_tuning_jobs", True),
    "StopHyperParameterTuningJob": ("stop_hyper_parameter_tuning_job", "HyperParameterTuningJobName"),
    "ListTrainingJobsForHyperParameterTuningJob": ("list_training_jobs_for_hyper_parameter_tuning_job", True),
    "CreateTransformJob": ("create_transform_job", True),
    "DescribeTransformJob": ("describe_transform_job", "TransformJobName"),
    "ListTransformJobs": ("list_transform_jobs", True),
    "StopTransformJob": ("stop_transform_job", "TransformJobName"),
    "AddTags": ("add_tags", True),
    "ListTags": ("list_tags", True),
    "DeleteTags": ("delete_tags", True),
}
INVOKE_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")
PAYLOAD_LIMIT = 6 * 1024 * 1024
CONTAINER_TIMEOUT_SECONDS = 60
_REGION = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/aws4_request")


def _scope(request: Request) -> tuple[str, str]:
    match = _REGION.search(request.headers.get("Authorization", ""))
    return (match["region"], match["service"]) if match else (DEFAULT_REGION, "")


def control_plane_operation(request: Request) -> str | None:
    """The SageMaker operation this request calls, if it is a control-plane call."""
    target = request.headers.get("X-Amz-Target", "")
    return target[len("SageMaker."):] if target.startswith("SageMaker.") else None


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _error(error: SageMakerError, rest: bool = False, extra: dict | None = None) -> Response:
    body = {"message": error.message, **(extra or {})}
    if not rest:
        body["__type"] = error.code
    return Response(json.dumps(body), status=error.status, mimetype="application/x-amz-json-1.1",
                    headers={"x-amzn-ErrorType": error.code, "x-amzn-RequestId": str(uuid.uuid4())})


class UnsupportedOperation(SageMakerError):
    code = "UnsupportedOperation"


def handle_control_plane(request: Request, operation: str) -> Response:
    region, _ = _scope(request)
    if operation not in OPERATIONS:  # moto's SageMaker would fake it (a job "Completed" that did nothing)
        return _error(UnsupportedOperation(
            f"SageMaker operation {operation} is not supported by localcloud. It runs: {', '.join(sorted(OPERATIONS))}. "
            "Use an AWS account for the others."))
    try:
        params = json.loads(request.get_data() or b"{}")
        if not isinstance(params, dict):
            raise ValueError("not an object")
    except (ValueError, RecursionError):
        return _error(ValidationException("The request body is not valid JSON."))
    errors = validation_errors(operation_model("sagemaker", operation), params)
    if errors:
        return _error(ValidationException(validation_message(errors)))
    method_name, argument = OPERATIONS[operation]
    backend = service.current().backend(region)
    method = getattr(backend, method_name)
    try:
        result = method(params) if argument is True else method(params[argument])
    except SageMakerError as error:
        return _error(error)
    if operation.startswith("Create") and params.get("Tags"):
        backend.record_tags(next(value for key, value in result.items() if key.endswith("Arn")), params["Tags"])
    return Response(json.dumps(result, default=_json), mimetype="application/x-amz-json-1.1",
                    headers={"x-amzn-RequestId": str(uuid.uuid4())})


class ModelError(SageMakerError):
    code = "ModelError"
    status = 424


class RuntimeValidationError(SageMakerError):
    """The runtime's model names its validation error ValidationError, not ValidationException."""

    code = "ValidationError"


def invoke_endpoint(request: Request, endpoint_name: str) -> Response:
    region, _ = _scope(request)
    backend = service.current().backend(region)
    body = request.get_data()
    try:
        if len(body) > PAYLOAD_LIMIT:
            raise RuntimeValidationError(f"Received payload of {len(body)} bytes, over the limit of {PAYLOAD_LIMIT} "
                                      "bytes (6 MB) for real-time inference.")
        endpoint = backend.endpoints.get(endpoint_name)
        if endpoint is None:
            raise RuntimeValidationError(f"Endpoint {endpoint_name} of account {ACCOUNT_ID} not found.")
        if endpoint.status not in ("InService", "Updating"):
            raise RuntimeValidationError(f"Endpoint {endpoint_name} of account {ACCOUNT_ID} is not in service "
                                      f"(status {endpoint.status}).")
        server = backend.host.route(endpoint, request.headers.get("X-Amzn-SageMaker-Target-Variant"))
    except SageMakerError as error:
        return _error(error, rest=True)
    except VariantUnavailable as error:
        return _error(RuntimeValidationError(str(error)), rest=True)

    headers = {"Content-Type": request.headers.get("Content-Type", "application/octet-stream"),
               "Accept": request.headers.get("Accept", "")}
    if "X-Amzn-SageMaker-Custom-Attributes" in request.headers:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = request.headers["X-Amzn-SageMaker-Custom-Attributes"]
    try:
        reply = server.invoke(body, headers, CONTAINER_TIMEOUT_SECONDS)
    except (ContainerTimeout, VariantUnavailable) as failure:
        return _unanswered(failure, region, endpoint_name, server.log_stream)
    if reply.status >= 400:
        original = reply.body.decode("utf-8", errors="replace")
        kind = "client" if reply.status < 500 else "server"
        message = (f"Received {kind} error ({reply.status}) from primary and variant {server.variant_name} with message "
                   f"\"{original}\". See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
                   f"#logEventViewer:group=/aws/sagemaker/Endpoints/{endpoint_name} in account {ACCOUNT_ID} for more "
                   "information.")
        return _error(ModelError(message), rest=True,
                      extra={"OriginalStatusCode": reply.status, "OriginalMessage": original,
                             "LogStreamArn": _log_stream_arn(region, endpoint_name, server.log_stream)})
    response_headers = {"x-Amzn-Invoked-Production-Variant": server.variant_name,
                        "x-amzn-RequestId": str(uuid.uuid4())}
    if "x-amzn-sagemaker-custom-attributes" in reply.headers:
        response_headers["X-Amzn-SageMaker-Custom-Attributes"] = reply.headers["x-amzn-sagemaker-custom-attributes"]
    return Response(reply.body, status=200, headers=response_headers,
                    content_type=reply.headers.get("content-type", "application/octet-stream"))


def _log_stream_arn(region: str, endpoint_name: str, log_stream: str) -> str:
    return f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:/aws/sagemaker/Endpoints/{endpoint_name}:log-stream:{log_stream}"


def _unanswered(failure: ContainerTimeout | VariantUnavailable, region: str, endpoint_name: str,
                log_stream: str) -> Response:
    """The ModelError of a request that the serving process did not answer."""
    log_stream_arn = _log_stream_arn(region, endpoint_name, log_stream)
    if isinstance(failure, ContainerTimeout):
        message = ("Your invocation timed out while waiting for a response from container primary. Review the latency "
                   "metrics for each container in Amazon CloudWatch, resolve the issue, and try again.")
        return _error(ModelError(f"Received server error (0) from primary with message \"{message}\". See "
                                 f"{log_stream_arn} for more information."), rest=True,
                      extra={"OriginalStatusCode": 0, "OriginalMessage": message, "LogStreamArn": log_stream_arn})
    return _error(ModelError(f"Received server error (0) from primary with message \"{failure}\"."), rest=True,
                  extra={"OriginalStatusCode": 0, "OriginalMessage": str(failure), "LogStreamArn": log_stream_arn})
