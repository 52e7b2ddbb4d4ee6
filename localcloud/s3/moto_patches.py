"""Where localcloud changes moto's S3, and what it reads of it (each through :mod:`localcloud.motoadapter`).

* Event notifications: moto's records gain the fields S3 sends, and Lambda destinations are invoked
  asynchronously (:mod:`.notifications`).
* Bucket policies are evaluated with IAM's condition operators (:mod:`.policy`).
* SageMaker reads and writes objects in-process (:mod:`localcloud.sagemaker.storage`).
"""

from __future__ import annotations

from moto.s3 import notifications as moto_notifications
from moto.s3.models import FakeBucket, FakeKey, S3Backend

from localcloud import motoadapter
from localcloud.s3 import notifications, policy


def install() -> None:
    moto_event = motoadapter.require(moto_notifications, "_get_s3_event",
                                     ("event_name", "bucket", "key", "notification_id"))

    def s3_event(event_name, bucket, key, notification_id):
        return notifications.complete_event(moto_event(event_name, bucket, key, notification_id), key)

    motoadapter.replace(moto_notifications, "_get_s3_event", s3_event)
    motoadapter.replace(moto_notifications, "_invoke_awslambda", notifications.deliver_to_lambda,
                        ("account_id", "event_body", "fn_arn", "region_name"))
    motoadapter.replace(FakeBucket, "get_permission", policy.get_permission, ("self", "action", "resource"))
    motoadapter.require_instance_attribute(FakeBucket, "keys")
    motoadapter.require_instance_attribute(FakeBucket, "policy")
    motoadapter.require_instance_attribute(FakeKey, "value")
    motoadapter.require(S3Backend, "get_bucket", ("self", "bucket_name"))
    motoadapter.require(S3Backend, "put_object", ("self", "bucket_name", "key_name", "value"))
