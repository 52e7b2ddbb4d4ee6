"""IoT's wire protocols (REST-JSON) for the operations localcloud answers itself.

``iot-data`` (signed as service ``iotdata``): the shadow operations and ``Publish``.  ``iot`` (signed
``iot``): the topic rule operations under ``/rules``.  Every other IoT operation (``CreateThing``,
``DescribeEndpoint``, ...) stays with moto.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote

from werkzeug.wrappers import Request, Response

from localcloud.config import DEFAULT_REGION
from localcloud.iot import models
from localcloud.iot.models import IoTError, Message, build_rule, invalid
from localcloud.validation import operation_model, validation_errors, validation_message

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/aws4_request")
_SHADOW_PATH = re.compile(r"^/things/(?P<thing>[^/]+)/shadow$")
_LIST_SHADOWS_PATH = re.compile(r"^/api/things/shadow/ListNamedShadowsForThing/(?P<thing>[^/]+)$")
_RULE_PATH = re.compile(r"^/rules/(?P<name>[^/]+)(?P<toggle>/enable|/disable)?$")
_TOPICS_PREFIX = "/topics/"
DEFAULT_PAGE_SIZE = 25


def signing_scope(environ: dict) -> tuple[str, str]:
    """(region, signing service) of a SigV4-signed request."""
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", "")) or _SCOPE.search(
        unquote(environ.get("QUERY_STRING", "")))
    return (match["region"], match["service"]) if match else (DEFAULT_REGION, "")


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json",
                    headers={"x-amzn-RequestId": str(uuid.uuid4())})


def _error(error: IoTError) -> Response:
    return Response(json.dumps({"message": error.message}), status=error.status, mimetype="application/json",
                    headers={"x-amzn-ErrorType": error.code, "x-amzn-RequestId": str(uuid.uuid4())})


def _query(request: Request) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(request.query_string.decode("utf-8")).items()}


def _validate(service: str, operation: str, params: dict) -> None:
    errors = validation_errors(operation_model(service, operation), params)
    if errors:
        raise invalid(validation_message(errors))


def route(environ: dict) -> Callable[[], Response] | None:
    """The handler for an IoT request localcloud owns, or None to leave it to moto."""
    region, service = signing_scope(environ)
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
    if service == "iotdata":
        return _data_plane_handler(environ, region, path, method)
    if service == "iot" and (path == "/rules" or path.startswith("/rules/")):
        return _rule_handler(environ, region, path, method)
    return None


def _guarded(handler: Callable[[], Response]) -> Callable[[], Response]:
    def run() -> Response:
        try:
            return handler()
        except IoTError as error:
            return _error(error)
    return run


# -- iot-data --------------------------------------------------------------------------------------

def _data_plane_handler(environ: dict, region: str, path: str, method: str):
    request = Request(environ)
    core = models.core()
    shadow = _SHADOW_PATH.match(path)
    if shadow:
        thing = shadow["thing"]
        shadow_name = _query(request).get("name") or None
        if method == "POST":
            return _guarded(lambda: _update_shadow(core, request, region, thing, shadow_name))
        if method == "GET":
            return _guarded(lambda: _get_shadow(core, region, thing, shadow_name))
        if method == "DELETE":
            return _guarded(lambda: _delete_shadow(core, region, thing, shadow_name))
        return None
    listing = _LIST_SHADOWS_PATH.match(path)
    if listing and method == "GET":
        return _guarded(lambda: _list_named_shadows(core, request, region, listing["thing"]))
    if path.startswith(_TOPICS_PREFIX) and method == "POST":
        return _guarded(lambda: _publish(core, request, region, path[len(_TOPICS_PREFIX):]))
    return None


def _check_names(thing: str, shadow_name: str | None) -> None:
    params = {"thingName": thing}
    if shadow_name is not None:
        params["shadowName"] = shadow_name
    _validate("iot-data", "GetThingShadow", params)


def _update_shadow(core: models.IoTCore, request: Request, region: str, thing: str, shadow_name: str | None):
    _check_names(thing, shadow_name)
    accepted, messages = core.shadows.update(region, thing, shadow_name, request.get_data())
    core.publish_shadow_messages(region, messages)
    return _json(accepted)


def _get_shadow(core: models.IoTCore, region: str, thing: str, shadow_name: str | None):
    _check_names(thing, shadow_name)
    return _json(core.shadows.get(region, thing, shadow_name))


def _delete_shadow(core: models.IoTCore, region: str, thing: str, shadow_name: str | None):
    _check_names(thing, shadow_name)
    document, messages = core.shadows.delete(region, thing, shadow_name)
    core.publish_shadow_messages(region, messages)
    return _json(document)


def _list_named_shadows(core: models.IoTCore, request: Request, region: str, thing: str):
    query = _query(request)
    try:
        page_size = int(query.get("pageSize") or DEFAULT_PAGE_SIZE)
        start = int(query.get("nextToken") or 0)
    except ValueError:
        raise invalid("pageSize and nextToken must be the values a previous ListNamedShadowsForThing gave.") from None
    _validate("iot-data", "ListNamedShadowsForThing", {"thingName": thing, "pageSize": page_size})
    names = core.shadows.list_named(region, thing)
    body: dict[str, Any] = {"results": names[start:start + page_size], "timestamp": int(time.time())}
    if start + page_size < len(names):
        body["nextToken"] = str(start + page_size)
    return _json(body)


def _publish(core: models.IoTCore, request: Request, region: str, topic: str):
    query = _query(request)
    if not topic or "+" in topic or "#" in topic:
        raise invalid(f"Invalid topic name '{topic}': a topic you publish to cannot be empty or contain the "
                      "wildcards + or #.")
    if query.get("retain", "false").lower() == "true":
        raise invalid("localcloud's message broker does not keep retained messages; publish with retain=false.")
    qos = query.get("qos", "0")
    if qos not in ("0", "1"):
        raise invalid(f"Invalid qos {qos}: the message broker supports QoS 0 and 1.")
    payload = request.get_data()
    if len(payload) > models.MESSAGE_LIMIT:
        raise IoTError(413, "RequestEntityTooLargeException",
                       f"The payload of {len(payload)} bytes exceeds the maximum message size of 128 KB.")
    core.publish(Message(region, topic, payload))
    return _json({})


# -- iot topic rules ---------------------------------------------------------------------------------

def _rule_handler(environ: dict, region: str, path: str, method: str):
    request = Request(environ)
    core = models.core()
    if path == "/rules":
        return _guarded(lambda: _list_rules(core, request, region)) if method == "GET" else None
    match = _RULE_PATH.match(path)
    if match is None:
        return None
    name, toggle = match["name"], match["toggle"]
    if toggle and method == "POST":
        return _guarded(lambda: _toggle_rule(core, region, name, disabled=toggle == "/disable"))
    if toggle:
        return None
    handlers = {
        "POST": lambda: _create_rule(core, request, region, name),
        "PATCH": lambda: _replace_rule(core, request, region, name),
        "GET": lambda: _get_rule(core, region, name),
        "DELETE": lambda: _delete_rule(core, region, name),
    }
    handler = handlers.get(method)
    return _guarded(handler) if handler else None


def _payload(request: Request, operation: str, name: str) -> dict:
    try:
        payload = json.loads(request.get_data() or b"{}")
    except ValueError:
        raise invalid("The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise invalid("The request body must be a TopicRulePayload object.")
    _validate("iot", operation, {"ruleName": name, "topicRulePayload": payload})
    return payload


def _tags(request: Request) -> list[dict]:
    header = request.headers.get("x-amz-tagging", "")
    return [{"Key": key, "Value": values[-1]} for key, values in parse_qs(header, keep_blank_values=True).items()]


def _create_rule(core: models.IoTCore, request: Request, region: str, name: str):
    payload = _payload(request, "CreateTopicRule", name)
    core.create_rule(build_rule(name, region, payload, _tags(request)))
    return _json({})


def _replace_rule(core: models.IoTCore, request: Request, region: str, name: str):
    payload = _payload(request, "ReplaceTopicRule", name)
    core.replace_rule(build_rule(name, region, payload))
    return _json({})


def _get_rule(core: models.IoTCore, region: str, name: str):
    rule = core.get_rule(region, name)
    return _json({"ruleArn": rule.arn, "rule": rule.describe()})


def _delete_rule(core: models.IoTCore, region: str, name: str):
    core.delete_rule(region, name)
    return _json({})


def _toggle_rule(core: models.IoTCore, region: str, name: str, disabled: bool):
    core.set_rule_disabled(region, name, disabled)
    return _json({})


def _list_rules(core: models.IoTCore, request: Request, region: str):
    query = _query(request)
    disabled = query.get("ruleDisabled")
    try:
        max_results = int(query.get("maxResults") or 1000)
        start = int(query.get("nextToken") or 0)
    except ValueError:
        raise invalid("maxResults and nextToken must be the values a previous ListTopicRules gave.") from None
    _validate("iot", "ListTopicRules", {"maxResults": max_results})
    rules = core.list_rules(region, query.get("topic"), None if disabled is None else disabled.lower() == "true")
    body: dict[str, Any] = {"rules": [rule.summary() for rule in rules[start:start + max_results]]}
    if start + max_results < len(rules):
        body["nextToken"] = str(start + max_results)
    return _json(body)
