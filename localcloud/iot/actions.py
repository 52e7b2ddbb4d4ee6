"""Topic rule actions, performed in-process against localcloud's services.

Each action writes where the real one does: ``lambda`` invokes asynchronously through localcloud's
Lambda runtime (after the same resource-policy check AWS makes), ``republish`` goes back through the
broker, ``sqs``/``sns``/``dynamoDB``/``dynamoDBv2``/``s3``/``cloudwatchLogs`` write into moto's
backends.  Fields that the documentation marks as substitution templates (``${expression}``) are
evaluated against the original message, not the SELECT output.  An action kind localcloud cannot
perform is refused when the rule is created (:func:`check`), never skipped silently.
"""

from __future__ import annotations

import base64
import json
import re
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer
from moto.dynamodb.models import dynamodb_backends
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from localcloud.awslambda import models as lambda_models
from localcloud.awslambda.permissions import invoke_allowed
from localcloud.config import ACCOUNT_ID
from localcloud.iot.sql import UNDEFINED, Context, FunctionFailed, SqlParseError, compile_template_expression, serialise
from localcloud.logs import put_log_lines

if TYPE_CHECKING:
    from localcloud.iot.models import IoTCore

IOT_PRINCIPAL = "iot.amazonaws.com"
# What each action is called in the error action's "failedAction".
ACTION_NAMES = {"lambda": "LambdaAction", "republish": "RepublishAction", "sqs": "SqsAction", "sns": "SnsAction",
                "dynamoDB": "DynamoAction", "dynamoDBv2": "DynamoActionV2", "s3": "S3Action",
                "cloudwatchLogs": "CloudwatchLogsAction"}
REQUIRED = {"lambda": ("functionArn",), "republish": ("topic",), "sqs": ("queueUrl",), "sns": ("targetArn",),
            "dynamoDB": ("tableName", "hashKeyField", "hashKeyValue"), "dynamoDBv2": ("putItem",),
            "s3": ("bucketName", "key"), "cloudwatchLogs": ("logGroupName",)}
# Fields evaluated as substitution templates, per the rule action documentation.
TEMPLATED = {"lambda": ("functionArn",), "republish": ("topic",), "sqs": ("queueUrl",), "sns": ("targetArn",),
             "dynamoDB": ("tableName", "hashKeyField", "hashKeyValue", "hashKeyType", "rangeKeyField",
                          "rangeKeyValue", "rangeKeyType", "payloadField", "operation"),
             "s3": ("bucketName", "key"), "cloudwatchLogs": ("logGroupName",)}
_TEMPLATE = re.compile(r"\$\{(.*?)\}")


class ActionFailed(Exception):
    def __init__(self, kind: str, resource: str, message: str):
        super().__init__(message)
        self.action = ACTION_NAMES.get(kind, kind)
        self.resource = resource
        self.message = message


def _kind(action: Any) -> tuple[str, dict] | str:
    if not isinstance(action, dict) or len(action) != 1:
        return "each action must name exactly one action type (for example {\"sqs\": {...}})."
    kind, config = next(iter(action.items()))
    if not isinstance(config, dict):
        return f"the {kind} action's configuration must be an object."
    return kind, config


def check(action: Any, topic_filter: str | None = None) -> str | None:
    """Why CreateTopicRule must refuse ``action``, or None when localcloud can perform it."""
    kind_config = _kind(action)
    if isinstance(kind_config, str):
        return kind_config
    kind, config = kind_config
    if kind not in REQUIRED:
        return (f"localcloud cannot perform the {kind} action, so it refuses the rule rather than skip it. Actions "
                f"it performs: {', '.join(sorted(REQUIRED))}.")
    missing = [name for name in REQUIRED[kind] if not config.get(name)]
    if missing:
        return f"the {kind} action needs {', '.join(missing)}."
    for name in TEMPLATED.get(kind, ()):
        value = config.get(name)
        if isinstance(value, str):
            for expression in _TEMPLATE.findall(value):
                try:
                    compile_template_expression(expression)
                except SqlParseError as error:
                    return f"the substitution template ${{{expression}}} in {kind}.{name} is not valid: {error}"
    if kind == "republish":
        topic = config["topic"]
        if topic.startswith("$$aws/things/") and "/jobs/" in topic:
            return "republishing to reserved job topics is not supported."
        if topic.startswith("$") and not topic.startswith("$$"):
            return ("a republish topic that starts with $ must write it as $$ (for example "
                    "$$aws/things/MyThing/shadow/update).")
        qos = config.get("qos", 0)
        if qos not in (0, 1):
            return "republish qos must be 0 or 1."
    if kind == "sns" and config.get("messageFormat", "RAW") not in ("RAW", "JSON"):
        return "sns messageFormat must be RAW or JSON."
    if kind == "dynamoDBv2" and not (config["putItem"] or {}).get("tableName"):
        return "the dynamoDBv2 action needs putItem.tableName."
    return None


