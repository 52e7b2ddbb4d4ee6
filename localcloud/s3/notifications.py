"""S3 event notifications: destinations validated, complete AWS-shaped records, Lambda invoked asynchronously.

S3 refuses a notification configuration whose destinations it cannot deliver to: a queue or topic that
does not exist or whose policy does not allow ``s3.amazonaws.com`` to send or publish for the bucket, a
function whose resource policy does not let S3 invoke it.  It answers 400 ``InvalidArgument`` "Unable to
validate the following destination configurations", naming each refused destination in
``ArgumentName1``, ``ArgumentValue1``, ... , unless the request asks to skip the validation
(``x-amz-skip-destination-validation``;
https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketNotificationConfiguration.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html).
CloudFormation's ``NotificationConfiguration`` is validated alike: the stack fails.

moto matches the bucket's notification configuration and sends the records to SQS and SNS
itself; here its records gain the fields the real service sends, and its Lambda delivery (which
would block the upload and start Docker) becomes an asynchronous invocation, as on AWS
(installed by :mod:`localcloud.s3.moto_patches`).  Each delivery is judged again against the
destination's policy, which may have changed since (or a configuration that skipped validation never
met): S3 drops an event it may not deliver, and localcloud logs it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote_plus
from xml.sax.saxutils import escape

from moto.awslambda.exceptions import UnknownFunctionException
from moto.s3.exceptions import S3ClientError

from localcloud.awslambda import models as lambda_models
from localcloud.awslambda import permissions as lambda_permissions
from localcloud.config import ACCOUNT_ID
from localcloud.sns import permissions as sns_permissions
from localcloud.sqs import permissions as sqs_permissions

logger = logging.getLogger("localcloud.s3")

S3_PRINCIPAL = "s3.amazonaws.com"
UNVALIDATED = "Unable to validate the following destination configurations"

_request = threading.local()  # whether the PutBucketNotificationConfiguration being served skips validation


class DestinationsNotValidated(S3ClientError):
    """S3's refusal of the destinations it may not deliver to: an (ARN, why) pair for each."""

    code = "InvalidArgument"

    def __init__(self, refusals: list[tuple[str, str]]):
        # The API's answer carries the destinations in its own elements; a stack's failure reason has only this.
        super().__init__(f"{UNVALIDATED} ({'; '.join(f'{name}: {why}' for name, why in refusals)})")
        self.refusals = refusals

    def response(self) -> tuple[int, dict[str, str], bytes]:
        """S3's answer, which numbers its arguments (moto's error model has room for one)."""
        arguments = "".join(f"<ArgumentName{n}>{escape(name)}</ArgumentName{n}><ArgumentValue{n}>{escape(value)}"
                            f"</ArgumentValue{n}>" for n, (name, value) in enumerate(self.refusals, start=1))
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{self.code}</Code><Message>{UNVALIDATED}'
                f"</Message>{arguments}<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId>"
                f"<HostId>{uuid.uuid4().hex}</HostId></Error>").encode()
        return 400, {"Content-Type": "application/xml"}, body


@contextlib.contextmanager
def serving(skip_destination_validation: bool) -> Iterator[None]:
    """While a PutBucketNotificationConfiguration request runs: whether it asked to skip the validation."""
    _request.skip = skip_destination_validation
    try:
        yield
    finally:
        _request.skip = False


def _queue_refusal(arn: str, bucket_arn: str, account_id: str) -> str | None:
    queue = sqs_permissions.find_queue(arn)
    if queue is None:
        return "The destination queue does not exist"
    if sqs_permissions.send_refusal(queue, S3_PRINCIPAL, bucket_arn, account_id) is not None:
        return "Permissions on the destination queue do not allow S3 to publish notifications from this bucket"
    return None


def _topic_refusal(arn: str, bucket_arn: str, account_id: str) -> str | None:
    topic = sns_permissions.find_topic(arn)
    if topic is None:
        return "The destination topic does not exist"
    if sns_permissions.publish_refusal(topic, S3_PRINCIPAL, bucket_arn, account_id) is not None:
        return "Permissions on the destination topic do not allow S3 to publish notifications from this bucket"
    return None


def _function_refusal(arn: str, bucket_arn: str, account_id: str) -> str | None:
    parts = arn.split(":")  # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
    try:
        function = lambda_models.find_function(arn, parts[3], parts[4]) if len(parts) >= 7 else None
    except UnknownFunctionException:  # S3 answers a missing function as one it may not invoke
        function = None
    if function is None or not lambda_permissions.invoke_allowed(function, S3_PRINCIPAL, bucket_arn, account_id):
        return f"Not authorized to invoke function [{arn}]"
    return None


