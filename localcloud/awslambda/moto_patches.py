"""Where localcloud's Lambda changes moto's behaviour (each through :mod:`localcloud.motoadapter`).

* Layers: a layer version ARN resolves only in its own account and region (moto matched the name
  alone), and AWS's public AWS SDK for pandas layer resolves by ARN (:mod:`.packaging`).
* CloudFormation: ``AWS::Lambda::Function`` keeps its ``Layers`` and ``Tags``; ``AWS::Lambda::LayerVersion``
  keeps its ``LayerName`` and ``CompatibleArchitectures`` and its ``Ref`` is the version ARN.
* SQS event source mappings are polled by :mod:`.event_sources` instead of being invoked inside
  ``SendMessage``; BatchSize and MaximumBatchingWindowInSeconds are checked with Lambda's limits.
* Concurrency: ``DeleteFunction`` ends the function's execution environments; the reservations
  ``PutFunctionConcurrency`` stored are read here for the runtime's throttling.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.awslambda import models as lambda_models
from moto.awslambda.exceptions import InvalidParameterValueException
from moto.sqs.models import sqs_backends

from localcloud import motoadapter
from localcloud.awslambda import event_sources
from localcloud.awslambda.packaging import is_pandas_layer

_install_lock = threading.Lock()
_installed = False


class ManagedLayerVersion:
    """A version of a layer AWS publishes from its own account (what a function's ``Layers`` needs)."""

    def __init__(self, arn: str):
        self.arn = arn
        self.code_size = 0  # the real layer's size is not known offline
        self.code_sha_256 = ""


def _layers_versions_by_arn(original):
    def layers_versions_by_arn(self: lambda_models.LambdaBackend, layer_version_arn: str):
        if is_pandas_layer(layer_version_arn):
            region = layer_version_arn.split(":")[3]
            return ManagedLayerVersion(layer_version_arn) if region == self.region_name else None
        parts = layer_version_arn.split(":")
        if len(parts) != 8 or parts[3] != self.region_name or parts[4] != self.account_id:
            return None
        return original(self, layer_version_arn)

    return layers_versions_by_arn


def _function_from_cloudformation(original):
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any):
        function = original.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json["Properties"]
        if properties.get("Layers"):
            function.layers = function._get_layers_data(properties["Layers"])
        function.tags.update({tag["Key"]: tag["Value"] for tag in properties.get("Tags") or []})
        return function

    return classmethod(create_from_cloudformation_json)


class StackLayerVersion(lambda_models.LayerVersion):
    """A layer version a stack created: its ``Ref`` is its ARN and deleting the stack deletes it."""

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def delete(self, account_id: str, region_name: str) -> None:
        lambda_models.get_backend(account_id, region_name).delete_layer_version(self.name, str(self.version))


