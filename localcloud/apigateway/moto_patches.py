"""Where localcloud changes moto's API Gateway (each through :mod:`localcloud.motoadapter`), and what its
data plane (:mod:`.execute`) reads of moto's REST API model, checked when localcloud starts.

``PutIntegration`` refuses an integration localcloud cannot perform (:func:`.integrations.refusal`), so
that no API is accepted only to answer each request with an error; it and ``PutIntegrationResponse`` map
only the request parameters and response headers that the method request and method response declare,
and an integration response needs the method response of its status code, as API Gateway checks.  CloudFormation's
``AWS::ApiGateway::Method`` creates its integration with every property the template gives
(:func:`.cloudformation.create_method`); moto's reads only the type, URI and HTTP method.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.apigateway.exceptions import BadRequestException, NotFoundException
from moto.apigateway.models import (
    APIGatewayBackend,
    Integration,
    IntegrationResponse,
    Method,
    MethodResponse,
    Resource,
    RestAPI,
    Stage,
)

from localcloud import motoadapter
from localcloud.apigateway import cloudformation, integrations, vtl

READS = {
    RestAPI: ("id", "stages", "resources", "binaryMediaTypes"),
    Resource: ("id", "resource_methods"),
    Method: ("method_integration", "request_parameters", "method_responses"),
    MethodResponse: ("response_parameters",),
    Integration: ("integration_type", "uri", "http_method", "timeout_in_millis", "integration_responses",
                  "request_templates", "passthrough_behaviour", "request_parameters", "credentials"),
    IntegrationResponse: ("selection_pattern", "status_code", "response_templates", "response_parameters"),
    Stage: ("name", "variables", "method_settings"),
}
PUT_INTEGRATION_PARAMETERS = ("self", "function_id", "resource_id", "method_type", "integration_type", "uri",
                              "integration_method", "credentials", "request_templates", "passthrough_behavior")
PUT_INTEGRATION_RESPONSE_PARAMETERS = ("self", "function_id", "resource_id", "method_type", "status_code",
                                       "selection_pattern", "response_templates", "response_parameters")


def _refusing_what_cannot_run(original):
    @functools.wraps(original)  # keeps moto's signature for the checks of other touchpoints
    def put_integration(self: APIGatewayBackend, function_id: str, resource_id: str, method_type: str,
                        integration_type: str, uri: str | None = None, *args: Any, **kwargs: Any):
        if _importing.active:
            # OpenAPI writes types in lower case ("mock", "aws_proxy"), and a MOCK integration has neither
            # uri nor httpMethod, which moto's import then leaves out of the call.
            integration_type, declared = integration_type.upper(), None
            if not args:
                kwargs.setdefault("integration_method", None)
        else:
            declared = self.get_method(function_id, resource_id, method_type).request_parameters or {}
        problem = integrations.refusal(integration_type, uri, kwargs.get("credentials"),
                                       kwargs.get("request_parameters"), declared, kwargs.get("passthrough_behavior"))
        if problem:
            raise BadRequestException(problem)
        return original(self, function_id, resource_id, method_type, integration_type, uri, *args, **kwargs)

    return put_integration


class _Importing(threading.local):
    active = False


_importing = _Importing()


def _importing_openapi(original):
    """moto's OpenAPI import (ImportRestApi, PutRestApi) declares no method request parameters or method
    response headers, though the document does: while it runs, the mappings are not checked against them."""
    @functools.wraps(original)  # keeps moto's signature for the checks of other touchpoints
    def put_rest_api(self: APIGatewayBackend, *args: Any, **kwargs: Any):
        _importing.active = True
        try:
            return original(self, *args, **kwargs)
        finally:
            _importing.active = False

    return put_rest_api


def _mapping_only_declared_responses(original):
    @functools.wraps(original)  # keeps moto's signature for the checks of other touchpoints
    def put_integration_response(self: APIGatewayBackend, function_id: str, resource_id: str, method_type: str,
                                 status_code: str, selection_pattern: str, response_templates: dict,
                                 response_parameters: dict, *args: Any, **kwargs: Any):
        method_response = self.get_method(function_id, resource_id, method_type).method_responses.get(str(status_code))
        if method_response is None:
            raise NotFoundException("Invalid Response status code specified")
        declared = None if _importing.active else method_response.response_parameters or {}
        problem = integrations.response_mapping_refusal(response_parameters, declared)
        if problem:
            raise BadRequestException(problem)
        return original(self, function_id, resource_id, method_type, status_code, selection_pattern,
                        response_templates, response_parameters, *args, **kwargs)

    return put_integration_response


def install() -> None:
    for model, attributes in READS.items():
        for attribute in attributes:
            motoadapter.require_instance_attribute(model, attribute)
    motoadapter.require(Resource, "get_path", ("self",))
    original = motoadapter.require(APIGatewayBackend, "put_integration", PUT_INTEGRATION_PARAMETERS)
    motoadapter.replace(APIGatewayBackend, "put_integration", _refusing_what_cannot_run(original),
                        PUT_INTEGRATION_PARAMETERS)
    original = motoadapter.require(APIGatewayBackend, "put_integration_response", PUT_INTEGRATION_RESPONSE_PARAMETERS)
    motoadapter.replace(APIGatewayBackend, "put_integration_response", _mapping_only_declared_responses(original),
                        PUT_INTEGRATION_RESPONSE_PARAMETERS)
    original = motoadapter.require(APIGatewayBackend, "put_rest_api", ("self", "function_id", "api_doc"))
    motoadapter.replace(APIGatewayBackend, "put_rest_api", _importing_openapi(original),
                        ("self", "function_id", "api_doc"))
    motoadapter.replace(Method, "create_from_cloudformation_json", classmethod(cloudformation.create_method))
    vtl.install()
