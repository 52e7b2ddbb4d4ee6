"""Lambda resource-based policies: may a service principal invoke a function?

API Gateway, IoT rules and other AWS services invoke a function only when its policy (``AddPermission``
or ``AWS::Lambda::Permission``) allows their service principal, for the calling resource's ARN
(``AWS:SourceArn``) and account (``AWS:SourceAccount``) when the statement names them.
"""

from __future__ import annotations

import fnmatch
from typing import Any

INVOKE_ACTIONS = {"lambda:InvokeFunction", "lambda:*", "*"}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def invoke_allowed(function: Any, service: str, source_arn: str, source_account: str | None = None) -> bool:
    """Whether ``function``'s policy lets ``service`` (``iot.amazonaws.com``) invoke it for ``source_arn``."""
    statements = function.policy.statements if getattr(function, "policy", None) else []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        services = _as_list(principal.get("Service") if isinstance(principal, dict) else principal)
        if not ({service, "*"} & set(services)):
            continue
        if not (INVOKE_ACTIONS & set(_as_list(statement.get("Action")))):
            continue
        condition = statement.get("Condition", {})
        allowed_arn = condition.get("ArnLike", {}).get("AWS:SourceArn") or condition.get(
            "ArnEquals", {}).get("AWS:SourceArn")
        if allowed_arn is not None and not fnmatch.fnmatchcase(source_arn, allowed_arn):
            continue
        allowed_account = condition.get("StringEquals", {}).get("AWS:SourceAccount")
        if allowed_account is not None and source_account is not None and allowed_account != source_account:
            continue
        return True
    return False
