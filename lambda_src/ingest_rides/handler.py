"""Fan an S3 object of unicorn rides out to SQS: one message per ride.

Triggered by S3 ``ObjectCreated`` on the rides bucket. The object holds one ride per line (JSON
Lines, as the unicorns' telemetry lands); every non-empty line becomes the body of one message on
``QUEUE_URL``, sent ten at a time. Lines are forwarded as they are: checking a ride is the next
function's job, and a malformed one ends in the dead-letter queue where it can be looked at.
"""

import os
import urllib.parse

import boto3

QUEUE_URL = os.environ["QUEUE_URL"]
SQS_BATCH = 10  # SendMessageBatch takes at most ten entries
s3 = boto3.client("s3")
sqs = boto3.client("sqs")


def send_rides(lines):
    """Queue the rides; raise if SQS refused any, so that S3's event is retried rather than lost."""
    for start in range(0, len(lines), SQS_BATCH):
        entries = [{"Id": str(i), "MessageBody": line} for i, line in enumerate(lines[start:start + SQS_BATCH])]
        failed = sqs.send_message_batch(QueueUrl=QUEUE_URL, Entries=entries).get("Failed", [])
        if failed:
            reasons = "; ".join(f"line {start + int(f['Id']) + 1}: {f.get('Message', f['Code'])}" for f in failed)
            raise RuntimeError(f"SQS refused {len(failed)} rides: {reasons}")


def lambda_handler(event, context):
    queued = 0
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        lines = [line for line in text.splitlines() if line.strip()]
        send_rides(lines)
        print(f"s3://{bucket}/{key}: {len(lines)} rides queued")
        queued += len(lines)
    return {"queued": queued}
