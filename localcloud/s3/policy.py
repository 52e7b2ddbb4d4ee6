"""Bucket-policy evaluation with IAM's condition semantics (:mod:`localcloud.iam.policies`).

moto evaluates only ``StringEquals`` and treats every other condition as met, so the usual
"deny unless TLS" statement denies every request.  localcloud serves loopback only, so
``aws:SecureTransport`` is true: the traffic never leaves the machine.  moto judges the caller itself,
so the statements' principals are not judged here.
"""

from __future__ import annotations

from moto.iam.access_control import PermissionResult
from moto.s3.exceptions import S3ClientError
from moto.s3.models import FakeBucket

from localcloud.iam import policies

REQUEST_CONTEXT = {"aws:securetransport": "true"}


class MalformedPolicy(S3ClientError):
    """PutBucketPolicy's refusal of a policy S3 cannot store."""
    code = "MalformedPolicy"


def get_permission(self: FakeBucket, action: str, resource: str) -> PermissionResult:
    return policies.evaluate(self.policy, policies.Request(action, resource, context=REQUEST_CONTEXT)).result
