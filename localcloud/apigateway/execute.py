"""API Gateway's data plane for REST APIs: a request to a stage URL runs the method's integration.

moto stores REST APIs, resources, methods, integrations and stages but serves none of them.
Here a request is matched to a resource and method the way API Gateway does (literal path parts
before ``{param}`` before ``{proxy+}``, a method before ``ANY``), its integration runs, and the
answer becomes the HTTP response:

* ``AWS_PROXY``: payload format 1.0 event in, ``{statusCode, headers, body, ...}`` out;
* ``AWS`` and ``MOCK``: the request mapping template chosen by Content-Type (or the body passed
  through, as ``PassthroughBehavior`` allows; else 415) becomes the Lambda event, the service request
  (:mod:`.integrations`) or the mock's ``statusCode``; the integration response whose selection
  pattern matches (Lambda's ``errorMessage``, otherwise the status code) maps the answer through its
  response template (chosen by Accept) and response parameters (:mod:`.vtl` runs the templates).

Each answer carries ``x-amzn-RequestId``; a stage that logs writes its execution log (:mod:`.execution_log`).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import re
import threading
import uuid
from datetime import UTC, datetime
from urllib.parse import unquote

from moto.apigateway.models import RestAPI, apigateway_backends
from werkzeug.wrappers import Request, Response

from localcloud.apigateway import integrations, vtl
from localcloud.apigateway.execution_log import ExecutionLog
from localcloud.apigateway.integrations import ServiceAnswer
from localcloud.awslambda import models as lambda_models
from localcloud.awslambda import permissions
from localcloud.config import ACCOUNT_ID, RAW_HEADERS

logger = logging.getLogger("localcloud.apigateway")

INTEGRATION_TIMEOUT_SECONDS = 29  # API Gateway's default and maximum for REST APIs


class GatewayError(Exception):
    """An answer API Gateway itself gives, with its status and message."""

    def __init__(self, status: int, message: str, reason: str = ""):
        super().__init__(reason or message)
        self.status = status
        self.message = message


def missing_token() -> GatewayError:
    return GatewayError(403, "Missing Authentication Token")


def internal_error(reason: str) -> GatewayError:
    return GatewayError(502, "Internal server error", reason)


def handle(request: Request, api_id: str, stage_name: str, path: str) -> Response:
    """Answer one request to ``{api_id}/{stage_name}{path}``."""
    request_id = str(uuid.uuid4())
    log = None
    try:
        api, region = find_api(api_id)
        stage = api.stages.get(stage_name)
        if stage is None:
            raise missing_token()
        resource, resource_path, path_parameters = match_resource(api, path)
        method = resource.resource_methods.get(request.method) or resource.resource_methods.get("ANY")
        if method is None or method.method_integration is None:
            raise missing_token()
        log = ExecutionLog(region, api_id, stage, resource_path, request.method, request_id)
        log.info(f"Starting execution for request: {request_id}")
        log.info(f"HTTP Method: {request.method}, Resource Path: {path}")
        integration = method.method_integration
        source_arn = f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{api_id}/{stage_name}/{request.method}{resource_path}"
        context = request_context(request, api, stage, resource, resource_path, path, request_id)
        if integration.integration_type == "AWS_PROXY":
            function = lambda_function(integration.uri, region)
            require_permission(function, source_arn)
            event = proxy_event(request, api, stage, resource_path, path, path_parameters, context)
            response = proxy_response(invoke(function, json.dumps(event).encode("utf-8"),
                                             integration_timeout(integration)))
        else:
            sources = parameter_sources(request, path_parameters, stage, context)
            log.info(f"Method request body before transformations: {sources['body']}")
            answer, subject = integration_answer(integration, request, sources, region, source_arn, log)
            log.info(f"Endpoint response body before transformations: {answer.body.decode('utf-8', 'replace')}")
            response = method_response(integration, answer, subject, sources, request)
            log.info(f"Method response body after transformations: {response.get_data(as_text=True)}")
        log.info(f"Method completed with status: {response.status_code}")
        response.headers["x-amzn-RequestId"] = request_id
        return response
    except Exception as unexpected:  # API Gateway answers its own errors, and every other failure, in JSON
        error = unexpected if isinstance(unexpected, GatewayError) else GatewayError(500, "Internal server error")
        if not isinstance(unexpected, GatewayError):
            logger.exception("API %s stage %s %s %s failed", api_id, stage_name, request.method, path)
        if error.status >= 500:
            logger.warning("API %s stage %s %s %s: %s", api_id, stage_name, request.method, path, error)
        if log is not None:
            log.error(str(unexpected))
            log.error(f"Method completed with status: {error.status}")
        return Response(
            json.dumps({"message": error.message}),
            status=error.status,
            mimetype="application/json",
            headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": _error_type(error.status)},
        )
    finally:
        if log is not None:
            log.flush()


def integration_answer(integration, request: Request, sources: dict, region: str, source_arn: str,
                       log: ExecutionLog) -> tuple[ServiceAnswer, str | None]:
    """Run a non-proxy integration: its answer, and what its integration responses' selection patterns match."""
    template = request_template(integration, request)
    override = vtl.request_override()
    if template is None:
        payload = request.get_data()
    else:
        payload = render(template, sources, sources["body"], {"requestOverride": override}).encode()
    log.info(f"Endpoint request body after transformations: {payload.decode('utf-8', 'replace')}")
    if integration.integration_type == "MOCK":
        answer = ServiceAnswer(mock_status(payload), b"")
        return answer, str(answer.status)
    if integration.integration_type != "AWS":  # PutIntegration refuses these; an API stored otherwise fails here
        raise GatewayError(500, "Internal server error",
                           f"integration type {integration.integration_type} is not supported by localcloud")
    if integrations.LAMBDA_URI.match(integration.uri or ""):
        function = lambda_function(integration.uri, region)
        if integration.credentials:
            require_role(integration.credentials)
        else:
            require_permission(function, source_arn)
        invocation = invoke(function, passthrough_event(payload), integration_timeout(integration))
        error_message = str(invocation.error.get("errorMessage", "")) if invocation.function_error else None
        return ServiceAnswer(200, invocation.payload), error_message
    require_role(integration.credentials)
    mapped = integrations.map_request_parameters(integration.request_parameters, sources)
    for kind, values in override.items():  # a template's overrides win over parameter mappings
        mapped[kind].update({name: str(value) for name, value in values.items()})
    answer = integrations.call_service(integration.uri, integration.http_method, payload, mapped,
                                       request.headers.get("Content-Type", "application/json"))
    return answer, str(answer.status)


