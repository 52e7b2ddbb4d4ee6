"""IoT Core state and behaviour: device shadows, topic rules and the message broker between them.

Every message (an iot-data ``Publish``, a shadow service response, a rule's republish) goes through
:meth:`IoTCore.publish`, which hands a shadow request (``$aws/things/T/shadow/update``, ``/get``,
``/delete``) to the shadow service and queues every enabled rule whose topic filter matches.  Rules
run on a small worker pool, never inside the request that published the message, as the rules
engine runs asynchronously; a message a rule publishes carries one more hop, and past
:data:`MAX_HOPS` it is dropped, so a rule that republishes onto its own topic cannot loop forever.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import logging
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from localcloud.config import ACCOUNT_ID
from localcloud.iot import actions
from localcloud.iot.sql import (
    DEFAULT_SQL_VERSION,
    Context,
    FunctionFailed,
    Query,
    SqlParseError,
    compile_sql,
    parse_payload,
    topic_matches,
)

logger = logging.getLogger("localcloud.iot")

# A chain of rule-published messages longer than this is cut (localcloud's guard; AWS documents none).
MAX_HOPS = 8
RULE_WORKERS = 4
SHADOW_STATE_LIMIT = 8 * 1024      # bytes of desired + reported state a classic or named shadow may hold
SHADOW_NESTING_LIMIT = 6
CLIENT_TOKEN_LIMIT = 64
MESSAGE_LIMIT = 128 * 1024         # the message broker's payload limit
RULE_NAME = re.compile(r"^[a-zA-Z0-9_]+$")
_BASIC_INGEST = re.compile(r"^\$aws/rules/(?P<rule>[a-zA-Z0-9_]+)/(?P<topic>.+)$")
_SHADOW_TOPIC = re.compile(
    r"^\$aws/things/(?P<thing>[^/]+)/shadow(?:/name/(?P<shadow>[^/]+))?/(?P<operation>update|get|delete)$")


class IoTError(Exception):
    """An error the API answers with ``status``/``code``/``message``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def invalid(message: str) -> IoTError:
    return IoTError(400, "InvalidRequestException", message)


# -- device shadows --------------------------------------------------------------------------------

def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def _has_null_in_array(value: Any) -> bool:
    if isinstance(value, list):
        return any(v is None or _has_null_in_array(v) for v in value)
    if isinstance(value, dict):
        return any(_has_null_in_array(v) for v in value.values())
    return False


def _metadata_of(value: Any, timestamp: int) -> Any:
    """Per-leaf ``{"timestamp": ...}`` mirroring ``value`` (arrays get one entry per element)."""
    if isinstance(value, dict):
        return {key: _metadata_of(item, timestamp) for key, item in value.items()}
    if isinstance(value, list):
        return [_metadata_of(item, timestamp) for item in value]
    return {"timestamp": timestamp}


def _merge(state: dict, metadata: dict, update: dict, timestamp: int) -> None:
    """Apply ``update`` to ``state`` in place: objects merge, a null deletes, anything else replaces."""
    for key, value in update.items():
        if value is None:
            state.pop(key, None)
            metadata.pop(key, None)
        elif isinstance(value, dict) and isinstance(state.get(key), dict):
            nested_metadata = metadata.get(key) if isinstance(metadata.get(key), dict) else {}
            _merge(state[key], nested_metadata, value, timestamp)
            metadata[key] = nested_metadata
            if not state[key]:
                del state[key]
                metadata.pop(key, None)
        else:
            cleaned = _without_nulls(value)
            if isinstance(cleaned, dict) and not cleaned:
                state.pop(key, None)
                metadata.pop(key, None)
                continue
            state[key] = cleaned
            metadata[key] = _metadata_of(cleaned, timestamp)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def delta_of(desired: dict, reported: dict) -> dict:
    """Desired fields that differ from reported, with nested objects compared field by field."""
    delta = {}
    for key, wanted in desired.items():
        if key not in reported:
            delta[key] = wanted
            continue
        have = reported[key]
        if isinstance(wanted, dict) and isinstance(have, dict):
            nested = delta_of(wanted, have)
            if nested:
                delta[key] = nested
        elif have != wanted or type(have) is not type(wanted):
            delta[key] = wanted
    return delta


