"""What an integration may be, and how API Gateway calls the AWS services localcloud hosts.

:func:`refusal` is the single judgement of PutIntegration and of CloudFormation's ``AWS::ApiGateway::Method``:
an integration localcloud could not perform is refused when it is defined, never answered with a 502 later.
Supported are ``AWS_PROXY`` (Lambda), ``MOCK``, and ``AWS`` with Lambda's invoke path or an action or path
of DynamoDB, SQS, SNS or S3, with a ``Credentials`` role that exists and that API Gateway may assume
(https://docs.aws.amazon.com/apigateway/latest/developerguide/integrating-api-with-aws-services-lambda.html).
``HTTP``/``HTTP_PROXY`` are refused: an integration with a loopback URL would work offline and never on
AWS (API Gateway cannot reach the user's machine), and any other URL needs the internet, which the
workshop runs without.

A service call (:func:`call_service`) is made in-process, to the same moto backends the service's own
endpoint serves, as the request API Gateway would send: the action's protocol (``X-Amz-Target`` for
JSON services, ``Action=`` for query services) or the path override, with the integration request
parameters (``integration.request.{path,querystring,header}.NAME``) mapped as documented in "API Gateway
API request and response data mapping reference".
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

import botocore.session
from moto.iam.models import iam_backends
from moto.moto_server import werkzeug_app
from werkzeug.test import EnvironBuilder, run_wsgi_app

from localcloud.apigateway.vtl import TemplateFailed, json_path
from localcloud.config import ACCOUNT_ID
from localcloud.iam import policies

SERVICE_PRINCIPAL = "apigateway.amazonaws.com"
TYPES = ("AWS_PROXY", "AWS", "MOCK")
SERVICES = ("dynamodb", "sqs", "sns", "s3")  # called by call_service; Lambda runs through localcloud's runtime
LAMBDA_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:(?P<region>[a-z0-9-]+):lambda:path/2015-03-31/functions/(?P<function>.+)/invocations$"
)
SERVICE_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:(?P<region>[a-z0-9-]+):(?:(?P<subdomain>[A-Za-z0-9.-]+)\.)?(?P<service>[a-z0-9-]+)"
    r":(?P<form>action|path)/(?P<target>.+)$"
)
_MAPPING_TARGET = re.compile(r"^integration\.request\.(path|querystring|header)\.([a-zA-Z0-9._$-]+)$")
_MAPPING_SOURCE = re.compile(
    r"^(?:method\.request\.(path|querystring|multivaluequerystring|header|multivalueheader)\.([a-zA-Z0-9._$-]+)"
    r"|method\.request\.body(?:\.(.+))?|stageVariables\.([a-zA-Z0-9_]+)|context\.([a-zA-Z0-9_.]+)|'([^']*)')$"
)
_RESPONSE_SOURCE = re.compile(
    r"^(?:'[^']*'|integration\.response\.(?:header|multivalueheader)\.[a-zA-Z0-9._$-]+|integration\.response\.body"
    r"(?:\..+)?|stageVariables\.[a-zA-Z0-9_]+|context\.[a-zA-Z0-9_.]+)$"
)
PASSTHROUGH_BEHAVIORS = ("WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER")
_JSON_TARGET_PREFIX = {"dynamodb": "DynamoDB_20120810"}
_JSON_CONTENT_TYPE = {"dynamodb": "application/x-amz-json-1.0"}
SUPPORTED = (f"integration types {', '.join(TYPES)}; AWS integrations with Lambda (path/2015-03-31/functions/"
             f"{{arn}}/invocations) or an action or path of {', '.join(SERVICES)}")


@dataclass
class ServiceAnswer:
    """What the service answered: the integration response that selection patterns and templates read."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def refusal(integration_type: str | None, uri: str | None, credentials: str | None,
            request_parameters: dict | None, declared: dict | None, passthrough_behavior: str | None) -> str | None:
    """Why localcloud cannot perform this integration, or None when it can; ``declared`` are the method's
    request parameters (``method.request.querystring.NAME: required``), None when they are not known."""
    if integration_type not in TYPES:
        return (f"localcloud cannot perform integrations of type {integration_type}, so it refuses them rather than "
                f"fail each request. Supported: {SUPPORTED}.")
    if passthrough_behavior not in (None, *PASSTHROUGH_BEHAVIORS):
        return f"Invalid passthrough behavior {passthrough_behavior}: expected one of {', '.join(PASSTHROUGH_BEHAVIORS)}."
    problem = _mapping_refusal(request_parameters or {}, declared)
    if problem or integration_type == "MOCK":
        return problem
    if LAMBDA_URI.match(uri or ""):
        return role_refusal(credentials) if credentials else None
    if integration_type == "AWS_PROXY":
        return "AWS_PROXY integrations are supported with Lambda functions only " \
               "(arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function arn}/invocations)."
    match = SERVICE_URI.match(uri or "")
    if match is None:
        return f"Invalid integration URI {uri!r}: expected arn:aws:apigateway:{{region}}:{{service}}:action/" \
               f"{{Action}} or :path/{{path}}."
    if match["service"] not in SERVICES:
        return (f"localcloud cannot call the {match['service']} service from API Gateway. Supported: {SUPPORTED}.")
    if match["form"] == "action" and match["target"].split("&")[0] not in operations(match["service"]):
        return f"{match['target']} is not an action of {match['service']}."
    if not credentials:
        return "Role ARN must be specified for AWS integrations (Credentials): API Gateway calls the service as it."
    return role_refusal(credentials)


