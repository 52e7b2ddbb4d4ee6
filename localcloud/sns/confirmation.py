"""Subscriptions that the endpoint's owner must confirm, as SNS keeps them.

SNS sends an email, email-json, http or https endpoint a confirmation token and delivers nothing to it
until ``ConfirmSubscription`` presents that token
(https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.confirm.html,
https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html: "pending confirmation" unless
``ReturnSubscriptionArn``).  Until then the subscription reports ``PendingConfirmation: true`` and
ListSubscriptions shows ``PendingConfirmation`` in place of its ARN.
"""

from __future__ import annotations

import secrets

from moto.sns.exceptions import SNSInvalidParameter

CONFIRMED_BY_ENDPOINT = ("email", "email-json", "http", "https")
PENDING_ARN = "PendingConfirmation"
PENDING_SUBSCRIBE_ANSWER = "pending confirmation"

_tokens: dict[str, str] = {}  # subscription ARN -> the token its endpoint would receive


def hold(subscription) -> None:
    """Mark a new subscription pending until its endpoint confirms it."""
    subscription.attributes["PendingConfirmation"] = True
    subscription.attributes["ConfirmationWasAuthenticated"] = False
    subscription.topic.subscriptions_pending += 1
    _tokens[subscription.arn] = secrets.token_hex(64)


def forget(subscription) -> None:
    """Unsubscribe: a pending subscription no longer counts as pending, and its token confirms nothing."""
    if is_pending(subscription):
        subscription.topic.subscriptions_pending -= 1
    _tokens.pop(subscription.arn, None)


def is_pending(subscription) -> bool:
    return subscription.attributes.get("PendingConfirmation") is True


def listed(subscription) -> dict[str, str]:
    """How ListSubscriptions and ListSubscriptionsByTopic show ``subscription``."""
    return {"SubscriptionArn": PENDING_ARN if is_pending(subscription) else subscription.arn,
            "Owner": subscription.owner, "Protocol": subscription.protocol,
            "Endpoint": subscription.endpoint, "TopicArn": subscription.topic.arn}


def confirm(backend, topic_arn: str, token: str, authenticate_on_unsubscribe: bool) -> str:
    """Confirm the pending subscription of ``topic_arn`` that was sent ``token``; its ARN."""
    backend.get_topic(topic_arn)  # NotFound for an unknown topic, as SNS answers
    for subscription in backend.subscriptions.values():
        if subscription.topic.arn == topic_arn and _tokens.get(subscription.arn) == token:
            if is_pending(subscription):
                subscription.attributes["PendingConfirmation"] = False
                subscription.attributes["ConfirmationWasAuthenticated"] = authenticate_on_unsubscribe
                subscription.topic.subscriptions_pending -= 1
                subscription.topic.subscriptions_confimed += 1
            return subscription.arn
    raise SNSInvalidParameter("Invalid token")