def substitute(template: str, context: Context) -> str:
    """Replace each ``${expression}`` with its value for the original message (Undefined -> "")."""
    def value(match: re.Match) -> str:
        try:
            result = compile_template_expression(match.group(1))(context)
        except FunctionFailed:
            return ""
        if result is UNDEFINED or result is None:
            return ""
        return result if isinstance(result, str) else serialise(result)
    return _TEMPLATE.sub(value, template)


def serialise_output(output: Any) -> bytes:
    """The SELECT result as the bytes actions send (objects and values as JSON, raw payloads as-is)."""
    if output is UNDEFINED:
        return b""
    if isinstance(output, bytes):
        return output
    return serialise(output).encode("utf-8")


def _resolved(kind: str, config: dict, context: Context) -> dict:
    resolved = dict(config)
    for name in TEMPLATED.get(kind, ()):
        if isinstance(resolved.get(name), str):
            resolved[name] = substitute(resolved[name], context)
    return resolved


def perform(action: dict, payload: bytes, context: Context, core: IoTCore, hops: int) -> None:
    """Carry out one action with the rule's output ``payload``; raise :class:`ActionFailed` on failure."""
    kind, config = next(iter(action.items()))
    config = _resolved(kind, config, context)
    region = context.rule_arn.split(":")[3]
    performer = _PERFORMERS[kind]
    try:
        performer(config, payload, context, core, hops, region)
    except ActionFailed:
        raise
    except Exception as exc:  # the target service refused: the error action reports it
        raise ActionFailed(kind, _resource(kind, config), f"{type(exc).__name__}: {getattr(exc, 'message', exc)}") \
            from exc


def _resource(kind: str, config: dict) -> str:
    return {
        "lambda": config.get("functionArn"), "republish": config.get("topic"), "sqs": config.get("queueUrl"),
        "sns": config.get("targetArn"), "dynamoDB": config.get("tableName"),
        "dynamoDBv2": (config.get("putItem") or {}).get("tableName"), "s3": config.get("bucketName"),
        "cloudwatchLogs": config.get("logGroupName"),
    }.get(kind) or ""


# -- Lambda ---------------------------------------------------------------------------------------

def _permitted_function(function_arn: str, rule_arn: str, region: str):
    """The function, after the resource-policy check AWS IoT is subject to."""
    try:
        function = lambda_models.find_function(function_arn, region, ACCOUNT_ID)
    except Exception as exc:
        raise PermissionError(f"Function not found: {function_arn}") from exc
    if not invoke_allowed(function, IOT_PRINCIPAL, rule_arn, ACCOUNT_ID):
        raise PermissionError(
            f"AWS IoT is not authorized to invoke {function_arn}: its resource-based policy has no statement allowing "
            f"{IOT_PRINCIPAL} lambda:InvokeFunction for {rule_arn}. Add one with `aws lambda add-permission "
            f"--principal {IOT_PRINCIPAL} --source-arn {rule_arn} --action lambda:InvokeFunction ...` or an "
            "AWS::Lambda::Permission.")
    return function


def call_lambda_from_sql(function_arn: str, event: Any, rule_arn: str, region: str) -> Any:
    """``aws_lambda(functionArn, input)``: a synchronous invocation whose JSON result the SQL continues with."""
    try:
        function = _permitted_function(function_arn, rule_arn, region)
    except PermissionError as error:
        raise FunctionFailed(f"aws_lambda(): {error}") from None
    result = lambda_models.invoke_function(function, serialise(event).encode("utf-8"))
    if result.function_error:
        raise FunctionFailed(f"aws_lambda(): {function_arn} failed: {result.payload.decode('utf-8', 'replace')}")
    try:
        return json.loads(result.payload, parse_float=lambda text: _whole(float(text)))
    except ValueError:
        raise FunctionFailed(f"aws_lambda(): {function_arn} must return JSON; it returned "
                             f"{result.payload[:200]!r}") from None