def _restrict(metadata: dict, shape: dict) -> dict:
    """The part of ``metadata`` that covers the keys of ``shape``."""
    result = {}
    for key, value in shape.items():
        if key in metadata:
            result[key] = _restrict(metadata[key], value) if isinstance(value, dict) and isinstance(
                metadata[key], dict) else metadata[key]
    return result


@dataclass
class Shadow:
    desired: dict = field(default_factory=dict)
    reported: dict = field(default_factory=dict)
    desired_metadata: dict = field(default_factory=dict)
    reported_metadata: dict = field(default_factory=dict)
    version: int = 0
    timestamp: int = 0
    deleted: bool = True  # a shadow that was never written or was deleted keeps its version

    def state_document(self, with_delta: bool = True) -> dict:
        state: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        if self.desired:
            state["desired"], metadata["desired"] = self.desired, self.desired_metadata
        if self.reported:
            state["reported"], metadata["reported"] = self.reported, self.reported_metadata
        if with_delta:
            delta = delta_of(self.desired, self.reported)
            if delta:
                state["delta"], metadata["delta"] = delta, _restrict(self.desired_metadata, delta)
        return {"state": state, "metadata": metadata}

    def stored_size(self) -> int:
        state = {k: v for k, v in (("desired", self.desired), ("reported", self.reported)) if v}
        return len(json.dumps(state, separators=(",", ":")).encode("utf-8"))


def shadow_topic_prefix(thing: str, shadow_name: str | None) -> str:
    return f"$aws/things/{thing}/shadow" + (f"/name/{shadow_name}" if shadow_name else "")


