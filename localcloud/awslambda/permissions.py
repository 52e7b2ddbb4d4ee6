"""Lambda resource-based policies: may a service principal invoke a function?

API Gateway, IoT rules, S3 and other AWS services invoke a function only when its policy (``AddPermission``
or ``AWS::Lambda::Permission``) allows their service principal, for the calling resource's ARN
(``AWS:SourceArn``) and account (``AWS:SourceAccount``) when the statement names them.  The policy is
evaluated as IAM evaluates any resource policy (:mod:`localcloud.iam.policies`).
"""

from __future__ import annotations

from typing import Any

from localcloud.iam import policies


def invoke_allowed(function: Any, service: str, source_arn: str, source_account: str | None = None) -> bool:
    """Whether ``function``'s policy lets ``service`` (``iot.amazonaws.com``) invoke it for ``source_arn``."""
    statements = function.policy.statements if getattr(function, "policy", None) else []
    request = policies.service_request("lambda:InvokeFunction", function.function_arn, service, source_arn,
                                       source_account)
    return policies.evaluate({"Statement": statements}, request).allowed