def _error_type(status: int) -> str:
    return {400: "BadRequestException", 403: "MissingAuthenticationTokenException",
            415: "UnsupportedMediaTypeException"}.get(status, "InternalServerErrorException")


def find_api(api_id: str) -> tuple[RestAPI, str]:
    for region, backend in apigateway_backends[ACCOUNT_ID].items():
        api = backend.apis.get(api_id)
        if api is not None:
            return api, region
    raise missing_token()


def match_resource(api: RestAPI, path: str):
    """The resource that serves ``path``, its resource path and its path parameters, as API Gateway picks it."""
    request_parts = [unquote(part) for part in path.strip("/").split("/") if part]
    best = None
    for resource in api.resources.values():
        resource_path = resource.get_path()
        template_parts = [part for part in resource_path.strip("/").split("/") if part]
        match = _match_parts(template_parts, request_parts)
        if match is None:
            continue
        rank, parameters = match
        if best is None or rank > best[0]:
            best = (rank, resource, resource_path, parameters)
    if best is None:
        raise missing_token()
    return best[1], best[2], best[3]


def _match_parts(template: list[str], request: list[str]):
    """(rank, parameters) if the template matches; literal parts outrank variables."""
    parameters: dict[str, str] = {}
    rank: list[int] = []
    for index, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            rest = request[index:]
            if not rest:
                return None
            parameters[part[1:-2]] = "/".join(rest)
            rank.append(0)
            return tuple(rank), parameters
        if index >= len(request):
            return None
        if part.startswith("{") and part.endswith("}"):
            parameters[part[1:-1]] = request[index]
            rank.append(1)
        elif part == request[index]:
            rank.append(2)
        else:
            return None
    if len(template) != len(request):
        return None
    return tuple(rank), parameters


def lambda_function(uri: str, region: str):
    match = integrations.LAMBDA_URI.match(uri or "")
    if not match:
        raise internal_error(f"integration URI {uri!r} does not name a Lambda function")
    try:
        return lambda_models.find_function(match["function"], match["region"], ACCOUNT_ID)
    except Exception as exc:
        raise internal_error(f"Lambda function of {uri} not found: {exc}") from exc


def require_permission(function, source_arn: str) -> None:
    """API Gateway may only invoke a function whose resource policy allows it."""
    if not permissions.invoke_allowed(function, "apigateway.amazonaws.com", source_arn, ACCOUNT_ID):
        raise GatewayError(
            500,
            "Internal server error",
            f"Execution failed due to configuration error: Invalid permissions on Lambda function "
            f"{function.function_name} (no lambda:InvokeFunction permission for {source_arn})"
        )


def integration_timeout(integration) -> float:
    """``TimeoutInMillis`` (50 ms to 29 s), or API Gateway's default of 29 s."""
    try:
        millis = int(integration.timeout_in_millis or INTEGRATION_TIMEOUT_SECONDS * 1000)
    except (TypeError, ValueError):
        millis = INTEGRATION_TIMEOUT_SECONDS * 1000
    return min(max(millis, 50), INTEGRATION_TIMEOUT_SECONDS * 1000) / 1000


