"""Whether a topic's policy lets an AWS service publish to it.

S3 accepts a topic as a notification destination only when the topic policy allows ``sns:Publish`` to
``s3.amazonaws.com`` for the bucket; the default topic policy, which allows the owner's account
(``AWS:SourceOwner``), does not
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html).
"""

from __future__ import annotations

from moto.sns.models import Topic, sns_backends

from localcloud.iam import policies


def find_topic(arn: str) -> Topic | None:
    parts = arn.split(":")
    if len(parts) != 6:
        return None
    region, account = parts[3:5]
    return sns_backends[account][region].topics.get(arn)


def publish_refusal(topic: Topic, service: str, source_arn: str, source_account: str) -> str | None:
    """Why ``topic``'s policy does not let ``service`` publish for ``source_arn``; None when it does."""
    verdict = policies.evaluate(topic.policy, policies.service_request(
        "sns:Publish", topic.arn, service, source_arn, source_account))
    return None if verdict.allowed else verdict.reason
