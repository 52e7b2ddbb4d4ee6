"""Strict CloudFormation: what localcloud cannot really create fails the stack, never passes.

moto's engine creates the resources.  Around it, localcloud

* lints every template with cfn-lint before CreateStack, UpdateStack and CreateChangeSet, and
  rejects the call with cfn-lint's errors;
* allows only the resource types and properties in :data:`SUPPORTED` — the ones moto and
  localcloud together make real — and fails the resource with a reason naming what is missing;
* applies the properties moto drops (bucket notifications, method integration responses, ...);
* records per-resource stack events, and on a failure rolls back: ``CREATE_FAILED`` on the
  resource, then ``ROLLBACK_IN_PROGRESS`` and ``ROLLBACK_COMPLETE`` on the stack, with what was
  created deleted again;
* works in the background, as CloudFormation does: CreateStack, UpdateStack, DeleteStack and
  ExecuteChangeSet answer at once and the stack is seen ``*_IN_PROGRESS`` until its resources are
  done (a SageMaker endpoint takes as long as its model takes to load).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend, Event, Stack, cloudformation_backends

from localcloud import motoadapter
from localcloud.apigateway.cloudformation import ApiGatewayStage, apply_method_details, check_method
from localcloud.cloudformation.lint import lint_errors
from localcloud.cloudformation.metadata import CdkMetadata
from localcloud.iam.cloudformation import attach_managed_policies, detach_managed_policies
from localcloud.iot.cloudformation import TopicRule, check_template_actions
from localcloud.s3.cloudformation import BucketPolicy, apply_bucket_properties, refuse_to_delete_a_non_empty_bucket
from localcloud.sagemaker.cloudformation import SageMakerEndpoint, SageMakerEndpointConfig, SageMakerModel
from localcloud.sns.cloudformation import TopicPolicy, TopicSubscription, apply_topic_tags
from localcloud.sqs.cloudformation import QueuePolicy

logger = logging.getLogger("localcloud.cloudformation")

Hook = Callable[[Any, dict, str, str], None]
DeleteHook = Callable[[Any, str, str], None]

# Resource classes localcloud adds to moto's engine (registered by subclassing CloudFormationModel).
ADDED_RESOURCE_CLASSES = (CdkMetadata, ApiGatewayStage, BucketPolicy, TopicSubscription, TopicPolicy, QueuePolicy,
                          SageMakerModel, SageMakerEndpointConfig, SageMakerEndpoint, TopicRule)


@dataclass(frozen=True)
class Support:
    properties: frozenset[str]
    after_create: Hook | None = None
    check: Callable[[dict], str | None] | None = None
    before_delete: DeleteHook | None = None


def _support(properties: str, after_create: Hook | None = None, check=None,
             before_delete: DeleteHook | None = None) -> Support:
    return Support(frozenset(properties.split()), after_create, check, before_delete)


def _check_function(properties: dict) -> str | None:
    if properties.get("PackageType", "Zip") != "Zip" or "ImageUri" in properties.get("Code", {}):
        return "container-image functions need Docker; package the function as a zip"
    return None


def _check_event_source_mapping(properties: dict) -> str | None:
    source = properties.get("EventSourceArn")
    if isinstance(source, str) and ":sqs:" not in source:
        return "localcloud polls SQS queues only; other event sources are not delivered"
    return None


SUPPORTED: dict[str, Support] = {
    # A no-op on AWS too: the CDK's record of the constructs a template came from.
    "AWS::CDK::Metadata": _support("Analytics"),
    "AWS::IAM::Role": _support(
        "RoleName AssumeRolePolicyDocument Policies ManagedPolicyArns Path Description "
        "MaxSessionDuration PermissionsBoundary Tags",
        after_create=attach_managed_policies,
        before_delete=detach_managed_policies,
    ),
    "AWS::IAM::Policy": _support("PolicyName PolicyDocument Roles Users Groups"),
    "AWS::IAM::ManagedPolicy": _support("ManagedPolicyName PolicyDocument Description Path Roles Users Groups"),
    "AWS::Lambda::Function": _support(
        "FunctionName Code Handler Role Runtime Description MemorySize Timeout Environment Tags "
        "Architectures ReservedConcurrentExecutions PackageType Layers",
        check=_check_function,
    ),
    "AWS::Lambda::LayerVersion": _support("LayerName Content Description CompatibleRuntimes CompatibleArchitectures "
                                          "LicenseInfo"),
    "AWS::Lambda::EventSourceMapping": _support(
        "EventSourceArn FunctionName BatchSize Enabled MaximumBatchingWindowInSeconds FunctionResponseTypes",
        check=_check_event_source_mapping,
    ),
    "AWS::Lambda::Permission": _support("FunctionName Action Principal SourceArn SourceAccount"),
    "AWS::Lambda::Version": _support("FunctionName Description"),
    "AWS::ApiGateway::RestApi": _support("Name Description EndpointConfiguration"),
    "AWS::ApiGateway::Resource": _support("RestApiId ParentId PathPart"),
    "AWS::ApiGateway::Method": _support(
        "RestApiId ResourceId HttpMethod AuthorizationType ApiKeyRequired Integration MethodResponses OperationName "
        "RequestParameters",
        after_create=apply_method_details,
        check=check_method,
    ),
    "AWS::ApiGateway::Deployment": _support("RestApiId StageName Description"),
    "AWS::ApiGateway::Stage": _support(
        "RestApiId DeploymentId StageName Description Variables MethodSettings Tags TracingEnabled"
    ),
    "AWS::S3::Bucket": _support(
        "BucketName BucketEncryption Tags NotificationConfiguration PublicAccessBlockConfiguration VersioningConfiguration "
        "OwnershipControls",
        after_create=apply_bucket_properties,
        before_delete=refuse_to_delete_a_non_empty_bucket,
    ),
    "AWS::S3::BucketPolicy": _support("Bucket PolicyDocument"),
    "AWS::SNS::Topic": _support("TopicName DisplayName Subscription Tags", after_create=apply_topic_tags),
    "AWS::SNS::Subscription": _support("TopicArn Endpoint Protocol RawMessageDelivery FilterPolicy"),
    "AWS::SNS::TopicPolicy": _support("Topics PolicyDocument"),
    "AWS::SQS::Queue": _support(
        "QueueName VisibilityTimeout MessageRetentionPeriod DelaySeconds MaximumMessageSize "
        "ReceiveMessageWaitTimeSeconds RedrivePolicy FifoQueue ContentBasedDeduplication Tags"
    ),
    "AWS::SQS::QueuePolicy": _support("Queues PolicyDocument"),
    "AWS::DynamoDB::Table": _support(
        "TableName AttributeDefinitions KeySchema BillingMode ProvisionedThroughput GlobalSecondaryIndexes "
        "LocalSecondaryIndexes SSESpecification StreamSpecification Tags"
    ),
    "AWS::Logs::LogGroup": _support("LogGroupName RetentionInDays Tags"),
    "AWS::SageMaker::Model": _support("ModelName ExecutionRoleArn PrimaryContainer Containers EnableNetworkIsolation Tags"),
    "AWS::SageMaker::EndpointConfig": _support("EndpointConfigName ProductionVariants Tags"),
    "AWS::SageMaker::Endpoint": _support("EndpointName EndpointConfigName Tags"),
    "AWS::IoT::TopicRule": _support("RuleName TopicRulePayload Tags", check=check_template_actions),
}


class ResourceFailed(Exception):
    """A resource could not be created for real; the stack must roll back."""

    def __init__(self, logical_id: str, resource_type: str, reason: str):
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


def unsupported_reason(resource_type: str, properties: dict) -> str | None:
    """Why localcloud cannot really create this resource, or None when it can."""
    support = SUPPORTED.get(resource_type)
    if support is None:
        return (
            f"Resource type {resource_type} is not supported by localcloud, so it cannot be created. "
            f"Supported types: {', '.join(sorted(SUPPORTED))}."
        )
    unknown = sorted(set(properties or {}) - support.properties)
    if unknown:
        return f"Properties {unknown} of {resource_type} are not supported by localcloud."
    if support.check:
        problem = support.check(properties or {})
        if problem:
            return f"{resource_type}: {problem}."
    return None


# -- per-resource creation ---------------------------------------------------------------------

_moto_create_resource = motoadapter.require(parsing, "parse_and_create_resource")
_moto_update_resource = motoadapter.require(parsing, "parse_and_update_resource")


def _stack_of(resources_map) -> Stack | None:
    backend = cloudformation_backends[resources_map._account_id][resources_map._region_name]
    return backend.stacks.get(resources_map.stack_id)


def _resource_event(stack: Stack | None, logical_id: str, resource_type: str, status: str,
                    physical_id: str = "", reason: str | None = None) -> None:
    if stack is None:
        return
    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=physical_id,
            resource_type=resource_type,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def _physical_id(resource: Any) -> str:
    return str(getattr(resource, "physical_resource_id", "") or "")


def with_stack_tags(resource_json: dict, resources_map) -> dict:
    """The resource with the stack's own tags added to its ``Tags``, as CloudFormation propagates them to
    every resource that takes tags (a tag the resource names itself wins)."""
    support = SUPPORTED.get(resource_json.get("Type", ""))
    stack_tags = {key: value for key, value in (getattr(resources_map, "tags", None) or {}).items()
                  if not key.startswith("aws:")}
    if support is None or "Tags" not in support.properties or not stack_tags:
        return resource_json
    properties = dict(resource_json.get("Properties") or {})
    own = properties.get("Tags") or []
    if not isinstance(own, list):
        return resource_json
    named = {tag.get("Key") for tag in own if isinstance(tag, dict)}
    properties["Tags"] = own + [{"Key": key, "Value": value} for key, value in stack_tags.items() if key not in named]
    return dict(resource_json, Properties=properties)


def create_resource(logical_id: str, resource_json: dict, resources_map, account_id: str, region_name: str):
    condition = resource_json.get("Condition")
    if condition and not resources_map.lazy_condition_map[condition]:
        return None
    resource_type = resource_json["Type"]
    reason = unsupported_reason(resource_type, resource_json.get("Properties", {}))
    if reason:
        raise ResourceFailed(logical_id, resource_type, reason)
    resource_json = with_stack_tags(resource_json, resources_map)
    stack = _stack_of(resources_map)
    _resource_event(stack, logical_id, resource_type, "CREATE_IN_PROGRESS")
    try:
        resource = _moto_create_resource(logical_id, resource_json, resources_map, account_id, region_name)
        hook = SUPPORTED[resource_type].after_create
        if hook is not None:
            # Known to the stack before its hook runs, so that a rollback deletes it if the hook fails.
            resources_map._parsed_resources[logical_id] = resource
            properties = parsing.clean_json(resource_json.get("Properties", {}), resources_map)
            hook(resource, properties, account_id, region_name)
    except ResourceFailed:
        raise
    except Exception as exc:
        raise ResourceFailed(logical_id, resource_type, _describe(exc)) from exc
    _resource_event(stack, logical_id, resource_type, "CREATE_COMPLETE", _physical_id(resource))
    return resource


def update_resource(logical_id: str, resource_json: dict, resources_map, account_id: str, region_name: str):
    resource_type = resource_json["Type"]
    reason = unsupported_reason(resource_type, resource_json.get("Properties", {}))
    if reason:
        raise ResourceFailed(logical_id, resource_type, reason)
    resource_class = parsing.resource_class_from_type(resource_type)
    try:
        if hasattr(resource_class.update_from_cloudformation_json, "__isabstractmethod__"):
            # moto cannot update this type in place: replace it, as CloudFormation would.
            resources_map._delete_resource(resources_map._parsed_resources[logical_id],
                                           resources_map._resource_json_map.get(logical_id, resource_json))
            resources_map._parsed_resources.pop(logical_id, None)
            return _moto_create_resource(logical_id, resource_json, resources_map, account_id, region_name)
        resource = _moto_update_resource(logical_id, resource_json, resources_map, account_id, region_name)
        hook = SUPPORTED[resource_type].after_create
        if hook is not None:
            hook(resource, parsing.clean_json(resource_json.get("Properties", {}), resources_map), account_id, region_name)
        return resource
    except ResourceFailed:
        raise
    except Exception as exc:
        raise ResourceFailed(logical_id, resource_type, _describe(exc)) from exc


_moto_delete_resource = motoadapter.require(parsing.ResourceMap, "_delete_resource")


def delete_resource(self, parsed_resource: Any, resource_json: dict) -> None:
    support = SUPPORTED.get(resource_json.get("Type", ""))
    if support is not None and support.before_delete is not None:
        support.before_delete(parsed_resource, self._account_id, self._region_name)
    _moto_delete_resource(self, parsed_resource, resource_json)


def _describe(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {message}"


# -- stacks ------------------------------------------------------------------------------------

def _check_template(template: dict) -> ResourceFailed | None:
    for logical_id, resource_json in (template.get("Resources") or {}).items():
        reason = unsupported_reason(resource_json.get("Type", ""), resource_json.get("Properties", {}))
        if reason:
            return ResourceFailed(logical_id, resource_json.get("Type", ""), reason)
    return None


def _roll_back_creation(stack: Stack, failure: ResourceFailed) -> None:
    _resource_event(stack, failure.logical_id, failure.resource_type, "CREATE_FAILED", reason=failure.reason)
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event(
        "ROLLBACK_IN_PROGRESS",
        resource_status_reason=f"The following resource(s) failed to create: [{failure.logical_id}]. "
        "Rollback requested by user.",
    )
    try:
        stack.resource_map.delete()
    except Exception as exc:
        logger.warning("rollback of stack %s left resources behind: %s", stack.name, exc)
    stack.output_map = parsing.OutputMap(stack.resource_map, {}, stack.stack_id)
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE")


def _fail_update(stack: Stack, failure: ResourceFailed, rolled_back: bool) -> None:
    _resource_event(stack, failure.logical_id, failure.resource_type, "UPDATE_FAILED", reason=failure.reason)
    stack._add_stack_event(
        "UPDATE_ROLLBACK_IN_PROGRESS",
        resource_status_reason=f"The following resource(s) failed to update: [{failure.logical_id}].",
    )
    # Nothing changed when the check failed up front; a failure half-way cannot be undone here.
    stack.status = "UPDATE_ROLLBACK_COMPLETE" if rolled_back else "UPDATE_ROLLBACK_FAILED"
    stack._add_stack_event(stack.status, resource_status_reason=None if rolled_back else failure.reason)


_moto_create_resources = motoadapter.require(Stack, "create_resources")
_moto_stack_update = motoadapter.require(Stack, "update")


def _in_background(stack: Stack, work: Callable[[], None]) -> None:
    """Run a stack operation as CloudFormation does, off the request; it never stays IN_PROGRESS."""

    def run() -> None:
        try:
            work()
        except Exception as exc:
            logger.exception("stack %s failed in localcloud", stack.name)
            if stack.status.endswith("_IN_PROGRESS"):
                stack.status = stack.status.replace("_IN_PROGRESS", "_FAILED")
                stack._add_stack_event(stack.status, resource_status_reason=_describe(exc))

    threading.Thread(target=run, name=f"stack-{stack.name}", daemon=True).start()


def create_resources(self: Stack) -> None:
    self.status = "CREATE_IN_PROGRESS"

    def work() -> None:
        try:
            _moto_create_resources(self)
        except ResourceFailed as failure:
            _roll_back_creation(self, failure)

    _in_background(self, work)


def update(self: Stack, template: str, role_arn: str | None = None, parameters=None, tags=None) -> None:
    failure = _check_template(Stack.parse_template(template))
    if failure:
        self._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
        _fail_update(self, failure, rolled_back=True)
        return
    self.status = "UPDATE_IN_PROGRESS"

    def work() -> None:
        try:
            _moto_stack_update(self, template, role_arn, parameters=parameters, tags=tags)
        except ResourceFailed as failure:
            _fail_update(self, failure, rolled_back=False)

    _in_background(self, work)


def stack_resources(self: Stack):
    """The resources created so far while the stack works (reading moto's lazy map would create them)."""
    if self.status.endswith("_IN_PROGRESS"):
        return list(self.resource_map._parsed_resources.values())
    return self.resource_map.values()


_moto_outputs = motoadapter.require(Stack, "outputs")


def outputs(self: Stack):
    """No outputs until the stack is done (evaluating them would create the resources they name)."""
    if self.status.endswith("_IN_PROGRESS"):
        return None
    return _moto_outputs.fget(self)


# -- API calls ---------------------------------------------------------------------------------

def _lint(template: str | None, region: str) -> None:
    if not template:
        return
    errors = lint_errors(template, region)
    if errors:
        raise ValidationError(message="Template failed cfn-lint validation: " + " | ".join(errors))


_moto_create_stack = motoadapter.require(CloudFormationBackend, "create_stack")
_moto_delete_stack = motoadapter.require(CloudFormationBackend, "delete_stack")
_moto_update_stack = motoadapter.require(CloudFormationBackend, "update_stack")
_moto_create_change_set = motoadapter.require(CloudFormationBackend, "create_change_set")
_moto_execute_change_set = motoadapter.require(CloudFormationBackend, "execute_change_set")


def create_stack(self: CloudFormationBackend, name: str, template: str, *args, **kwargs):
    _lint(template, self.region_name)
    return _moto_create_stack(self, name, template, *args, **kwargs)


def update_stack(self: CloudFormationBackend, name: str, template: str, *args, **kwargs):
    _lint(template, self.region_name)
    return _moto_update_stack(self, name, template, *args, **kwargs)


def create_change_set(self: CloudFormationBackend, stack_name: str, change_set_name: str, template: str, *args, **kwargs):
    _lint(template, self.region_name)
    return _moto_create_change_set(self, stack_name, change_set_name, template, *args, **kwargs)


def delete_stack(self: CloudFormationBackend, name_or_stack_id: str) -> None:
    """Deleted in the background; a resource that cannot be deleted leaves the stack DELETE_FAILED, as on AWS."""
    stack = self.stacks.get(name_or_stack_id) or next(
        (s for s in self.stacks.values() if s.name == name_or_stack_id), None
    )
    if stack is None or stack.status == "DELETE_IN_PROGRESS":
        return _moto_delete_stack(self, name_or_stack_id) if stack is None else None
    stack.status = "DELETE_IN_PROGRESS"
    export_names = [export.name for export in stack.exports]

    def work() -> None:
        # The stack stays listed, DELETE_IN_PROGRESS, until its resources are gone (moto takes it out of the
        # list first, so a waiter would see it deleted while its endpoint or bucket still exists).
        try:
            stack.delete()
        except Exception as exc:
            logger.warning("stack %s could not be deleted: %s", stack.name, exc)
            stack.status = "DELETE_FAILED"
            stack._add_stack_event("DELETE_FAILED", resource_status_reason=_describe(exc))
            return
        self.stacks.pop(stack.stack_id, None)
        self.deleted_stacks[stack.stack_id] = stack
        for export_name in export_names:
            self.exports.pop(export_name, None)

    _in_background(stack, work)
    return None


def execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
    change_set = self.change_sets.get(change_set_name) or next(
        (cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name), None
    )
    if change_set is None:
        return _moto_execute_change_set(self, change_set_name, stack_name)
    stack = self.stacks[change_set.stack_id]
    creating = change_set.change_set_type == "CREATE"
    failure = _check_template(change_set.template_dict)
    if failure is not None:  # refused before anything changed
        stack._add_stack_event(f"{change_set.change_set_type}_IN_PROGRESS", resource_status_reason="User Initiated")
        change_set.execution_status = "EXECUTE_FAILED"
        if creating:
            _roll_back_creation(stack, failure)
        else:
            _fail_update(stack, failure, rolled_back=True)
        return None
    stack.status = f"{change_set.change_set_type}_IN_PROGRESS"
    change_set.execution_status = "EXECUTE_IN_PROGRESS"

    def work() -> None:
        try:
            _moto_execute_change_set(self, change_set_name, stack_name)
            # moto keeps the outputs of the template the stack had before the change set.
            stack._parse_template()
            stack.description = stack.template_dict.get("Description")
            stack.output_map = stack._create_output_map()
        except ResourceFailed as raised:  # moto has already recorded the IN_PROGRESS event
            change_set.execution_status = "EXECUTE_FAILED"
            if creating:
                _roll_back_creation(stack, raised)
            else:
                _fail_update(stack, raised, rolled_back=False)

    _in_background(stack, work)
    return None


def resource_name_property(resource_type: str) -> str | None:
    """The property that names a resource, from the class that actually creates that type.

    moto asks the first class registered for the type, which for replaced types is its own.
    """
    resource_class = parsing.get_model_map().get(resource_type)
    if resource_class is not None:
        return resource_class.cloudformation_name_type()
    return parsing.get_name_type_map().get(resource_type)