def _whole(number: float) -> int | float:
    return int(number) if number.is_integer() else number


def _lambda(config: dict, payload: bytes, context: Context, core: IoTCore, hops: int, region: str) -> None:
    function = _permitted_function(config["functionArn"], context.rule_arn, region)
    lambda_models.invoke_function_async(function, payload or b"{}")


# -- messaging ------------------------------------------------------------------------------------

def _republish(config: dict, payload: bytes, context: Context, core: IoTCore, hops: int, region: str) -> None:
    from localcloud.iot.models import Message

    topic = config["topic"]
    if topic.startswith("$$"):
        topic = topic[1:]
    core.publish(Message(region, topic, payload, client_id=context.client_id, hops=hops + 1))


def _sqs(config: dict, payload: bytes, context: Context, core: IoTCore, hops: int, region: str) -> None:
    queue_name = config["queueUrl"].rstrip("/").rsplit("/", 1)[-1]
    body = base64.b64encode(payload).decode("ascii") if config.get("useBase64") else payload.decode("utf-8")
    sqs_backends[ACCOUNT_ID][region].send_message(queue_name, body)


def _sns(config: dict, payload: bytes, context: Context, core: IoTCore, hops: int, region: str) -> None:
    target = config["targetArn"]
    structure = "json" if config.get("messageFormat") == "JSON" else None
    sns_backends[ACCOUNT_ID][target.split(":")[3]].publish(payload.decode("utf-8"), arn=target,
                                                           message_structure=structure)


# -- storage --------------------------------------------------------------------------------------

def _dynamo_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dynamo_value(v) for v in value]
    return value


def _json_object(payload: bytes, kind: str, resource: str) -> dict:
    try:
        document = json.loads(payload)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ActionFailed(kind, resource, "The rule's output is not a JSON object, so it cannot be written as an item.")
    return document


def _dynamodb_v2(config: dict, payload: bytes, context: Context, core: IoTCore, hops: int, region: str) -> None:
    table = substitute(config["putItem"]["tableName"], context)
    document = _json_object(payload, "dynamoDBv2", table)
    serializer = TypeSerializer()
    item = {key: serializer.serialize(_dynamo_value(value)) for key, value in document.items()}
    dynamodb_backends[ACCOUNT_ID][region].put_item(table, item)


def _dynamodb(config: dict, payload: bytes, context: Context, core: IoTCore, hops: int, region: str) -> None:
    backend = dynamodb_backends[ACCOUNT_ID][region]
    table = config["tableName"]
    serializer = TypeSerializer()

    def key_value(field: str) -> dict:
        value = config[f"{field}Value"]
        if config.get(f"{field}Type", "STRING") == "NUMBER":
            return {"N": value}
        return {"S": value}

    key = {config["hashKeyField"]: key_value("hashKey")}
    if config.get("rangeKeyField"):
        key[config["rangeKeyField"]] = key_value("rangeKey")
    operation = (config.get("operation") or "INSERT").upper()
    if operation == "DELETE":
        backend.delete_item(table, key)
        return
    try:
        document = json.loads(payload)
    except ValueError:
        document = payload.decode("utf-8", errors="replace")
    item = {**key, config.get("payloadField") or "payload": serializer.serialize(_dynamo_value(document))}
    backend.put_item(table, item)


def _s3(config: dict, payload: bytes, context: Context, core: IoTCore, hops: int, region: str) -> None:
    s3_backends[ACCOUNT_ID]["aws"].put_object(config["bucketName"], config["key"], payload)


def _cloudwatch_logs(config: dict, payload: bytes, context: Context, core: IoTCore, hops: int, region: str) -> None:
    group = config["logGroupName"]
    if group not in logs_backends[ACCOUNT_ID][region].groups:
        raise ActionFailed("cloudwatchLogs", group, f"The specified log group does not exist: {group}. The action "
                           "writes to an existing group (its role needs logs:CreateLogStream and logs:PutLogEvents).")
    # One stream per rule: AWS documents the group, not the stream's name.
    stream = context.rule_arn.rsplit("/", 1)[-1]
    put_log_lines(region, group, stream,
                  [(int(time.time() * 1000), payload.decode("utf-8", errors="replace"))])


_PERFORMERS = {"lambda": _lambda, "republish": _republish, "sqs": _sqs, "sns": _sns, "dynamoDB": _dynamodb,
               "dynamoDBv2": _dynamodb_v2, "s3": _s3, "cloudwatchLogs": _cloudwatch_logs}
