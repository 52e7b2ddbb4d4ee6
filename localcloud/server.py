"""The one WSGI application behind localcloud's port.

Requests for API Gateway stages (the execute-api URL forms) and localcloud's own endpoints are
answered here; everything else is an AWS API call and goes to moto.
"""

from __future__ import annotations

import json
import re

import moto
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.wrappers import Request, Response

import localcloud
from localcloud.apigateway import execute
from localcloud.sagemaker import responses as sagemaker

HEALTH_PATH = "/_localcloud/health"
SERVICES = {
    "lambda": "running (Python runtimes)",
    "apigateway": "running (REST APIs, Lambda integrations)",
    "s3": "running (event notifications to Lambda, SQS, SNS)",
    "sns": "running (Lambda and SQS subscriptions)",
    "sqs": "running",
    "dynamodb": "running",
    "iam": "running (policies are stored, not enforced)",
    "logs": "running",
    "cloudformation": "running (strict: unsupported resources fail the stack)",
    "sts": "running",
    "sagemaker": "running (training jobs, models, endpoints; built-in algorithms run locally)",
    "sagemaker-runtime": "running (InvokeEndpoint)",
}

_EXECUTE_API_HOST = re.compile(r"^(?P<api>[a-z0-9]+)\.execute-api\.localhost(:\d+)?$", re.I)
_EXECUTE_API_PATHS = [
    re.compile(r"^/_aws/execute-api/(?P<api>[^/]+)/(?P<stage>[^/]+)(?P<path>/.*)?$"),
    re.compile(r"^/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/_user_request_(?P<path>/.*)?$"),
]


def execute_api_target(host: str, path: str) -> tuple[str, str, str] | None:
    """(api id, stage, resource path) when the request is for a deployed REST API stage."""
    host_match = _EXECUTE_API_HOST.match(host or "")
    if host_match:
        stage, _, rest = path.lstrip("/").partition("/")
        return host_match["api"], stage, "/" + rest
    for pattern in _EXECUTE_API_PATHS:
        match = pattern.match(path)
        if match:
            return match["api"], match["stage"], match["path"] or "/"
    return None


class LocalCloudApp:
    def __init__(self) -> None:
        self.moto_app = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            return self.health()(environ, start_response)
        target = execute_api_target(environ.get("HTTP_HOST", ""), path)
        if target is not None:
            return execute.handle(Request(environ), *target)(environ, start_response)
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("SageMaker."):
            request = Request(environ)
            operation = sagemaker.control_plane_operation(request)
            if operation is not None:
                return sagemaker.handle_control_plane(request, operation)(environ, start_response)
        invoke = sagemaker.INVOKE_PATH.match(path)
        if invoke and environ.get("REQUEST_METHOD") == "POST":
            return sagemaker.invoke_endpoint(Request(environ), invoke["name"])(environ, start_response)
        return self.moto_app(environ, start_response)

    @staticmethod
    def health() -> Response:
        body = {
            "status": "running",
            "version": localcloud.__version__,
            "moto": moto.__version__,
            "services": SERVICES,
        }
        return Response(json.dumps(body), mimetype="application/json")
