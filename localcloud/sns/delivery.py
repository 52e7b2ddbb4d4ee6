"""SNS delivery to Lambda subscriptions, and the resource policies that SQS and Lambda deliveries need.

moto delivers to SQS and HTTP itself; for Lambda it would send a canned event through Docker.
Here the subscriber gets the event SNS sends (its subscription ARN, the topic, the message id,
subject and attributes, a signature) as an asynchronous invocation.

SNS delivers to an SQS queue only when the queue's policy allows ``sqs:SendMessage`` to
``sns.amazonaws.com`` for the topic (:mod:`localcloud.sqs.permissions`), and to a function only when its
resource policy allows ``lambda:InvokeFunction`` to it for the topic
(https://docs.aws.amazon.com/sns/latest/dg/sns-lambda-as-subscriber.html).  A delivery that is not allowed is
dropped, as AWS drops it (counting it in the topic's ``NumberOfNotificationsFailed`` metric, which
localcloud does not keep); localcloud says so in its log.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from moto.sns.models import Subscription

from localcloud.awslambda import models as lambda_models
from localcloud.awslambda import permissions as lambda_permissions
from localcloud.sqs import permissions as sqs_permissions

logger = logging.getLogger("localcloud.sns")

SNS_PRINCIPAL = "sns.amazonaws.com"


def refused_by_queue(subscription: Subscription, message: str, message_attributes: dict | None) -> bool:
    """Whether the queue of an SQS subscription refuses this message (logged); a message the subscription's
    filter policy leaves out is no delivery at all."""
    matcher = subscription._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return False
    queue = sqs_permissions.find_queue(subscription.endpoint)
    if queue is None:  # moto reports a queue that does not exist
        return False
    topic_arn = subscription.topic.arn
    reason = sqs_permissions.send_refusal(queue, SNS_PRINCIPAL, topic_arn, topic_arn.split(":")[4])
    if reason is None:
        return False
    logger.warning(
        "SNS dropped a message of topic %s for queue %s: the queue policy does not allow sqs:SendMessage to "
        "%s with aws:SourceArn %s: %s. AWS drops it too (the topic's NumberOfNotificationsFailed metric counts "
        "it); allow it in the queue's policy (AWS::SQS::QueuePolicy).",
        topic_arn, queue.queue_arn, SNS_PRINCIPAL, topic_arn, reason)
    return True

def lambda_event(subscription: Subscription, message: str, message_id: str, subject: str | None, message_attributes: dict | None) -> dict:
    notification = subscription.get_post_data(message, message_id, subject, message_attributes=message_attributes)
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "Sns": {
                    "Type": notification["Type"],
                    "MessageId": notification["MessageId"],
                    "TopicArn": notification["TopicArn"],
                    "Subject": notification.get("Subject"),
                    "Message": notification["Message"],
                    "Timestamp": notification["Timestamp"],
                    "SignatureVersion": notification["SignatureVersion"],
                    "Signature": notification["Signature"],
                    "SigningCertUrl": notification["SigningCertURL"],
                    "UnsubscribeUrl": notification["UnsubscribeURL"],
                    "MessageAttributes": notification.get("MessageAttributes", {}),
                },
            }
        ]
    }


def deliver_to_lambda(self: Subscription, message: str, message_id: str, subject: str | None,
                      message_attributes: dict[str, Any] | None, message_structure: str | None) -> None:
    """A Lambda subscription's delivery: SNS's own event, as an asynchronous invocation."""
    if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(message_attributes, message):
        return None
    if message_structure == "json":
        message = self._parse_message_structure(message, self.protocol)
    event = lambda_event(self, message, message_id, subject, message_attributes)
    region = self.endpoint.split(":")[3]
    topic_arn = self.topic.arn
    try:
        function = lambda_models.find_function(self.endpoint, region, self.account_id)
        if not lambda_permissions.invoke_allowed(function, SNS_PRINCIPAL, topic_arn, topic_arn.split(":")[4]):
            logger.warning(
                "SNS dropped a message of topic %s for function %s: its resource policy does not allow "
                "lambda:InvokeFunction to %s for the topic. AWS drops it too (the topic's NumberOfNotificationsFailed "
                "metric counts it); grant it with AddPermission (AWS::Lambda::Permission).",
                topic_arn, self.endpoint, SNS_PRINCIPAL)
            return None
        lambda_models.invoke_function_async(function, json.dumps(event).encode("utf-8"))
    except Exception as exc:  # SNS accepts the publish whatever a subscriber does
        logger.error("SNS delivery to %s failed: %s", self.endpoint, exc)
    return None
