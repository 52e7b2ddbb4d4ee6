"""Bucket-policy evaluation with IAM's condition semantics.

moto evaluates only ``StringEquals`` and treats every other condition as met, so the usual
"deny unless TLS" statement denies every request.  Here conditions are evaluated as IAM does: a
key missing from the request context makes its condition false (``...IfExists`` makes it true,
``Null`` tests for it).  localcloud serves loopback only, so ``aws:SecureTransport`` is true: the
traffic never leaves the machine.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from moto.iam.access_control import PermissionResult
from moto.s3.exceptions import S3ClientError
from moto.s3.models import FakeBucket

REQUEST_CONTEXT = {"aws:securetransport": "true"}


class MalformedPolicy(S3ClientError):
    """PutBucketPolicy's refusal of a policy S3 cannot store."""
    code = "MalformedPolicy"


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _matches(patterns: Any, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), str(p).lower()) for p in _as_list(patterns))


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


def conditions_hold(conditions: dict, context: dict[str, str]) -> bool:
    for raw_operator, entries in conditions.items():
        if_exists = raw_operator.endswith("IfExists")
        operator = raw_operator.removesuffix("IfExists")
        for key, expected in entries.items():
            actual = context.get(key.lower())
            if operator == "Null":
                if (actual is None) != (str(_as_list(expected)[0]).lower() == "true"):
                    return False
                continue
            if actual is None:
                if if_exists:
                    continue
                return False
            if not _compare(operator, [str(e) for e in _as_list(expected)], actual):
                return False
    return True


def evaluate(policy: dict, action: str, resource: str, context: dict[str, str]) -> PermissionResult:
    allowed = False
    for statement in _as_list(policy.get("Statement", [])):
        if "Action" in statement and not _matches(statement["Action"], action):
            continue
        if "NotAction" in statement and _matches(statement["NotAction"], action):
            continue
        if "Resource" in statement and not _matches(statement["Resource"], resource):
            continue
        if "NotResource" in statement and _matches(statement["NotResource"], resource):
            continue
        if not conditions_hold(statement.get("Condition", {}), context):
            continue
        if statement.get("Effect") == "Deny":
            return PermissionResult.DENIED
        allowed = True
    return PermissionResult.PERMITTED if allowed else PermissionResult.NEUTRAL


def get_permission(self: FakeBucket, action: str, resource: str) -> PermissionResult:
    if self.policy is None:
        return PermissionResult.NEUTRAL
    return evaluate(json.loads(self.policy), action, resource, REQUEST_CONTEXT)
