"""Whether the principals a resource policy names exist, as S3, SQS and SNS check when the policy is set.

AWS resolves each IAM user and role ARN in a resource-based policy when the policy is stored and
refuses the policy if one does not exist (S3 answers "Invalid principal in policy"; see
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html).  A role
session's ARN resolves to its role.  Account IDs, account roots, ``*``, service, federated and
canonical-user principals are not resolved.
"""

from __future__ import annotations

import json
import re

from moto.iam.models import iam_backends

from localcloud.iam.policies import as_list

_ACCOUNT = re.compile(r"^(\d{12}|arn:aws[\w-]*:iam::\d{12}:root)$")
_IAM_IDENTITY = re.compile(r"^arn:(aws[\w-]*):iam::(\d{12}):(role|user)/")
_ASSUMED_ROLE = re.compile(r"^arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/")


def _exists(arn: str) -> bool:
    session = _ASSUMED_ROLE.match(arn)
    if session is not None:  # a role session names its role, which must exist
        partition, account, role_name = session.groups()
        return any(role.name == role_name for role in iam_backends[account][partition].roles.values())
    match = _IAM_IDENTITY.match(arn)
    if match is None:
        return False
    partition, account, kind = match.groups()
    backend = iam_backends[account][partition]
    identities = backend.roles.values() if kind == "role" else backend.users.values()
    return any(identity.arn == arn for identity in identities)


def unknown(policy: str | bytes | dict) -> list[str]:
    """The AWS principals of ``policy`` that name no existing account, user or role (empty if all
    resolve; a document that is not JSON is left to the service's own checks)."""
    try:
        document = json.loads(policy) if isinstance(policy, (str, bytes)) else policy
    except ValueError:
        return []
    if not isinstance(document, dict):
        return []
    missing = []
    for statement in as_list(document.get("Statement", [])):
        if not isinstance(statement, dict):
            continue
        for key in ("Principal", "NotPrincipal"):
            principal = statement.get(key)
            if not isinstance(principal, dict):
                continue  # "*"
            for arn in as_list(principal.get("AWS", [])):
                arn = str(arn)
                if arn != "*" and not _ACCOUNT.match(arn) and not _exists(arn):
                    missing.append(arn)
    return missing