def _mapping_refusal(request_parameters: dict, declared: dict | None) -> str | None:
    """API Gateway maps only method request parameters that the method declares."""
    for target, source in request_parameters.items():
        if not _MAPPING_TARGET.match(target):
            return invalid_mapping(target)
        match = _MAPPING_SOURCE.match(source) if isinstance(source, str) else None
        if match is None:
            return invalid_mapping(source)
        if match.group(1):
            kind = match.group(1).replace("multivalue", "")
            if declared is not None and f"method.request.{kind}.{match.group(2)}" not in declared:
                return invalid_mapping(source)
    return None


def invalid_mapping(expression: Any) -> str:
    """API Gateway's words for a mapping expression it cannot use."""
    return (f"Invalid mapping expression specified: Validation Result: warnings : [], errors : "
            f"[Invalid mapping expression parameter specified: {expression}]")


def response_mapping_refusal(response_parameters: dict | None, declared: dict | None) -> str | None:
    """Why PutIntegrationResponse cannot map these ``method.response.header.NAME`` values: each must be
    declared by the method response (unless ``declared`` is None: not known) and come from a source API Gateway
    knows."""
    for target, source in (response_parameters or {}).items():
        if not target.startswith("method.response.header.") or (declared is not None and target not in declared):
            return invalid_mapping(target)
        if not isinstance(source, str) or not _RESPONSE_SOURCE.match(source):
            return invalid_mapping(source)
    return None


def role_refusal(role_arn: str) -> str | None:
    """Why API Gateway could not act as ``role_arn``: the role must exist and trust apigateway.amazonaws.com."""
    role = next((role for role in iam_backends[ACCOUNT_ID]["global"].roles.values() if role.arn == role_arn), None)
    if role is None:
        return f"Invalid role ARN {role_arn}: the role does not exist."
    request = policies.Request("sts:AssumeRole", role_arn, SERVICE_PRINCIPAL)
    verdict = policies.evaluate(role.assume_role_policy_document, request)
    if not verdict.allowed:
        return f"API Gateway does not have permission to assume the provided role {role_arn} ({verdict.reason})."
    return None


@cache
def operations(service: str) -> frozenset[str]:
    """The operation names of ``service`` in botocore's service model, which is AWS's own."""
    return frozenset(botocore.session.get_session().get_service_model(service).operation_names)