class ShadowService:
    """Classic and named shadows, keyed by region, thing name and shadow name.

    AWS keeps shadows by thing name whether or not the thing is in the registry (ListNamedShadowsForThing
    answers an empty list for a thing that does not exist), so a shadow needs no CreateThing here either.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._shadows: dict[tuple[str, str, str | None], Shadow] = {}

    def update(self, region: str, thing: str, shadow_name: str | None, body: bytes,
               ) -> tuple[dict, list[tuple[str, dict]]]:
        """Apply an update request; return the /accepted document and the messages the service publishes."""
        request = self._parse_request(body)
        client_token = request.get("clientToken")
        state_update = request["state"]
        timestamp = int(time.time())
        with self._lock:
            shadow = self._shadows.setdefault((region, thing, shadow_name), Shadow())
            expected = request.get("version")
            if expected is not None and expected != shadow.version:
                raise IoTError(409, "ConflictException", "Version conflict")
            # A shadow's first document has no previous state; AWS documents none, so /documents says null.
            previous = None if shadow.deleted else {**shadow.state_document(with_delta=False),
                                                    "version": shadow.version}
            candidate = copy.deepcopy(shadow)
            for section in ("desired", "reported"):
                if section not in state_update:
                    continue
                update = state_update[section]
                if update is None:
                    setattr(candidate, section, {})
                    setattr(candidate, f"{section}_metadata", {})
                else:
                    _merge(getattr(candidate, section), getattr(candidate, f"{section}_metadata"), update, timestamp)
            if candidate.stored_size() > SHADOW_STATE_LIMIT:
                raise IoTError(413, "RequestEntityTooLargeException", "The payload exceeds the maximum size allowed")
            candidate.version = shadow.version + 1
            candidate.timestamp = timestamp
            candidate.deleted = False
            self._shadows[(region, thing, shadow_name)] = candidate
            current = {**candidate.state_document(with_delta=False), "version": candidate.version}
            delta = delta_of(candidate.desired, candidate.reported)
            delta_metadata = _restrict(candidate.desired_metadata, delta)
        accepted: dict[str, Any] = {
            "state": state_update,
            "metadata": {section: _metadata_of(value, timestamp) for section, value in state_update.items()
                         if section in ("desired", "reported")},
            "version": candidate.version,
            "timestamp": timestamp,
        }
        documents: dict[str, Any] = {"previous": previous, "current": current, "timestamp": timestamp}
        if client_token is not None:
            accepted["clientToken"] = documents["clientToken"] = client_token
        prefix = shadow_topic_prefix(thing, shadow_name)
        messages = [(f"{prefix}/update/accepted", accepted), (f"{prefix}/update/documents", documents)]
        # The service publishes /delta when an update that sets desired state leaves desired and reported
        # apart (the documented trigger is a change of desired state; a reported-only update does not).
        if delta and "desired" in state_update and state_update["desired"] is not None:
            delta_message: dict[str, Any] = {"version": candidate.version, "timestamp": timestamp, "state": delta,
                                             "metadata": delta_metadata}
            if client_token is not None:
                delta_message["clientToken"] = client_token
            messages.append((f"{prefix}/update/delta", delta_message))
        return accepted, messages

    @staticmethod
    def _parse_request(body: bytes) -> dict:
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise invalid("Invalid JSON") from None
        if not isinstance(request, dict):
            raise invalid("Invalid JSON")
        if "state" not in request:
            raise invalid("Missing required node: state")
        state = request["state"]
        if not isinstance(state, dict):
            raise invalid("State node must be an object")
        for key, value in state.items():
            if key not in ("desired", "reported"):
                raise invalid(f"State contains an invalid node: '{key}'")
            if value is not None and not isinstance(value, dict):
                raise invalid(f"{key.capitalize()} node must be an object")
            if _depth(value) > SHADOW_NESTING_LIMIT:
                raise invalid("JSON contains too many levels of nesting; maximum is 6")
            if _has_null_in_array(value):
                raise invalid("Invalid JSON: arrays in a shadow cannot contain null values")
        version = request.get("version")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise invalid("Invalid version")
        token = request.get("clientToken")
        if token is not None and (not isinstance(token, str) or len(token.encode("utf-8")) > CLIENT_TOKEN_LIMIT):
            raise invalid("Invalid clientToken")
        return request

    def get(self, region: str, thing: str, shadow_name: str | None) -> dict:
        with self._lock:
            shadow = self._shadows.get((region, thing, shadow_name))
            if shadow is None or shadow.deleted:
                raise IoTError(404, "ResourceNotFoundException", f"No shadow exists with name: '{thing}"
                               + (f"~{shadow_name}'" if shadow_name else "'"))
            return {**copy.deepcopy(shadow.state_document()), "version": shadow.version,
                    "timestamp": int(time.time())}

    def delete(self, region: str, thing: str, shadow_name: str | None) -> tuple[dict, list[tuple[str, dict]]]:
        with self._lock:
            shadow = self._shadows.get((region, thing, shadow_name))
            if shadow is None or shadow.deleted:
                raise IoTError(404, "ResourceNotFoundException", f"No shadow exists with name: '{thing}"
                               + (f"~{shadow_name}'" if shadow_name else "'"))
            # Deleting keeps the version: the next update continues from it, as the documentation says.
            self._shadows[(region, thing, shadow_name)] = Shadow(version=shadow.version, deleted=True)
            document = {"version": shadow.version, "timestamp": int(time.time())}
        return document, [(f"{shadow_topic_prefix(thing, shadow_name)}/delete/accepted", document)]

    def list_named(self, region: str, thing: str) -> list[str]:
        with self._lock:
            return sorted(name for (r, t, name), shadow in self._shadows.items()
                          if r == region and t == thing and name is not None and not shadow.deleted)


# -- topic rules -----------------------------------------------------------------------------------

@dataclass
class TopicRule:
    name: str
    region: str
    sql: str
    query: Query
    actions: list[dict]
    error_action: dict | None
    description: str = ""
    disabled: bool = False
    sql_version: str = DEFAULT_SQL_VERSION
    created_at: float = field(default_factory=time.time)
    tags: list[dict] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return f"arn:aws:iot:{self.region}:{ACCOUNT_ID}:rule/{self.name}"

    def describe(self) -> dict:
        rule: dict[str, Any] = {
            "ruleName": self.name, "sql": self.sql, "description": self.description, "createdAt": self.created_at,
            "actions": self.actions, "ruleDisabled": self.disabled, "awsIotSqlVersion": self.sql_version,
        }
        if self.error_action is not None:
            rule["errorAction"] = self.error_action
        return rule

    def summary(self) -> dict:
        return {"ruleArn": self.arn, "ruleName": self.name, "topicPattern": self.query.topic_filter,
                "createdAt": self.created_at, "ruleDisabled": self.disabled}


def build_rule(name: str, region: str, payload: dict, tags: list[dict] | None = None) -> TopicRule:
    """Validate a TopicRulePayload as CreateTopicRule does and compile it."""
    if not RULE_NAME.match(name or "") or len(name) > 128:
        raise invalid(f"1 validation error detected: Value '{name}' at 'ruleName' failed to satisfy constraint: "
                      "Member must satisfy regular expression pattern: ^[a-zA-Z0-9_]+$")
    sql = payload.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise invalid("The sql of the topic rule payload is required.")
    sql_version = payload.get("awsIotSqlVersion") or DEFAULT_SQL_VERSION
    try:
        query = compile_sql(sql, sql_version)
    except SqlParseError as error:
        raise IoTError(400, "SqlParseException", str(error)) from None
    rule_actions = payload.get("actions") or []
    if not isinstance(rule_actions, list):
        raise invalid("actions must be a list of actions.")
    for position, action in enumerate(rule_actions, start=1):
        problem = actions.check(action, query.topic_filter)
        if problem:
            raise invalid(f"Action {position}: {problem}")
    error_action = payload.get("errorAction")
    if error_action is not None:
        problem = actions.check(error_action, query.topic_filter)
        if problem:
            raise invalid(f"errorAction: {problem}")
    return TopicRule(name=name, region=region, sql=sql, query=query, actions=rule_actions,
                     error_action=error_action, description=payload.get("description") or "",
                     disabled=bool(payload.get("ruleDisabled", False)), sql_version=sql_version, tags=tags or [])


@dataclass
class Message:
    region: str
    topic: str
    payload: bytes
    client_id: str = "n/a"
    hops: int = 0
    trace_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class IoTCore:
    """Shadows, rules and the broker for every region of localcloud's account."""

    def __init__(self, workers: int = RULE_WORKERS):
        self.shadows = ShadowService()
        self._rules: dict[tuple[str, str], TopicRule] = {}
        self._rules_lock = threading.Lock()
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    # rules
    def create_rule(self, rule: TopicRule) -> None:
        with self._rules_lock:
            if (rule.region, rule.name) in self._rules:
                raise IoTError(409, "ResourceAlreadyExistsException", f"Rule {rule.name} already exists")
            self._rules[(rule.region, rule.name)] = rule

    def replace_rule(self, rule: TopicRule) -> None:
        with self._rules_lock:
            existing = self._get_rule_locked(rule.region, rule.name)
            rule.created_at, rule.tags = existing.created_at, existing.tags
            self._rules[(rule.region, rule.name)] = rule

    def get_rule(self, region: str, name: str) -> TopicRule:
        with self._rules_lock:
            return self._get_rule_locked(region, name)

    def _get_rule_locked(self, region: str, name: str) -> TopicRule:
        rule = self._rules.get((region, name))
        if rule is None:
            raise IoTError(401, "UnauthorizedException", f"Rule {name} does not exist")
        return rule

    def set_rule_disabled(self, region: str, name: str, disabled: bool) -> None:
        with self._rules_lock:
            self._get_rule_locked(region, name).disabled = disabled

    def delete_rule(self, region: str, name: str) -> None:
        with self._rules_lock:
            self._get_rule_locked(region, name)
            del self._rules[(region, name)]

    def list_rules(self, region: str, topic: str | None = None, disabled: bool | None = None) -> list[TopicRule]:
        with self._rules_lock:
            rules = [r for (rule_region, _), r in self._rules.items() if rule_region == region]
        if topic is not None:
            rules = [r for r in rules if r.query.topic_filter == topic]
        if disabled is not None:
            rules = [r for r in rules if r.disabled == disabled]
        return sorted(rules, key=lambda r: r.name)

    # the broker
    def publish(self, message: Message) -> None:
        """Deliver ``message``: to the shadow service if it is a shadow request, and to every matching rule."""
        if message.hops > MAX_HOPS:
            logger.warning("IoT message on %s dropped: it was republished by rules %d times (localcloud stops "
                           "chains longer than %d, which a rule republishing onto its own topic would make endless)",
                           message.topic, message.hops, MAX_HOPS)
            return
        ingest = _BASIC_INGEST.match(message.topic)
        with self._rules_lock:
            if ingest:
                # Basic Ingest: the message goes to the named rule only, whatever its FROM clause, and the
                # rule sees the topic without the $aws/rules/<name>/ prefix.
                rule = self._rules.get((message.region, ingest["rule"]))
                matching = [rule] if rule is not None and not rule.disabled else []
                message = dataclasses.replace(message, topic=ingest["topic"])
            else:
                matching = [rule for (region, _), rule in self._rules.items()
                            if region == message.region and not rule.disabled
                            and topic_matches(rule.query.topic_filter, message.topic)]
        if matching:
            executor = self._pool()
            for rule in matching:
                executor.submit(self._run_rule, rule, message)
        request = _SHADOW_TOPIC.match(message.topic)
        if request:
            self._shadow_request(message, request["thing"], request["shadow"], request["operation"])

    def publish_shadow_messages(self, region: str, messages: list[tuple[str, dict]], hops: int = 0) -> None:
        for topic, document in messages:
            self.publish(Message(region, topic, json.dumps(document).encode("utf-8"), hops=hops))

    def _shadow_request(self, message: Message, thing: str, shadow_name: str | None, operation: str) -> None:
        """A device's MQTT request on a reserved shadow topic; answers go to /accepted or /rejected."""
        prefix = shadow_topic_prefix(thing, shadow_name)
        try:
            if operation == "update":
                _, responses = self.shadows.update(message.region, thing, shadow_name, message.payload)
            elif operation == "get":
                document = self.shadows.get(message.region, thing, shadow_name)
                responses = [(f"{prefix}/get/accepted", document)]
            else:
                _, responses = self.shadows.delete(message.region, thing, shadow_name)
        except IoTError as error:
            rejected: dict[str, Any] = {"code": error.status, "message": error.message, "timestamp": int(time.time())}
            token = _client_token(message.payload)
            if token is not None:
                rejected["clientToken"] = token
            responses = [(f"{prefix}/{operation}/rejected", rejected)]
        self.publish_shadow_messages(message.region, responses, message.hops)

    def _pool(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="iot-rules")
            return self._executor

    def shutdown(self) -> None:
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _run_rule(self, rule: TopicRule, message: Message) -> None:
        try:
            self._evaluate_and_act(rule, message)
        except Exception:  # a worker must survive whatever one rule does
            logger.exception("IoT rule %s failed on a message on %s", rule.name, message.topic)

    def _evaluate_and_act(self, rule: TopicRule, message: Message) -> None:
        context = Context(
            payload=parse_payload(message.payload), raw=message.payload, topic=message.topic,
            client_id=message.client_id, account_id=ACCOUNT_ID, rule_arn=rule.arn, sql_version=rule.sql_version,
            trace_id=message.trace_id,
            invoke_lambda=lambda arn, event: actions.call_lambda_from_sql(arn, event, rule.arn, rule.region),
        )
        try:
            passed, output = rule.query.evaluate(context)
        except FunctionFailed as error:
            # The rules engine logs a failed aws_lambda() and takes no action for the message; the error
            # action covers failed actions, not the SQL.
            logger.warning("IoT rule %s: %s (message on %s not acted on)", rule.name, error, message.topic)
            return
        if not passed:
            return
        payload = actions.serialise_output(output)
        failures = []
        for action in rule.actions:
            try:
                actions.perform(action, payload, context, self, message.hops)
            except actions.ActionFailed as failure:
                logger.warning("IoT rule %s: %s action failed: %s", rule.name, failure.action, failure.message)
                failures.append(failure)
        if failures and rule.error_action is not None:
            report = {
                "ruleName": rule.name,
                "topic": message.topic,
                "cloudwatchTraceId": message.trace_id,
                "clientId": message.client_id,
                "base64OriginalPayload": base64.b64encode(message.payload).decode("ascii"),
                "failures": [{"failedAction": f.action, "failedResource": f.resource, "errorMessage": f.message}
                             for f in failures],
            }
            try:
                actions.perform(rule.error_action, json.dumps(report).encode("utf-8"), context, self, message.hops)
            except actions.ActionFailed as failure:
                logger.warning("IoT rule %s: its errorAction (%s) failed too: %s", rule.name, failure.action,
                               failure.message)


def _client_token(payload: bytes) -> str | None:
    try:
        token = json.loads(payload).get("clientToken")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return token if isinstance(token, str) else None


_core: IoTCore | None = None
_core_lock = threading.Lock()


def core() -> IoTCore:
    """The process's IoT Core (moto keeps its state per process, and so does localcloud)."""
    global _core
    with _core_lock:
        if _core is None:
            _core = IoTCore()
        return _core