def check_destinations(bucket_name: str, account_id: str, config: dict[str, Any]) -> None:
    """Refuse ``config`` (as moto stores it) when S3 may not deliver to one of its destinations."""
    if getattr(_request, "skip", False):
        return
    bucket_arn = f"arn:aws:s3:::{bucket_name}"
    judged = [(entry["Topic"], _topic_refusal(entry["Topic"], bucket_arn, account_id))
              for entry in config.get("TopicConfiguration", [])]
    judged += [(entry["Queue"], _queue_refusal(entry["Queue"], bucket_arn, account_id))
               for entry in config.get("QueueConfiguration", [])]
    judged += [(f"{entry['CloudFunction']}, null", _function_refusal(entry["CloudFunction"], bucket_arn, account_id))
               for entry in config.get("CloudFunctionConfiguration", [])]
    refusals = list(dict.fromkeys((name, why) for name, why in judged if why))  # each destination once
    if refusals:
        refused = DestinationsNotValidated(refusals)
        logger.warning("S3 refused the notification configuration of bucket %s: %s", bucket_name, refused.message)
        raise refused


def complete_event(event: dict, key: Any) -> dict:
    """moto's event notification message made the one S3 sends (event structure version 2.1)."""
    for record in event["Records"]:
        record["userIdentity"] = {"principalId": f"AWS:{ACCOUNT_ID}"}
        record["requestParameters"] = {"sourceIPAddress": "127.0.0.1"}
        record["responseElements"] = {
            "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
            "x-amz-id-2": uuid.uuid4().hex,
        }
        record["s3"]["bucket"]["ownerIdentity"] = {"principalId": ACCOUNT_ID}
        obj = record["s3"]["object"]
        # S3 form-encodes keys but keeps their slashes ("birds/my+bird.jpg"); moto encodes the slashes too.
        obj["key"] = quote_plus(key.name, safe="/")
        obj["sequencer"] = f"{uuid.uuid4().int % 16**16:016X}"
        if getattr(key, "version_id", None) and key.version_id != "null":
            obj["versionId"] = key.version_id
    return event


def _bucket_of(event_body: Any) -> str:
    """The bucket an event record (or S3's ``s3:TestEvent``) comes from."""
    records = event_body.get("Records")
    return records[0]["s3"]["bucket"]["name"] if records else event_body["Bucket"]


def _dropped(destination: str, event_body: Any, why: str) -> None:
    logger.warning("S3 dropped an event notification of bucket %s for %s: %s. AWS drops it too; allow "
                   "s3.amazonaws.com in the destination's policy.", _bucket_of(event_body), destination, why)


def deliver_to_lambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    """Invoke the function asynchronously if its permission still lets S3 invoke it for the bucket (it may have
    changed since the configuration was validated, or the configuration skipped validation)."""
    why = _function_refusal(fn_arn, f"arn:aws:s3:::{_bucket_of(event_body)}", account_id)
    if why is not None:
        return _dropped(fn_arn, event_body, why)
    try:
        function = lambda_models.find_function(fn_arn, region_name, account_id)
        lambda_models.invoke_function_async(function, json.dumps(event_body).encode("utf-8"))
    except Exception as exc:  # S3 never fails an upload because a notification failed
        logger.error("S3 notification to %s not delivered: %s", fn_arn, exc)
    return None


def sending_to_queue(moto_send: Callable[[str, Any, str, str], None]) -> Callable[[str, Any, str, str], None]:
    """moto's delivery to a queue, made only where the queue's policy still allows the bucket."""

    def send(account_id: str, event_body: Any, queue_name: str, region_name: str) -> None:
        arn = f"arn:aws:sqs:{region_name}:{account_id}:{queue_name}"
        why = _queue_refusal(arn, f"arn:aws:s3:::{_bucket_of(event_body)}", account_id)
        if why is not None:
            return _dropped(arn, event_body, why)
        return moto_send(account_id, event_body, queue_name, region_name)

    return send


def publishing_to_topic(moto_send: Callable[[str, Any, str, str], None]) -> Callable[[str, Any, str, str], None]:
    """moto's delivery to a topic, made only where the topic's policy still allows the bucket."""

    def send(account_id: str, event_body: Any, topic_arn: str, region_name: str) -> None:
        why = _topic_refusal(topic_arn, f"arn:aws:s3:::{_bucket_of(event_body)}", account_id)
        if why is not None:
            return _dropped(topic_arn, event_body, why)
        return moto_send(account_id, event_body, topic_arn, region_name)

    return send
