"""S3 event notifications: complete AWS-shaped records, delivered to Lambda asynchronously.

moto matches the bucket's notification configuration and sends the records to SQS and SNS
itself; here its records gain the fields the real service sends, and its Lambda delivery (which
would block the upload and start Docker) becomes an asynchronous invocation, as on AWS
(installed by :mod:`localcloud.s3.moto_patches`).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any
from urllib.parse import quote_plus

from localcloud.awslambda import models as lambda_models
from localcloud.config import ACCOUNT_ID

logger = logging.getLogger("localcloud.s3")

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


def deliver_to_lambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    try:
        function = lambda_models.find_function(fn_arn, region_name, account_id)
        lambda_models.invoke_function_async(function, json.dumps(event_body).encode("utf-8"))
    except Exception as exc:  # S3 never fails an upload because a notification failed
        logger.error("S3 notification to %s not delivered: %s", fn_arn, exc)
