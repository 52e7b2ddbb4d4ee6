"""CloudFormation for REST APIs: the Stage resource moto lacks, and the Method details moto drops (the
integration's templates, role and parameters, integration and method responses)."""

from __future__ import annotations

from typing import Any

from moto.apigateway.models import Deployment, Method, apigateway_backends
from moto.core.common_models import CloudFormationModel

from localcloud.apigateway import integrations

INTEGRATION_PROPERTIES = {"Type", "Uri", "IntegrationHttpMethod", "IntegrationResponses", "PassthroughBehavior",
                          "TimeoutInMillis", "Credentials", "RequestTemplates", "RequestParameters"}


class ApiGatewayStage(CloudFormationModel):
    """``AWS::ApiGateway::Stage``: a named stage pointing at a deployment."""

    def __init__(self, account_id: str, region_name: str, api_id: str, stage_name: str):
        self.account_id = account_id
        self.region_name = region_name
        self.api_id = api_id
        self.stage_name = stage_name

    @property
    def physical_resource_id(self) -> str:
        return self.stage_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "StageName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::Stage"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> ApiGatewayStage:
        properties = cloudformation_json["Properties"]
        api_id = properties["RestApiId"]
        backend = apigateway_backends[account_id][region_name]
        stage = backend.create_stage(
            function_id=api_id,
            stage_name=resource_name,
            deploymentId=properties.get("DeploymentId"),
            variables=properties.get("Variables"),
            description=properties.get("Description", ""),
            tags={tag["Key"]: tag["Value"] for tag in properties.get("Tags", [])},
            tracing_enabled=properties.get("TracingEnabled"),
        )
        stage.method_settings = method_settings(properties.get("MethodSettings", []))
        return cls(account_id, region_name, api_id, resource_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: ApiGatewayStage, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> ApiGatewayStage:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        api = apigateway_backends[account_id][region_name].apis.get(self.api_id)
        if api is not None:
            api.stages.pop(self.stage_name, None)


def method_settings(settings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """CloudFormation's MethodSettings list as the API's ``{"resource/METHOD": {...}}`` map."""
    result = {}
    for setting in settings:
        path = setting.get("ResourcePath", "/*").lstrip("/").replace("/", "~1") or "*"
        key = f"{path}/{setting.get('HttpMethod', '*')}"
        result[key] = {
            name[0].lower() + name[1:]: value
            for name, value in setting.items()
            if name not in ("ResourcePath", "HttpMethod")
        }
    return result


def check_method(properties: dict[str, Any]) -> str | None:
    """Why localcloud cannot serve this method, or None.  The integration's URI and role are judged when it is
    created (by PutIntegration's check), once the template's references are resolved."""
    integration = properties.get("Integration")
    if not integration:
        return "a method without Integration cannot be served"
    if integration.get("Type") not in integrations.TYPES:
        return f"Integration Type {integration.get('Type')} is not supported (supported: {integrations.SUPPORTED})"
    if properties.get("AuthorizationType", "NONE") != "NONE":
        return f"AuthorizationType {properties['AuthorizationType']} is not enforced by localcloud; use NONE"
    unknown = set(integration) - INTEGRATION_PROPERTIES
    if unknown:
        return f"Integration properties {sorted(unknown)} are not supported"
    return None


def create_method(cls: type[Method], resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                  region_name: str, **kwargs: Any) -> Method:
    """``AWS::ApiGateway::Method`` with its whole integration (a MOCK one has neither Uri nor HTTP method)."""
    properties = cloudformation_json["Properties"]
    backend = apigateway_backends[account_id][region_name]
    api_id, resource_id, http_method = properties["RestApiId"], properties["ResourceId"], properties["HttpMethod"]
    method = backend.put_method(function_id=api_id, resource_id=resource_id, method_type=http_method,
                                authorization_type=properties.get("AuthorizationType", "NONE"),
                                api_key_required=properties.get("ApiKeyRequired"),
                                request_parameters=properties.get("RequestParameters"))
    integration = properties["Integration"]
    timeout = integration.get("TimeoutInMillis")
    backend.put_integration(
        function_id=api_id, resource_id=resource_id, method_type=http_method,
        integration_type=integration["Type"], uri=integration.get("Uri"),
        integration_method=integration.get("IntegrationHttpMethod"),
        credentials=integration.get("Credentials"),
        request_templates=integration.get("RequestTemplates"),
        passthrough_behavior=integration.get("PassthroughBehavior"),
        timeout_in_millis=str(timeout) if timeout is not None else None,
        request_parameters=integration.get("RequestParameters"),
    )
    return method


def apply_method_details(method: Any, properties: dict[str, Any], account_id: str, region_name: str) -> None:
    """Method and integration responses, which moto's Method resource ignores (an integration response needs
    its method response)."""
    backend = apigateway_backends[account_id][region_name]
    api_id, resource_id, http_method = properties["RestApiId"], properties["ResourceId"], properties["HttpMethod"]
    for response in properties.get("MethodResponses", []):
        backend.put_method_response(
            function_id=api_id, resource_id=resource_id, method_type=http_method,
            response_code=str(response["StatusCode"]), response_models=response.get("ResponseModels", {}),
            response_parameters=response.get("ResponseParameters", {}),
        )
    for response in properties["Integration"].get("IntegrationResponses", []):
        backend.put_integration_response(
            function_id=api_id, resource_id=resource_id, method_type=http_method,
            status_code=str(response["StatusCode"]), selection_pattern=response.get("SelectionPattern"),
            response_templates=dict(response.get("ResponseTemplates", {})),
            response_parameters=response.get("ResponseParameters", {}),
        )


def deployment_physical_id(deployment: Deployment) -> str:
    """``!Ref`` of a Deployment is its id; moto's Deployment has no physical_resource_id."""
    return deployment.id
