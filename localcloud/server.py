"""The one WSGI application behind localcloud's port.

Requests for API Gateway stages (the execute-api URL forms) and localcloud's own endpoints are
answered here; everything else is an AWS API call and goes to moto.  A service's own handlers are
imported by its first request (see :mod:`localcloud.core`), so that start-up pays for none of them.
"""

from __future__ import annotations

import json
import logging
import re
from xml.parsers.expat import ExpatError

import moto
from moto.moto_server import werkzeug_app
from werkzeug.wrappers import Request, Response

import localcloud
from localcloud import lifetimes, motoadapter
from localcloud.auth import Credentials, Gate, cors_headers, credential_scope, signing_service
from localcloud.core import ExtensionUnavailable, LocalCloud
from localcloud.errors import error_response
from localcloud.protocols import check_json_request

logger = logging.getLogger("localcloud")

HEALTH_PATH = "/_localcloud/health"
SERVICES = {
    "lambda": "running (Python runtimes)",
    "apigateway": "running (REST APIs: Lambda, MOCK and DynamoDB/SQS/SNS/S3 integrations, VTL templates)",
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
    "iot": "running (things via moto; topic rules evaluated by localcloud's IoT SQL engine)",
    "iot-data": "running (device shadows, Publish to the rules engine)",
}
_SIGNING_NAMES = {"sagemaker-runtime": "sagemaker", "iot-data": "iotdata"}  # health's names that sign otherwise

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
    """Routes each request, and is the one place where every failure becomes an AWS-shaped answer."""

    def __init__(self, cloud: LocalCloud, credentials: Credentials, allowed_origins: frozenset[str] = frozenset(),
                 moto_api: bool = False) -> None:
        # moto answers every origin with CORS headers; only the pages the gate allows may read answers.
        motoadapter.replace(werkzeug_app, "DISABLE_GLOBAL_CORS", True)
        self.moto_app = werkzeug_app.DomainDispatcherApplication(werkzeug_app.create_backend_app)
        self.gate = Gate(credentials, allowed_origins)
        self.moto_api = moto_api
        self.cloud = cloud  # installs each service's extensions on its first request

    def __call__(self, environ, start_response):
        try:
            response = self.route(environ)
        except Exception:  # never a traceback or an HTML page: the client gets its service's error shape
            logger.exception("localcloud failed on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            response = error_response(environ, 500, "InternalFailure",
                                      "localcloud failed to process the request; its log has the details.",
                                      sender_fault=False)
        if response is None:
            return self._moto(environ, start_response)
        return response(environ, start_response)

    def route(self, environ) -> Response | None:
        """The answer localcloud gives itself, or None when moto answers."""
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            return self.health()
        target = execute_api_target(environ.get("HTTP_HOST", ""), path)
        if target is not None:  # a deployed API is public, as on AWS; its CORS is the API's own
            refusal = self._prepare(environ, "apigateway")
            if refusal is not None:
                return refusal
            from localcloud.apigateway import execute

            return execute.handle(Request(environ), *target)
        refusal = self.gate.check(environ)
        if refusal is not None:
            return refusal
        service = signing_service(environ)
        refusal = self._prepare(environ, service)
        if refusal is not None:
            return refusal
        if path.startswith("/moto-api") and not self.moto_api:
            return error_response(environ, 404, "NotFound", "moto's internal API is closed. Start localcloud with "
                                  "--moto-api to open it (it reads and resets all state, unauthenticated).")
        post = environ.get("REQUEST_METHOD") == "POST"
        if service == "sagemaker":
            from localcloud.sagemaker import responses as sagemaker

            if environ.get("HTTP_X_AMZ_TARGET", "").startswith("SageMaker."):
                request = Request(environ)
                operation = sagemaker.control_plane_operation(request)
                if operation is not None:
                    return sagemaker.handle_control_plane(request, operation)
            invoke = sagemaker.INVOKE_PATH.match(path)
            if invoke and post:
                return sagemaker.invoke_endpoint(Request(environ), invoke["name"])
        if "HTTP_X_AMZ_TARGET" in environ:
            refusal = check_json_request(environ)
            if refusal is not None:
                return refusal
        if service == "lambda" and post:
            from localcloud.awslambda import responses as awslambda

            invoke = awslambda.INVOKE_PATH.match(path)
            if invoke:
                return awslambda.invoke(Request(environ), invoke["name"])
        if service in ("iot", "iotdata"):
            from localcloud.iot import responses as iot

            iot_handler = iot.route(environ)
            if iot_handler is not None:
                return iot_handler()
        return None

    def _prepare(self, environ, service: str) -> Response | None:
        """The refusal of a request for a service whose extensions could not be installed (it must never
        reach moto un-patched), or None once they are in place."""
        try:
            self.cloud.prepare(service)
        except ExtensionUnavailable as unavailable:
            return error_response(environ, 500, "InternalFailure", f"{unavailable} (localcloud's log has the "
                                  "details).", service, sender_fault=False)
        return None

    def _moto(self, environ, start_response):
        """moto's answer, with an allowed page's CORS headers; its HTML error pages and its exceptions
        become the service's error shape."""
        captured: list = []

        def capture(status, headers, exc_info=None):
            captured[:] = [status, headers]
            return lambda data: None

        try:
            body = self.moto_app(environ, capture)
        except UnicodeDecodeError:  # moto decodes bodies as UTF-8; these bytes are the client's error
            return error_response(environ, 400, "MalformedInput", "The request body is not valid UTF-8.",
                                  credential_scope(environ)[1])(environ, start_response)
        except ExpatError as error:
            return error_response(environ, 400, "MalformedXML", "The XML you provided was not well-formed or did "
                                  f"not validate against our published schema ({error}).",
                                  credential_scope(environ)[1])(environ, start_response)
        except NotImplementedError as error:
            return error_response(environ, 501, "NotImplemented", f"localcloud does not implement this operation: "
                                  f"{error}", sender_fault=False)(environ, start_response)
        except Exception:
            logger.exception("moto failed on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            return error_response(environ, 500, "InternalFailure", "The request could not be processed; "
                                  "localcloud's log has the details.", sender_fault=False)(environ, start_response)
        status, headers = captured
        code = int(status.split()[0])
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        if code >= 400 and content_type.startswith("text/html"):
            if hasattr(body, "close"):
                body.close()
            method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
            if code in (404, 405):
                return error_response(environ, code, "UnknownOperationException",
                                      f"No operation answers {method} {path} here.")(environ, start_response)
            logger.error("moto answered %s with an HTML page for %s %s", status, method, path)
            return error_response(environ, 500, "InternalFailure", "The request could not be processed; "
                                  "localcloud's log has the details.", sender_fault=False)(environ, start_response)
        extra = list(cors_headers(environ).items()) if "HTTP_ORIGIN" in environ else []
        start_response(status, headers + extra)
        return body

    def health(self) -> Response:
        body = {
            "status": "running",
            "instance": lifetimes.INSTANCE,  # what `python -m localcloud stop` checks before signalling
            "version": localcloud.__version__,
            "moto": moto.__version__,
            "services": SERVICES,
        }
        unavailable = self.cloud.unavailable()
        if unavailable:
            body["services"] = {name: f"unavailable: {unavailable[_SIGNING_NAMES.get(name, name)]}"
                                if _SIGNING_NAMES.get(name, name) in unavailable else state
                                for name, state in SERVICES.items()}
        return Response(json.dumps(body), mimetype="application/json")
