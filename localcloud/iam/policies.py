"""Resource-based policies evaluated as IAM evaluates them, for every service localcloud hosts.

A request is allowed when a statement allows it and no statement denies it: an explicit ``Deny`` wins,
and a policy that says nothing about the request does not allow it
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).  A
statement applies when its principal, action, resource and conditions all match:

* principals (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html):
  the requests judged here come from services (S3 delivering a notification, SNS delivering to a queue or
  a function): ``"*"`` and ``{"AWS": "*"}`` are anyone, services included; ``{"Service": ...}`` names the
  service; an account or identity (``{"AWS": "123456789012"}``, or the bare string Lambda keeps for
  ``AddPermission``'s account) is not a service, even the resource owner's own account.
* actions compare without regard to case, with ``*`` and ``?`` wildcards; resources with wildcards.
* conditions: a key missing from the request context makes its condition false (``...IfExists`` makes it
  true, ``Null`` tests for it); condition key names compare without regard to case
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).

The reason a request is refused names each Allow statement and what keeps it from applying, for the
messages localcloud logs where AWS fails silently (a dropped delivery).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moto.iam.access_control import PermissionResult


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    service: str | None = None  # the service principal acting; None: the principal is judged elsewhere (moto)
    context: Mapping[str, str] = field(default_factory=dict)  # condition keys in lower case


@dataclass(frozen=True)
class Verdict:
    result: PermissionResult
    reason: str = ""  # why the request is not allowed; empty when it is

    @property
    def allowed(self) -> bool:
        return self.result == PermissionResult.PERMITTED


def service_request(action: str, resource: str, service: str, source_arn: str,
                    source_account: str | None) -> Request:
    """A service acting for one of its resources, which it names in ``aws:SourceArn`` and (when known)
    ``aws:SourceAccount`` (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html)."""
    context = {"aws:sourcearn": source_arn, "aws:securetransport": "true"}
    if source_account is not None:
        context["aws:sourceaccount"] = source_account
    return Request(action, resource, service, context)


def as_list(value: Any) -> list:
    """A policy element's value, which is one item or a list of them."""
    return value if isinstance(value, list) else [value]


def _matches(patterns: Any, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), str(p).lower()) for p in as_list(patterns))


def _principal_matches(principal: Any, service: str) -> bool:
    """Whether a statement's principal covers ``service``: anyone, or that service by name (an account or
    identity principal is not a service principal)."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False  # Lambda keeps an account principal as a bare string
    if "*" in (str(p) for p in as_list(principal.get("AWS", []))):
        return True
    return service.lower() in (str(s).lower() for s in as_list(principal.get("Service", [])))


def _compare(operator: str, expected: list[str], actual: str) -> bool:
    if operator.startswith("String") or operator.startswith("Arn"):
        negate = "Not" in operator
        if operator.endswith("Like") or operator.startswith("Arn"):
            found = any(fnmatch.fnmatchcase(actual, e) for e in expected)
        elif operator.endswith("IgnoreCase"):
            found = actual.lower() in (e.lower() for e in expected)
        else:
            found = actual in expected
        return found != negate
    if operator == "Bool":
        return actual.lower() in (e.lower() for e in expected)
    if operator.startswith("Numeric"):
        value = float(actual)
        checks = {"NumericEquals": value.__eq__, "NumericNotEquals": value.__ne__, "NumericLessThan": value.__lt__,
                  "NumericLessThanEquals": value.__le__, "NumericGreaterThan": value.__gt__,
                  "NumericGreaterThanEquals": value.__ge__}
        return any(checks[operator](float(e)) for e in expected) if operator in checks else False
    return False  # an operator we cannot evaluate does not match, as for a missing key


def unmet_condition(conditions: dict, context: Mapping[str, str]) -> str | None:
    """The first condition of ``conditions`` that ``context`` does not meet, described; None when all hold."""
    for raw_operator, entries in conditions.items():
        if_exists = raw_operator.endswith("IfExists")
        operator = raw_operator.removesuffix("IfExists")
        for key, expected in entries.items():
            actual = context.get(key.lower())
            if operator == "Null":
                if (actual is None) != (str(as_list(expected)[0]).lower() == "true"):
                    return f"{raw_operator} {key}"
                continue
            if actual is None:
                if if_exists:
                    continue
                return f"{raw_operator} {key}: the request has no {key}"
            if not _compare(operator, [str(e) for e in as_list(expected)], actual):
                return f"{raw_operator} {key} {as_list(expected)} does not match {actual}"
    return None


def _miss(statement: dict, request: Request) -> str | None:
    """What keeps ``statement`` from applying to ``request``; None when it applies."""
    service = request.service
    if service is not None:
        if "Principal" in statement and not _principal_matches(statement["Principal"], service):
            return f"its principal is not {service}"
        if "NotPrincipal" in statement and _principal_matches(statement["NotPrincipal"], service):
            return f"its NotPrincipal excludes {service}"
    if "Action" in statement and not _matches(statement["Action"], request.action):
        return f"its actions do not include {request.action}"
    if "NotAction" in statement and _matches(statement["NotAction"], request.action):
        return f"its NotAction excludes {request.action}"
    if "Resource" in statement and not _matches(statement["Resource"], request.resource):
        return f"its resources do not include {request.resource}"
    if "NotResource" in statement and _matches(statement["NotResource"], request.resource):
        return f"its NotResource excludes {request.resource}"
    unmet = unmet_condition(statement.get("Condition") or {}, request.context)
    return f"its condition {unmet}" if unmet else None


def evaluate(policy: str | bytes | dict | None, request: Request) -> Verdict:
    """Whether ``policy`` (a document, its JSON, or None for a resource without one) allows ``request``."""
    if not policy:
        return Verdict(PermissionResult.NEUTRAL, "it has no policy")
    document = json.loads(policy) if isinstance(policy, (str, bytes)) else policy
    allowed, misses = False, []
    for number, statement in enumerate(as_list(document.get("Statement", [])), start=1):
        label = f"statement {statement.get('Sid') or number}"
        miss = _miss(statement, request)
        if miss is not None:
            if statement.get("Effect") == "Allow":
                misses.append(f"{label}: {miss}")
        elif statement.get("Effect") == "Deny":
            return Verdict(PermissionResult.DENIED, f"{label} denies it")
        else:
            allowed = True
    if allowed:
        return Verdict(PermissionResult.PERMITTED)
    return Verdict(PermissionResult.NEUTRAL, "no statement allows it (" + "; ".join(misses or ["it has no Allow statement"]) + ")")
