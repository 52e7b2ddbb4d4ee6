"""S3 Object Ownership: ACLs are disabled unless a bucket asks for them.

Since April 2023 S3 creates every bucket with ``ObjectOwnership: BucketOwnerEnforced``: the bucket
owner owns every object, ACLs no longer grant anything, and a request that sets an ACL granting
anyone but the owner fails with ``AccessControlListNotSupported``; requests without an ACL, or with
one that only gives the owner full control (``private``, ``bucket-owner-full-control``), succeed
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ensure-object-ownership.html).  A bucket
created or configured with ``ObjectWriter`` or ``BucketOwnerPreferred`` accepts ACLs.
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Any

from moto.s3.exceptions import S3ClientError
from moto.s3.models import OWNER

ENFORCED = "BucketOwnerEnforced"

_creating = threading.local()  # the ObjectOwnership a CreateBucket request asks for, while it runs


class AccessControlListNotSupported(S3ClientError):
    code = "AccessControlListNotSupported"

    def __init__(self) -> None:
        super().__init__("The bucket does not allow ACLs")


class InvalidBucketAclWithObjectOwnership(S3ClientError):
    code = "InvalidBucketAclWithObjectOwnership"

    def __init__(self) -> None:
        super().__init__("Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")


@contextlib.contextmanager
def creating(object_ownership: str | None):
    """While a CreateBucket request runs: its ACL is judged by the ownership it asks for."""
    _creating.ownership = object_ownership or ENFORCED
    try:
        yield
    finally:
        _creating.ownership = None


def _owner_only(acl: Any) -> bool:
    """Whether ``acl`` grants nothing beyond the bucket owner's full control."""
    return all(permission == "FULL_CONTROL" and not grantee.uri and grantee.id in ("", OWNER)
               for grant in acl.grants for permission in grant.permissions for grantee in grant.grantees)


def check(bucket: Any, acl: Any) -> None:
    """Refuse ``acl`` where ``bucket`` (``None`` while it is being created) has ACLs disabled."""
    if acl is None or _owner_only(acl):
        return
    being_created = getattr(_creating, "ownership", None)
    if being_created is not None:
        if being_created == ENFORCED:
            raise InvalidBucketAclWithObjectOwnership()
        return
    if bucket is not None and bucket.ownership_rule == ENFORCED:
        raise AccessControlListNotSupported()


_DISPLAY_NAME = re.compile(rb"<DisplayName>[^<]*</DisplayName>")


def without_display_names(response: tuple[int, dict, bytes]) -> tuple[int, dict, bytes]:
    """An XML answer without ``Owner``/``Grantee`` ``DisplayName``, which S3 stopped returning in
    November 2025 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Owner.html)."""
    status, headers, body = response
    if isinstance(body, bytes) and body.lstrip().startswith(b"<?xml") and b"<DisplayName>" in body:
        body = _DISPLAY_NAME.sub(b"", body)
        headers = {name: value for name, value in headers.items() if name.lower() != "content-length"}
    return status, headers, body
