"""Where localcloud's strict CloudFormation changes moto's engine (each through :mod:`localcloud.motoadapter`).

* Resource creation, update and deletion go through :mod:`.strict` (supported types only, events,
  rollback); stacks work in the background.
* The resource classes localcloud adds (:data:`.strict.ADDED_RESOURCE_CLASSES`) take precedence over
  moto's own for their types, whatever the import order: moto builds its type registry from
  ``CloudFormationModel.__subclasses__()`` and caches it, so a registry read before localcloud's classes
  were imported, or a moto module imported after them, would silently bring moto's fakes back.
* ``AWS::ApiGateway::Deployment`` gets a ``Ref`` value and ``AWS::Lambda::Function`` in-place updates.
"""

from __future__ import annotations

import functools

from moto.apigateway.models import Deployment
from moto.awslambda.models import LambdaFunction
from moto.cloudformation import parsing
from moto.cloudformation.models import CloudFormationBackend, Stack

from localcloud import motoadapter
from localcloud.apigateway.cloudformation import deployment_physical_id
from localcloud.awslambda.cloudformation import update_function
from localcloud.cloudformation import strict

_RESOURCE = ("logical_id", "resource_json", "resources_map", "account_id", "region_name")


def _register_added_classes() -> None:
    moto_model_map = motoadapter.require(parsing, "get_model_map")
    added = {cls.cloudformation_type(): cls for cls in strict.ADDED_RESOURCE_CLASSES}

    @functools.cache
    def model_map():
        return {**moto_model_map(), **added}

    motoadapter.replace(parsing, "get_model_map", model_map)
    for cached in ("get_model_list", "get_name_type_map"):
        motoadapter.require(parsing, cached).cache_clear()
    for resource_type, cls in added.items():
        if motoadapter.require(parsing, "resource_class_from_type", ("resource_type",))(resource_type) is not cls:
            raise motoadapter.MotoIncompatible(f"moto's CloudFormation does not resolve {resource_type} to "
                                               f"localcloud's {cls.__name__}.")


def install() -> None:
    replace = motoadapter.replace
    replace(parsing, "parse_and_create_resource", strict.create_resource, _RESOURCE)
    replace(parsing, "parse_and_update_resource", strict.update_resource, _RESOURCE)
    replace(parsing, "resource_name_property_from_type", strict.resource_name_property, ("resource_type",))
    replace(parsing.ResourceMap, "_delete_resource", strict.delete_resource, ("self", "parsed_resource", "resource_json"))
    for attribute in ("_parsed_resources", "_resource_json_map", "lazy_condition_map", "_account_id", "_region_name"):
        motoadapter.require_instance_attribute(parsing.ResourceMap, attribute)
    motoadapter.require(parsing, "clean_json", ("resource_json", "resources_map"))
    replace(Stack, "create_resources", strict.create_resources, ("self",))
    replace(Stack, "update", strict.update, ("self", "template", "role_arn", "parameters", "tags"))
    replace(Stack, "stack_resources", property(strict.stack_resources))
    replace(Stack, "outputs", property(strict.outputs))
    for method in ("_add_stack_event", "_parse_template", "_create_output_map", "parse_template"):
        motoadapter.require(Stack, method)
    replace(CloudFormationBackend, "create_stack", strict.create_stack, ("self", "name", "template"))
    replace(CloudFormationBackend, "update_stack", strict.update_stack, ("self", "name", "template"))
    replace(CloudFormationBackend, "delete_stack", strict.delete_stack, ("self", "name_or_stack_id"))
    replace(CloudFormationBackend, "create_change_set", strict.create_change_set,
            ("self", "stack_name", "change_set_name", "template"))
    replace(CloudFormationBackend, "execute_change_set", strict.execute_change_set,
            ("self", "change_set_name", "stack_name"))
    motoadapter.add(Deployment, "physical_resource_id", property(deployment_physical_id))
    replace(LambdaFunction, "update_from_cloudformation_json", classmethod(update_function),
            ("cls", "original_resource", "new_resource_name", "cloudformation_json", "account_id", "region_name"))
    motoadapter.require(LambdaFunction, "_create_zipfile_from_plaintext_code", ("code",))
    _register_added_classes()
