"""What API Gateway's data plane (:mod:`.execute`) reads of moto's REST API model, checked when localcloud
starts through :mod:`localcloud.motoadapter` (moto stores the APIs; localcloud serves them)."""

from __future__ import annotations

from moto.apigateway.models import Integration, IntegrationResponse, Method, Resource, RestAPI, Stage

from localcloud import motoadapter

READS = {
    RestAPI: ("id", "stages", "resources", "binaryMediaTypes"),
    Resource: ("id", "resource_methods"),
    Method: ("method_integration",),
    Integration: ("integration_type", "uri", "timeout_in_millis", "integration_responses"),
    IntegrationResponse: ("selection_pattern", "status_code"),
    Stage: ("name", "variables"),
}


def install() -> None:
    for model, attributes in READS.items():
        for attribute in attributes:
            motoadapter.require_instance_attribute(model, attribute)
    motoadapter.require(Resource, "get_path", ("self",))
