"""Whether a queue's policy lets an AWS service send messages to it.

SNS delivers a topic's messages to a subscribed queue, and S3 accepts a queue as a notification
destination, only when the queue policy allows ``sqs:SendMessage`` to the service's principal for that
topic or bucket; the queue's owner subscribing it does not grant it
(https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html).
"""

from __future__ import annotations

from moto.sqs.models import Queue, sqs_backends

from localcloud.iam import policies


def find_queue(arn: str) -> Queue | None:
    parts = arn.split(":")
    if len(parts) != 6:
        return None
    region, account, name = parts[3:]
    return sqs_backends[account][region].queues.get(name)


def send_refusal(queue: Queue, service: str, source_arn: str, source_account: str) -> str | None:
    """Why ``queue``'s policy does not let ``service`` send for ``source_arn``; None when it does."""
    verdict = policies.evaluate(queue.policy, policies.service_request(
        "sqs:SendMessage", queue.queue_arn, service, source_arn, source_account))
    return None if verdict.allowed else verdict.reason