def _layer_from_cloudformation(cls, resource_name: str, cloudformation_json: dict[str, Any],
                               account_id: str, region_name: str, **kwargs: Any):
    properties = cloudformation_json["Properties"]
    spec = {"LayerName": properties.get("LayerName") or resource_name, "Content": properties["Content"]}
    for name in ("Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
        if name in properties:
            spec[name] = properties[name]
    layer_version = lambda_models.get_backend(account_id, region_name).publish_layer_version(spec)
    layer_version.__class__ = StackLayerVersion
    return layer_version


def _check_sqs_mapping(spec: dict[str, Any], fifo: bool) -> None:
    batch_size = int(spec.get("BatchSize") or 10)
    window = int(spec.get("MaximumBatchingWindowInSeconds") or 0)
    limit = 10 if fifo else 10000
    if not 1 <= batch_size <= limit:
        raise InvalidParameterValueException(f"BatchSize must be between 1 and {limit} for this event source; "
                                             f"got {batch_size}.")
    if not 0 <= window <= 300:
        raise InvalidParameterValueException("MaximumBatchingWindowInSeconds must be between 0 and 300.")
    if batch_size > 10 and window < 1:
        raise InvalidParameterValueException(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
    unknown = set(spec.get("FunctionResponseTypes") or []) - {"ReportBatchItemFailures"}
    if unknown:
        raise InvalidParameterValueException(f"Unsupported FunctionResponseTypes {sorted(unknown)}; "
                                             "the only one is ReportBatchItemFailures.")


def _create_event_source_mapping(original):
    def create_event_source_mapping(self: lambda_models.LambdaBackend, spec: dict[str, Any]):
        source = spec.get("EventSourceArn") or ""
        if not event_sources.is_sqs(source):
            return original(self, spec)
        _check_sqs_mapping(spec, source.endswith(".fifo"))
        queue = next((q for q in sqs_backends[self.account_id][self.region_name].queues.values()
                      if q.queue_arn == source), None)
        function = self.get_function(spec.get("FunctionName") or "")
        if queue is not None and int(queue.visibility_timeout) < int(function.timeout):
            raise InvalidParameterValueException(
                f"Queue visibility timeout: {int(queue.visibility_timeout)} seconds is less than Function timeout: "
                f"{int(function.timeout)} seconds")
        mapping = original(self, spec)
        # moto would invoke inside SendMessage; Lambda's poller does it instead.
        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            if queue.queue_arn == source:
                queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        event_sources.POLLERS.start(self.account_id, self.region_name, mapping.uuid)
        return mapping

    return create_event_source_mapping


def _delete_event_source_mapping(original):
    def delete_event_source_mapping(self: lambda_models.LambdaBackend, uuid: str):
        event_sources.POLLERS.stop(uuid)
        return original(self, uuid)

    return delete_event_source_mapping


def reserved_concurrency(fn: lambda_models.LambdaFunction) -> int | None:
    """The function's ``ReservedConcurrentExecutions`` (kept on its ``$LATEST``; it covers every version)."""
    latest = lambda_models.get_backend(fn.account_id, fn.region).get_function(fn.function_name)
    return None if latest.reserved_concurrency in (None, "") else int(latest.reserved_concurrency)


def region_reserved_concurrency(fn: lambda_models.LambdaFunction) -> int:
    """What all the functions of ``fn``'s account and region reserve together."""
    backend = lambda_models.get_backend(fn.account_id, fn.region)
    groups = motoadapter.require(motoadapter.require(backend, "_lambdas"), "_functions")
    return sum(int(group["latest"].reserved_concurrency) for group in list(groups.values())
               if group.get("latest") is not None and group["latest"].reserved_concurrency not in (None, ""))


def _delete_function(original):
    def delete_function(self: lambda_models.LambdaBackend, function_name: str, qualifier: str | None = None):
        deleted = self.get_function(function_name, qualifier)
        original(self, function_name, qualifier)
        from localcloud.awslambda import models  # models installs this module: import it late

        if models._runtime is not None:
            qualified = qualifier or ":" in function_name.split(":function:")[-1]
            version = str(deleted.version) if qualified else None
            models._runtime.retire(deleted.region, deleted.function_name, version)

    return delete_function


def install() -> None:
    """Apply the changes once per process."""
    global _installed
    with _install_lock:
        if _installed:
            return
        backend = lambda_models.LambdaBackend
        motoadapter.replace(backend, "layers_versions_by_arn",
                            _layers_versions_by_arn(motoadapter.require(backend, "layers_versions_by_arn",
                                                                        ("self", "layer_version_arn"))))
        motoadapter.replace(backend, "create_event_source_mapping",
                            _create_event_source_mapping(motoadapter.require(
                                backend, "create_event_source_mapping", ("self", "spec"))))
        motoadapter.replace(backend, "delete_event_source_mapping",
                            _delete_event_source_mapping(motoadapter.require(
                                backend, "delete_event_source_mapping", ("self", "uuid"))))
        motoadapter.replace(backend, "delete_function", _delete_function(motoadapter.require(
            backend, "delete_function", ("self", "function_name", "qualifier"))))
        function = lambda_models.LambdaFunction
        motoadapter.replace(function, "create_from_cloudformation_json", _function_from_cloudformation(
            motoadapter.require(function, "create_from_cloudformation_json",
                                ("cls", "resource_name", "cloudformation_json", "account_id", "region_name"))))
        motoadapter.require(function, "_get_layers_data", ("self", "layers_versions_arns"))
        motoadapter.replace(lambda_models.LayerVersion, "create_from_cloudformation_json",
                            classmethod(_layer_from_cloudformation),
                            ("cls", "resource_name", "cloudformation_json", "account_id", "region_name"))
        from localcloud.awslambda.models import deliver_event  # models imports this module

        motoadapter.replace(function, "invoke", deliver_event, ("self", "body", "request_headers", "response_headers"))
        for attribute in ("function_name", "function_arn", "version", "run_time", "handler", "timeout", "memory_size",
                          "environment_vars", "region", "code_sha_256", "code_bytes", "last_modified", "layers",
                          "policy", "account_id"):
            motoadapter.require_instance_attribute(function, attribute)
        motoadapter.require(backend, "get_function", ("self", "function_name_or_arn", "qualifier"))
        _installed = True