def map_request_parameters(request_parameters: dict | None, sources: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``integration.request.*`` values from the method request (``sources`` as :func:`execute.parameter_sources`
    builds it); an absent source maps to nothing, as on AWS."""
    mapped: dict[str, dict[str, str]] = {"path": {}, "querystring": {}, "header": {}}
    for target, source in (request_parameters or {}).items():
        kind, name = _MAPPING_TARGET.match(target).groups()
        value = mapped_value(source, sources, sources["body"], {})
        if value is not None:
            mapped[kind][name] = value
    return mapped


def map_response_parameters(response_parameters: dict | None, answer: ServiceAnswer,
                            sources: dict[str, Any]) -> dict[str, str]:
    """``method.response.header.NAME`` values from the integration's answer."""
    body = answer.body.decode("utf-8", "replace")
    headers = {}
    for target, source in (response_parameters or {}).items():
        value = mapped_value(source, sources, body, answer.headers)
        if value is not None and target.startswith("method.response.header."):
            headers[target[len("method.response.header."):]] = value
    return headers


def mapped_value(expression: str, sources: dict[str, Any], body: str, headers: dict[str, str]) -> str | None:
    """The value of a mapping expression ("API Gateway API request and response data mapping reference"):
    ``'static'``, ``stageVariables.NAME``, ``context.NAME``, a method request parameter, the request's (or,
    with ``integration.response``, the answer's) body or a JSONPath into it, or an answer's header."""
    if len(expression) >= 2 and expression[0] == expression[-1] == "'":
        return expression[1:-1]
    head, _, rest = expression.partition(".")
    if head == "stageVariables":
        return sources["stageVariables"].get(rest)
    if head == "context":
        value: Any = sources["context"]
        for part in rest.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return None if value is None else str(value)
    parameter = re.match(r"^(?:method\.request|integration\.response)\.(path|querystring|multivaluequerystring|header"
                         r"|multivalueheader)\.(.+)$", expression)
    if parameter is not None:
        kind, name = parameter.groups()
        if expression.startswith("integration.response"):
            return next((value for header, value in headers.items() if header.lower() == name.lower()), None)
        value = sources[kind].get(name)
        return ",".join(value) if isinstance(value, list) else value
    body_path = re.match(r"^(?:method\.request|integration\.response)\.body(?:\.(.+))?$", expression)
    if body_path is None:
        return None
    if body_path.group(1) is None:
        return body
    try:
        value = json_path(json.loads(body or "{}"), "$." + body_path.group(1))
    except (ValueError, TemplateFailed):
        return None
    return None if value is None else (value if isinstance(value, str) else json.dumps(value))


_moto_app = None
_moto_app_lock = threading.Lock()


def _moto() -> Any:
    global _moto_app
    with _moto_app_lock:
        if _moto_app is None:
            _moto_app = werkzeug_app.DomainDispatcherApplication(werkzeug_app.create_backend_app)
        return _moto_app


def call_service(uri: str, http_method: str, body: bytes, mapped: dict[str, dict[str, str]],
                 content_type: str) -> ServiceAnswer:
    """Send the integration request to the service named by ``uri`` and return its answer."""
    match = SERVICE_URI.match(uri)
    service, region, target = match["service"], match["region"], match["target"]
    # A request without a body has no Content-Type, as on AWS (SNS would read "application/json" as JSON protocol).
    headers = {"Content-Type": content_type} if body else {}
    query: dict[str, str] = dict(mapped["querystring"])
    if match["form"] == "action":
        action, _, extra = target.partition("&")
        path = "/"
        if service in _JSON_TARGET_PREFIX:
            headers["X-Amz-Target"] = f"{_JSON_TARGET_PREFIX[service]}.{action}"
            headers["Content-Type"] = _JSON_CONTENT_TYPE[service]
        else:
            query = {"Action": action, **dict(part.split("=", 1) for part in extra.split("&") if "=" in part), **query}
    else:
        path = "/" + re.sub(r"\{([^}]+)\}", lambda m: quote(mapped["path"].get(m.group(1).rstrip("+"), ""), safe="/"),
                            target)
    headers.update(mapped["header"])
    host = f"{match['subdomain'] + '.' if match['subdomain'] else ''}{service}.{region}.amazonaws.com"
    now = datetime.now(UTC)
    # moto reads the service and region from the credential scope; API Gateway signs as the integration's role.
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential=APIGATEWAY/{now:%Y%m%d}/{region}/{service}/"
                                f"aws4_request, SignedHeaders=host, Signature=0")
    headers["X-Amz-Date"] = f"{now:%Y%m%dT%H%M%SZ}"
    environ = EnvironBuilder(method=http_method or "POST", path=path, query_string=urlencode(query) if query else None,
                             base_url=f"https://{host}", headers=headers, data=body).get_environ()
    app_iter, status, response_headers = run_wsgi_app(_moto(), environ, buffered=True)
    try:
        data = b"".join(app_iter)
    finally:
        getattr(app_iter, "close", lambda: None)()
    return ServiceAnswer(int(status.split()[0]), data, dict(response_headers))
