"""Where localcloud changes moto's S3, and what it reads of it (each through :mod:`localcloud.motoadapter`).

* Event notifications: each destination is validated against its policy when the configuration is set,
  moto's records gain the fields S3 sends, and Lambda destinations are invoked asynchronously
  (:mod:`.notifications`).
* Bucket policies are evaluated with IAM's condition operators (:mod:`.policy`) and refused when
  they name a user or role that does not exist (:mod:`localcloud.iam.principals`).
* New buckets have ACLs disabled (``BucketOwnerEnforced``) unless they ask for them (:mod:`.ownership`);
  responses carry no ``DisplayName``, which S3 stopped returning in November 2025.
* SageMaker reads and writes objects in-process (:mod:`localcloud.sagemaker.storage`).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from moto.s3 import notifications as moto_notifications
from moto.s3.models import FakeBucket, FakeKey, S3Backend
from moto.s3.responses import S3Response

from localcloud import motoadapter
from localcloud.iam import principals
from localcloud.s3 import notifications, ownership, policy


def install() -> None:
    moto_event = motoadapter.require(moto_notifications, "_get_s3_event",
                                     ("event_name", "bucket", "key", "notification_id"))

    def s3_event(event_name, bucket, key, notification_id):
        return notifications.complete_event(moto_event(event_name, bucket, key, notification_id), key)

    motoadapter.replace(moto_notifications, "_get_s3_event", s3_event)
    motoadapter.replace(moto_notifications, "_invoke_awslambda", notifications.deliver_to_lambda,
                        ("account_id", "event_body", "fn_arn", "region_name"))
    moto_send_sqs = motoadapter.require(moto_notifications, "_send_sqs_message",
                                        ("account_id", "event_body", "queue_name", "region_name"))
    motoadapter.replace(moto_notifications, "_send_sqs_message", notifications.sending_to_queue(moto_send_sqs))
    moto_send_sns = motoadapter.require(moto_notifications, "_send_sns_message",
                                        ("account_id", "event_body", "topic_arn", "region_name"))
    motoadapter.replace(moto_notifications, "_send_sns_message", notifications.publishing_to_topic(moto_send_sns))
    motoadapter.replace(FakeBucket, "get_permission", policy.get_permission, ("self", "action", "resource"))
    motoadapter.require_instance_attribute(FakeBucket, "keys")
    motoadapter.require_instance_attribute(FakeBucket, "policy")
    motoadapter.require_instance_attribute(FakeKey, "value")
    motoadapter.require(S3Backend, "get_bucket", ("self", "bucket_name"))
    motoadapter.require(S3Backend, "put_object", ("self", "bucket_name", "key_name", "value"))
    _install_ownership()
    moto_put_policy = motoadapter.require(S3Backend, "put_bucket_policy", ("self", "bucket_name", "policy"))

    def put_bucket_policy(self, bucket_name, policy_document):
        if principals.unknown(policy_document):
            raise policy.MalformedPolicy("Invalid principal in policy")
        return moto_put_policy(self, bucket_name, policy_document)

    motoadapter.replace(S3Backend, "put_bucket_policy", put_bucket_policy)
    _install_destination_validation()


def _install_destination_validation() -> None:
    moto_put_notification = motoadapter.require(S3Backend, "put_bucket_notification_configuration",
                                                ("self", "bucket_name", "notification_config"))

    def put_bucket_notification_configuration(self, bucket_name, notification_config):
        self.get_bucket(bucket_name)  # NoSuchBucket before anything about the destinations
        notifications.check_destinations(bucket_name, self.account_id, notification_config)
        return moto_put_notification(self, bucket_name, notification_config)

    motoadapter.replace(S3Backend, "put_bucket_notification_configuration", put_bucket_notification_configuration)
    motoadapter.require_instance_attribute(S3Backend, "account_id")
    bucket_put = motoadapter.require(S3Response, "_bucket_response_put", ("self", "request", "bucket_name", "querystring"))

    def bucket_response_put(self, request, bucket_name, querystring):
        if "notification" not in querystring:
            return bucket_put(self, request, bucket_name, querystring)
        skip = request.headers.get("x-amz-skip-destination-validation", "").lower() == "true"
        try:
            with notifications.serving(skip_destination_validation=skip):
                return bucket_put(self, request, bucket_name, querystring)
        except notifications.DestinationsNotValidated as refused:
            return refused.response()

    motoadapter.replace(S3Response, "_bucket_response_put", bucket_response_put)


def _install_ownership() -> None:
    moto_create_bucket = motoadapter.require(S3Backend, "create_bucket", ("self", "bucket_name", "region_name"))

    def create_bucket(self, bucket_name, region_name, *args, **kwargs):
        bucket = moto_create_bucket(self, bucket_name, region_name, *args, **kwargs)
        if bucket.ownership_rule is None:
            bucket.ownership_rule = ownership.ENFORCED
        return bucket

    motoadapter.replace(S3Backend, "create_bucket", create_bucket)
    motoadapter.require_instance_attribute(FakeBucket, "ownership_rule")

    moto_bucket_put = motoadapter.require(S3Response, "_bucket_response_put",
                                          ("self", "request", "bucket_name", "querystring"))

    def bucket_response_put(self, request, bucket_name, querystring):
        if querystring:
            return moto_bucket_put(self, request, bucket_name, querystring)
        with ownership.creating(request.headers.get("x-amz-object-ownership")):
            return moto_bucket_put(self, request, bucket_name, querystring)

    motoadapter.replace(S3Response, "_bucket_response_put", bucket_response_put)

    moto_acl_from_headers = motoadapter.require(S3Response, "_acl_from_headers", ("self", "headers"))
    moto_acl_from_body = motoadapter.require(S3Response, "_acl_from_body", ("self",))

    def acl_from_headers(self, headers):
        acl = moto_acl_from_headers(self, headers)
        ownership.check(self.backend.buckets.get(self.bucket_name), acl)
        return acl

    def acl_from_body(self):
        acl = moto_acl_from_body(self)
        ownership.check(self.backend.buckets.get(self.bucket_name), acl)
        return acl

    motoadapter.replace(S3Response, "_acl_from_headers", acl_from_headers)
    motoadapter.replace(S3Response, "_acl_from_body", acl_from_body)

    moto_bucket_response = motoadapter.require(S3Response, "bucket_response", ("self", "request", "full_url", "headers"))
    moto_key_response = motoadapter.require(S3Response, "key_response", ("self", "request", "full_url", "headers"))

    def bucket_response(self, request, full_url, headers):
        return ownership.without_display_names(moto_bucket_response(self, request, full_url, headers))

    def key_response(self, request, full_url, headers):
        response = moto_key_response(self, request, full_url, headers)
        if "acl" in parse_qs(urlparse(full_url).query, keep_blank_values=True):  # never an object's own bytes
            return ownership.without_display_names(response)
        return response

    motoadapter.replace(S3Response, "bucket_response", bucket_response)
    motoadapter.replace(S3Response, "key_response", key_response)
