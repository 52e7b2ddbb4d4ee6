"""``AWS::SageMaker::Model``, ``EndpointConfig`` and ``Endpoint`` on localcloud's SageMaker state.

They replace moto's resources of the same types (defined later, they win moto's type registry),
so a stack's endpoint is a real one, keeps the ``EndpointName`` it was given, and the stack is
complete only when the endpoint is ``InService`` — or fails with the endpoint's reason.
"""

from __future__ import annotations

import re
import time
from typing import Any

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel

from localcloud.sagemaker import service
from localcloud.sagemaker.models import SageMakerError

ENDPOINT_TIMEOUT_SECONDS = 900


def _name(resource_name: str) -> str:
    """A generated physical name that satisfies SageMaker's name pattern and length."""
    return re.sub(r"[^a-zA-Z0-9-]", "-", resource_name)[:63].strip("-")


def _tags(properties: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": properties["Tags"]} if properties.get("Tags") else {}


class _SageMakerResource:
    """Shared behaviour; each resource class also derives from CloudFormationModel directly, because moto
    registers only its direct subclasses."""

    name_property = ""
    arn_kind = ""

    def __init__(self, region_name: str, name: str, arn: str):
        self.region_name = region_name
        self.name = name
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        return self.arn  # Ref of a SageMaker resource is its ARN

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.name_property

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == cls.name_property

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == self.name_property:
            return self.name
        raise UnformattedGetAttTemplateException()

    @classmethod
    def _create(cls, region_name: str, resource_name: str, operation: str, request: dict[str, Any], arn_key: str):
        """Create through the API's backend method, as the named resource."""
        name = _name(resource_name)
        backend = service.current().backend(region_name)
        arn = _call(getattr(backend, operation), {cls.name_property: name, **request})[arn_key]
        if request.get("Tags"):
            backend.record_tags(arn, request["Tags"])
        return cls(region_name, name, arn)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str, region_name: str):
        original_resource.delete(account_id, region_name)
        properties = cloudformation_json["Properties"]
        name = properties.get(cls.name_property, original_resource.name)
        return cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)


def _call(method, request: dict[str, Any]) -> dict[str, Any]:
    try:
        return method(request)
    except SageMakerError as error:
        raise RuntimeError(f"{error.code}: {error.message}") from None


class SageMakerModel(_SageMakerResource, CloudFormationModel):
    name_property = "ModelName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::Model"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> SageMakerModel:
        properties = {k: v for k, v in cloudformation_json["Properties"].items() if k != cls.name_property}
        return cls._create(region_name, resource_name, "create_model", properties, "ModelArn")

    def delete(self, account_id: str, region_name: str) -> None:
        service.current().backend(region_name).models.pop(self.name, None)


class SageMakerEndpointConfig(_SageMakerResource, CloudFormationModel):
    name_property = "EndpointConfigName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::EndpointConfig"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> SageMakerEndpointConfig:
        properties = cloudformation_json["Properties"]
        request = {"ProductionVariants": properties["ProductionVariants"], **_tags(properties)}
        return cls._create(region_name, resource_name, "create_endpoint_config", request, "EndpointConfigArn")

    def delete(self, account_id: str, region_name: str) -> None:
        service.current().backend(region_name).endpoint_configs.pop(self.name, None)


class SageMakerEndpoint(_SageMakerResource, CloudFormationModel):
    name_property = "EndpointName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::Endpoint"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> SageMakerEndpoint:
        properties = cloudformation_json["Properties"]
        request = {"EndpointConfigName": properties["EndpointConfigName"], **_tags(properties)}
        resource = cls._create(region_name, resource_name, "create_endpoint", request, "EndpointArn")
        resource.wait_in_service()
        return resource

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: SageMakerEndpoint, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> SageMakerEndpoint:
        properties = cloudformation_json["Properties"]
        if properties.get("EndpointName", original_resource.name) != original_resource.name:
            return super().update_from_cloudformation_json(original_resource, new_resource_name, cloudformation_json,
                                                           account_id, region_name)
        backend = service.current().backend(region_name)
        _call(backend.update_endpoint, {"EndpointName": original_resource.name,
                                          "EndpointConfigName": properties["EndpointConfigName"]})
        original_resource.wait_in_service()
        return original_resource

    def wait_in_service(self) -> None:
        """CloudFormation reports an endpoint created only once it serves."""
        backend = service.current().backend(self.region_name)
        deadline = time.monotonic() + ENDPOINT_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            endpoint = backend.endpoints.get(self.name)
            if endpoint is None:
                raise RuntimeError(f"Endpoint {self.name} was deleted while being created")
            if endpoint.status == "InService" and not endpoint.failure_reason:
                return
            if endpoint.status == "Failed" or (endpoint.status == "InService" and endpoint.failure_reason):
                raise RuntimeError(f"Endpoint {self.name} failed: {endpoint.failure_reason}")
            time.sleep(0.1)
        raise RuntimeError(f"Endpoint {self.name} was not InService within {ENDPOINT_TIMEOUT_SECONDS} s")

    def delete(self, account_id: str, region_name: str) -> None:
        backend = service.current().backend(region_name)
        if self.name in backend.endpoints:
            backend.delete_endpoint(self.name)