def passthrough_event(payload: bytes) -> bytes:
    """The body a non-proxy Lambda integration sends: it must parse as JSON, as Lambda requires."""
    body = payload or b"{}"
    try:
        json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        raise GatewayError(400, f"Could not parse request body into json: {error}") from None
    return body


def _reject_constant(name: str):
    raise ValueError(f"Unrecognized token '{name}'")


def invoke(function, payload: bytes, timeout: float):
    """Run the integration's function; past ``timeout`` answer 504 while the function runs on, as on AWS.
    The caller reads ``function_error`` itself."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = lambda_models.invoke_function(function, payload)
        except Exception as error:  # reported to the waiting request below
            outcome["error"] = error

    worker = threading.Thread(target=run, name=f"apigateway-{function.function_name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise GatewayError(504, "Endpoint request timed out")
    if "error" in outcome:
        raise internal_error(f"Lambda invocation failed: {outcome['error']}")
    return outcome["result"]


def request_context(request: Request, api, stage, resource, resource_path, path, request_id) -> dict:
    """``requestContext`` of the proxy event, which is also ``$context`` of mapping templates."""
    now = datetime.now(UTC)
    return {
        "resourceId": resource.id,
        "resourcePath": resource_path,
        "httpMethod": request.method,
        "extendedRequestId": request_id,
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "path": f"/{stage.name}{path}",
        "accountId": ACCOUNT_ID,
        "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "stage": stage.name,
        "domainPrefix": api.id,
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "requestId": request_id,
        "identity": {
            "cognitoIdentityPoolId": None,
            "accountId": None,
            "cognitoIdentityId": None,
            "caller": None,
            "sourceIp": request.remote_addr,
            "principalOrgId": None,
            "accessKey": None,
            "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None,
            "userArn": None,
            "userAgent": request.headers.get("User-Agent"),
            "user": None,
        },
        "domainName": request.host,
        "apiId": api.id,
    }


def raw_headers(request: Request) -> list[tuple[str, str]]:
    """REST APIs pass header names as the client wrote them ("day", "X-MiXeD"), not re-cased."""
    return request.environ.get(RAW_HEADERS) or list(request.headers.items())


def proxy_event(request: Request, api, stage, resource_path, path, path_parameters, context) -> dict:
    """Lambda proxy integration event, payload format version 1.0."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in raw_headers(request):
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query = {key: values[-1] for key, values in request.args.lists()}
    multi_query = {key: values for key, values in request.args.lists()}
    body_bytes = request.get_data()
    body, is_base64 = _event_body(body_bytes, request.mimetype, api.binaryMediaTypes)
    return {
        "resource": resource_path,
        "path": path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": dict(stage.variables) or None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _event_body(data: bytes, mimetype: str, binary_media_types: list[str]) -> tuple[str | None, bool]:
    if not data:
        return None, False
    binary = any(fnmatch.fnmatchcase(mimetype or "", pattern) for pattern in binary_media_types or [])
    if not binary:
        try:
            return data.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(data).decode("ascii"), True


def proxy_response(invocation) -> Response:
    """Turn a proxy function's result into the HTTP response, or a 502 if it failed or is malformed."""
    if invocation.function_error:
        raise internal_error(f"Lambda function failed: {invocation.payload.decode('utf-8', 'replace')}")
    try:
        result = json.loads(invocation.payload)
    except ValueError:
        raise internal_error("Malformed Lambda proxy response: not JSON") from None
    if not isinstance(result, dict) or not isinstance(result.get("statusCode", 200), int):
        raise internal_error("Malformed Lambda proxy response: statusCode must be an integer")
    unknown = set(result) - {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
    if unknown:
        raise internal_error(f"Malformed Lambda proxy response: unexpected fields {sorted(unknown)}")
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise internal_error("Malformed Lambda proxy response: body must be a string")
    data = (body or "").encode("utf-8")
    if result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(data, validate=True)
        except ValueError:
            raise internal_error("Malformed Lambda proxy response: body is not valid base64") from None
    response = Response(data, status=result.get("statusCode", 200))
    response.headers.pop("Content-Type", None)
    try:
        for name, value in (result.get("headers") or {}).items():
            response.headers[name] = str(value)
        for name, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                response.headers.add(name, str(value))
    except (ValueError, TypeError, AttributeError) as error:
        raise internal_error(f"Malformed Lambda proxy response: invalid headers ({error})") from None
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    return response


def require_role(role_arn: str | None) -> None:
    """The integration's role, checked at PutIntegration, may have been deleted or stopped trusting API Gateway since."""
    problem = integrations.role_refusal(role_arn) if role_arn else "the integration has no Credentials role"
    if problem:
        raise GatewayError(500, "Internal server error", f"Execution failed due to configuration error: {problem}")


def parameter_sources(request: Request, path_parameters: dict, stage, context: dict) -> dict:
    """The method request as mapping expressions and ``$input.params()`` read it."""
    headers: dict[str, list[str]] = {}
    for name, value in raw_headers(request):
        headers.setdefault(name, []).append(value)
    return {
        "path": dict(path_parameters),
        "querystring": {key: values[-1] for key, values in request.args.lists()},
        "multivaluequerystring": {key: values for key, values in request.args.lists()},
        "header": {name: values[-1] for name, values in headers.items()},
        "multivalueheader": headers,
        "body": request.get_data().decode("utf-8", "replace"),
        "stageVariables": dict(stage.variables or {}),
        "context": context,
    }


def request_template(integration, request: Request) -> str | None:
    """The request mapping template for the request's Content-Type (``application/json`` when it has none),
    or None to pass the body through, as ``PassthroughBehavior`` allows; otherwise 415."""
    templates = {content_type.lower(): template for content_type, template in
                 (integration.request_templates or {}).items()}
    content_type = (request.mimetype or "application/json").lower()
    if content_type in templates:
        return templates[content_type] or ""
    behavior = integration.passthrough_behaviour or "WHEN_NO_MATCH"
    if behavior == "WHEN_NO_MATCH" or (behavior == "WHEN_NO_TEMPLATES" and not templates):
        return None
    raise GatewayError(415, "Unsupported Media Type")


def render(template: str, sources: dict, body: str, overrides: dict | None = None) -> str:
    """A mapping template's output; a template that fails is API Gateway's 500, its reason in the log."""
    variable = vtl.Input(body, sources["path"], sources["querystring"], sources["header"])
    try:
        return vtl.render(template, variable, sources["context"], sources["stageVariables"], overrides)
    except vtl.TemplateFailed as error:
        raise GatewayError(500, "Internal server error", f"Execution failed: {error}") from None


def mock_status(payload: bytes) -> int:
    """A MOCK integration answers the ``statusCode`` its request template writes (200 without one)."""
    if not payload.strip():
        return 200
    try:
        status = json.loads(payload).get("statusCode", 200)
        return int(status)
    except (ValueError, AttributeError, TypeError):
        raise GatewayError(500, "Internal server error", "Execution failed: the MOCK integration's request "
                           f"template must produce JSON with an integer statusCode, not {payload[:200]!r}") from None


def method_response(integration, answer: ServiceAnswer, subject: str | None, sources: dict,
                    request: Request) -> Response:
    """The integration response whose selection pattern matches ``subject`` (a Lambda function's
    ``errorMessage``, None for its success; the status code of every other integration), or the default
    one, which has no pattern; its templates and response parameters applied."""
    chosen = select_integration_response(integration, subject)
    body_text = answer.body.decode("utf-8", "replace")
    templates = dict(chosen.response_templates or {})
    content_type = response_content_type(templates, request)
    override = vtl.response_override()
    if content_type is not None and templates[content_type]:
        data = render(templates[content_type], sources, body_text, {"responseOverride": override}).encode("utf-8")
    else:
        data = answer.body
    response = Response(data, status=int(chosen.status_code), content_type=content_type or "application/json")
    for name, value in integrations.map_response_parameters(chosen.response_parameters, answer, sources).items():
        response.headers[name] = value
    for name, value in override["header"].items():  # a template's overrides win over response parameters
        response.headers[name] = str(value)
    if override["status"] is not None:
        try:
            response.status_code = int(str(override["status"]))
        except ValueError:
            raise GatewayError(500, "Internal server error", "Execution failed: $context.responseOverride.status "
                               f"must be a status code, not {override['status']!r}") from None
    return response


def response_content_type(templates: dict, request: Request) -> str | None:
    """The response template for the type the client accepts by name (a wildcard names none), else for
    ``application/json``, else the first one."""
    named = next((value for value, _ in request.accept_mimetypes if value in templates), None)
    return named or ("application/json" if "application/json" in templates else next(iter(templates), None))


def select_integration_response(integration, subject: str | None):
    responses = list((integration.integration_responses or {}).values())
    chosen = next((response for response in responses if not response.selection_pattern), None)
    if subject is not None:
        for candidate in responses:
            try:
                matched = candidate.selection_pattern and re.fullmatch(candidate.selection_pattern, subject, re.S)
            except re.error as error:
                raise GatewayError(500, "Internal server error", f"Execution failed due to configuration error: "
                                   f"invalid selection pattern {candidate.selection_pattern!r}: {error}") from None
            if matched:
                chosen = candidate
                break
    if chosen is None:
        raise GatewayError(500, "Internal server error", "Execution failed due to configuration error: "
                           "No match for output mapping and no default output mapping")
    return chosen
