"""Where localcloud changes moto's SNS (through :mod:`localcloud.motoadapter`): Lambda subscriptions get
SNS's own event, asynchronously (:mod:`.delivery`); the other protocols stay moto's."""

from __future__ import annotations

from moto.sns.models import Subscription

from localcloud import motoadapter
from localcloud.sns import delivery


def install() -> None:
    moto_publish = motoadapter.require(Subscription, "publish", (
        "self", "message", "message_id", "subject", "message_attributes", "group_id", "deduplication_id",
        "message_structure"))

    def publish(self, message, message_id, subject=None, message_attributes=None, group_id=None,
                deduplication_id=None, message_structure=None):
        if self.protocol == "lambda":
            return delivery.deliver_to_lambda(self, message, message_id, subject, message_attributes,
                                              message_structure)
        return moto_publish(self, message, message_id, subject, message_attributes, group_id, deduplication_id,
                            message_structure)

    motoadapter.replace(Subscription, "publish", publish)
    motoadapter.require(Subscription, "get_post_data", ("self", "message", "message_id", "subject"))
    motoadapter.require(Subscription, "_parse_message_structure", ("self", "message", "protocol"))
    motoadapter.require_instance_attribute(Subscription, "_filter_policy_matcher")
