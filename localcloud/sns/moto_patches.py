"""Where localcloud changes moto's SNS (through :mod:`localcloud.motoadapter`): Lambda subscriptions get
SNS's own event, asynchronously (:mod:`.delivery`); SQS subscriptions get a message only where the queue's
policy allows the topic (:mod:`.delivery`); the other protocols stay moto's.  Email and HTTP
subscriptions wait for confirmation and get nothing before (:mod:`.confirmation`); FIFO topics report
their ``FifoThroughputScope``; a topic policy naming a user or role that does not exist is refused
(:mod:`localcloud.iam.principals`)."""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.sns.exceptions import SNSInvalidParameter
from moto.sns.models import SNSBackend, Subscription, Topic
from moto.sns.responses import SNSResponse

from localcloud import motoadapter
from localcloud.iam import principals
from localcloud.sns import confirmation, delivery


def install() -> None:
    moto_publish = motoadapter.require(Subscription, "publish", (
        "self", "message", "message_id", "subject", "message_attributes", "group_id", "deduplication_id",
        "message_structure"))

    def publish(self, message, message_id, subject=None, message_attributes=None, group_id=None,
                deduplication_id=None, message_structure=None):
        if confirmation.is_pending(self):
            return None
        if self.protocol == "lambda":
            return delivery.deliver_to_lambda(self, message, message_id, subject, message_attributes,
                                              message_structure)
        if self.protocol == "sqs" and delivery.refused_by_queue(self, message, message_attributes):
            return None
        return moto_publish(self, message, message_id, subject, message_attributes, group_id, deduplication_id,
                            message_structure)

    motoadapter.replace(Subscription, "publish", publish)
    motoadapter.require(Subscription, "get_post_data", ("self", "message", "message_id", "subject"))
    motoadapter.require(Subscription, "_parse_message_structure", ("self", "message", "protocol"))
    motoadapter.require_instance_attribute(Subscription, "_filter_policy_matcher")
    motoadapter.require_instance_attribute(Subscription, "topic")
    motoadapter.require_instance_attribute(Topic, "policy")  # read by :mod:`.permissions`
    motoadapter.require_instance_attribute(SNSBackend, "topics")
    _install_confirmation()
    _install_fifo_throughput_scope()
    _install_policy_check()


def _check_policy(name: str, value) -> None:
    if name.lower() == "policy" and value and principals.unknown(value):
        raise SNSInvalidParameter("Invalid parameter: Policy Error: PrincipalNotFound")


def _install_policy_check() -> None:
    moto_set = motoadapter.require(SNSBackend, "set_topic_attribute",
                                   ("self", "topic_arn", "attribute_name", "attribute_value"))

    def set_topic_attribute(self, topic_arn, attribute_name, attribute_value):
        _check_policy(attribute_name, attribute_value)
        return moto_set(self, topic_arn, attribute_name, attribute_value)

    motoadapter.replace(SNSBackend, "set_topic_attribute", set_topic_attribute)
    moto_create = motoadapter.require(SNSBackend, "create_topic", ("self", "name", "attributes"))

    def create_topic(self, name, attributes=None, *args, **kwargs):
        for attribute_name, value in (attributes or {}).items():
            _check_policy(attribute_name, value)
        return moto_create(self, name, attributes, *args, **kwargs)

    motoadapter.replace(SNSBackend, "create_topic", create_topic)


def _install_confirmation() -> None:
    moto_subscribe = motoadapter.require(SNSBackend, "subscribe", ("self", "topic_arn", "endpoint", "protocol"))
    motoadapter.require(SNSBackend, "_find_subscription", ("self", "topic_arn", "endpoint", "protocol"))

    def subscribe(self, topic_arn, endpoint, protocol):
        existing = self._find_subscription(topic_arn, endpoint, protocol)
        subscription = moto_subscribe(self, topic_arn, endpoint, protocol)
        if existing is None and protocol in confirmation.CONFIRMED_BY_ENDPOINT:
            confirmation.hold(subscription)
        return subscription

    motoadapter.replace(SNSBackend, "subscribe", subscribe)
    moto_unsubscribe = motoadapter.require(SNSBackend, "unsubscribe", ("self", "subscription_arn"))

    def unsubscribe(self, subscription_arn):
        if subscription_arn in self.subscriptions:
            confirmation.forget(self.subscriptions[subscription_arn])
        return moto_unsubscribe(self, subscription_arn)

    motoadapter.replace(SNSBackend, "unsubscribe", unsubscribe)

    moto_subscribe_response = motoadapter.require(SNSResponse, "subscribe", ("self",))

    def subscribe_response(self):
        answer = moto_subscribe_response(self)
        subscription = self.backend.subscriptions[answer.result["SubscriptionArn"]]
        wants_arn = str(self._get_param("ReturnSubscriptionArn", "false")).lower() == "true"
        if confirmation.is_pending(subscription) and not wants_arn:
            return ActionResult({"SubscriptionArn": confirmation.PENDING_SUBSCRIBE_ANSWER})
        return answer

    motoadapter.replace(SNSResponse, "subscribe", subscribe_response)

    for name in ("list_subscriptions", "list_subscriptions_by_topic"):
        motoadapter.replace(SNSResponse, name, _listing(motoadapter.require(SNSResponse, name, ("self",))))

    def confirm_subscription(self):
        authenticate = str(self._get_param("AuthenticateOnUnsubscribe", "false")).lower() == "true"
        arn = confirmation.confirm(self.backend, self._get_param("TopicArn"), self._get_param("Token"), authenticate)
        return ActionResult({"SubscriptionArn": arn})

    motoadapter.replace(SNSResponse, "confirm_subscription", confirm_subscription, ("self",))


def _listing(moto_list):
    def list_subscriptions(self):
        answer = moto_list(self)
        return ActionResult({**answer.result,
                             "Subscriptions": [confirmation.listed(found) for found in answer.result["Subscriptions"]]})

    return list_subscriptions


def _install_fifo_throughput_scope() -> None:
    """SNS keeps ``FifoThroughputScope`` (``Topic``, the default, or ``MessageGroup``) on FIFO topics
    (https://docs.aws.amazon.com/sns/latest/api/API_SetTopicAttributes.html); moto stores it and drops it
    from GetTopicAttributes."""
    moto_get = motoadapter.require(SNSResponse, "get_topic_attributes", ("self",))

    def get_topic_attributes(self):
        answer = moto_get(self)
        topic = self.backend.get_topic(self._get_param("TopicArn"))
        if topic.fifo_topic:
            answer.result["Attributes"]["FifoThroughputScope"] = getattr(topic, "fifo_throughput_scope", "Topic")
        return answer

    motoadapter.replace(SNSResponse, "get_topic_attributes", get_topic_attributes)
    motoadapter.require_instance_attribute(SNSBackend, "subscriptions")
