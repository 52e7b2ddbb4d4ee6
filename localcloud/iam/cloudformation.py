"""CloudFormation details of IAM roles that moto drops."""

from __future__ import annotations

from typing import Any

from moto.iam.models import iam_backends


def attach_managed_policies(role: Any, properties: dict[str, Any], account_id: str, region_name: str) -> None:
    """``ManagedPolicyArns`` of ``AWS::IAM::Role``."""
    backend = iam_backends[account_id]["global"]
    for policy_arn in properties.get("ManagedPolicyArns", []):
        backend.attach_role_policy(policy_arn, role.name)


def detach_managed_policies(role: Any, account_id: str, region_name: str) -> None:
    """CloudFormation detaches a role's managed policies before deleting it; IAM refuses otherwise."""
    backend = iam_backends[account_id]["global"]
    for policy_arn in list(role.managed_policies):
        backend.detach_role_policy(policy_arn, role.name)
