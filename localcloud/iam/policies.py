"""Resource-based policies evaluated as IAM evaluates them, for every service localcloud hosts.

A request is allowed when a statement allows it and no statement denies it: an explicit ``Deny`` wins,
and a policy that says nothing about the request does not allow it
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).  A
statement applies when its principal, action, resource and conditions all match:

* principals (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html):
  ``"*"`` and ``{"AWS": "*"}`` are anyone, service principals included; ``{"Service": ...}`` names the
  service that acts (S3 delivering a notification, SNS delivering to a queue); ``{"AWS": ...}`` names an
  account (its ID or root ARN) or an identity.  Lambda keeps the account of ``AddPermission`` as a bare
  string, which is an AWS principal too.
* actions compare without regard to case, with ``*`` and ``?`` wildcards; resources with wildcards.
* conditions: a key missing from the request context makes its condition false (``...IfExists`` makes it
  true, ``Null`` tests for it); condition key names compare without regard to case
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).

The reason a request is refused says which statement came closest and what it lacks, for the messages
localcloud logs where AWS fails silently (a dropped delivery).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moto.iam.access_control import PermissionResult


@dataclass(frozen=True)
class Caller:
    """Who makes the request: a service principal, or an account and (optionally) one of its identities."""

    service: str | None = None
    account: str | None = None
    arn: str | None = None

    def __str__(self) -> str:
        return self.service or self.arn or f"account {self.account}"


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    caller: Caller | None = None  # None: the principal is judged elsewhere (S3 bucket policies under moto)
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
    return Request(action, resource, Caller(service=service), context)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _matches(patterns: Any, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), str(p).lower()) for p in _as_list(patterns))


def _principal_matches(principal: Any, caller: Caller) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        principal = {"AWS": principal}
    aws = [str(p) for p in _as_list(principal.get("AWS", []))]
    if "*" in aws:
        return True
    if caller.service is not None:
        return caller.service.lower() in (str(s).lower() for s in _as_list(principal.get("Service", [])))
    names = {caller.account, f"arn:aws:iam::{caller.account}:root", caller.arn} - {None}
    return any(p in names for p in aws)


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
                if (actual is None) != (str(_as_list(expected)[0]).lower() == "true"):
                    return f"{raw_operator} {key}"
                continue
            if actual is None:
                if if_exists:
                    continue
                return f"{raw_operator} {key}: the request has no {key}"
            if not _compare(operator, [str(e) for e in _as_list(expected)], actual):
                return f"{raw_operator} {key} {_as_list(expected)} does not match {actual}"
    return None


def _miss(statement: dict, request: Request) -> str | None:
    """What keeps ``statement`` from applying to ``request``; None when it applies."""
    caller = request.caller
    if caller is not None:
        if "Principal" in statement and not _principal_matches(statement["Principal"], caller):
            return f"its principal is not {caller}"
        if "NotPrincipal" in statement and _principal_matches(statement["NotPrincipal"], caller):
            return f"its NotPrincipal excludes {caller}"
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
    for number, statement in enumerate(_as_list(document.get("Statement", [])), start=1):
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
