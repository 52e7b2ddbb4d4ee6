"""CloudFormation for SNS subscriptions and topic policies, which moto lacks."""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.sns.models import sns_backends


def apply_topic_tags(topic: Any, properties: dict[str, Any], account_id: str, region_name: str) -> None:
    """moto creates an ``AWS::SNS::Topic`` without its ``Tags``; clean-up finds topics by them."""
    if properties.get("Tags"):
        sns_backends[account_id][region_name].tag_resource(
            topic.arn, {tag["Key"]: tag["Value"] for tag in properties["Tags"]})


class TopicSubscription(CloudFormationModel):
    """``AWS::SNS::Subscription``."""

    def __init__(self, arn: str):
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> TopicSubscription:
        properties = cloudformation_json["Properties"]
        backend = sns_backends[account_id][region_name]
        subscription = backend.subscribe(properties["TopicArn"], properties["Endpoint"], properties["Protocol"])
        if "RawMessageDelivery" in properties:
            backend.set_subscription_attributes(
                subscription.arn, "RawMessageDelivery", str(properties["RawMessageDelivery"]).lower()
            )
        if "FilterPolicy" in properties:
            policy = properties["FilterPolicy"]
            backend.set_subscription_attributes(
                subscription.arn, "FilterPolicy", policy if isinstance(policy, str) else json.dumps(policy)
            )
        return cls(subscription.arn)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: TopicSubscription, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> TopicSubscription:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        sns_backends[account_id][region_name].unsubscribe(self.arn)


class TopicPolicy(CloudFormationModel):
    """``AWS::SNS::TopicPolicy``: sets each topic's Policy attribute."""

    def __init__(self, topics: list[str]):
        self.topics = topics

    @property
    def physical_resource_id(self) -> str:
        return ",".join(self.topics)

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> TopicPolicy:
        properties = cloudformation_json["Properties"]
        backend = sns_backends[account_id][region_name]
        for topic_arn in properties["Topics"]:
            backend.set_topic_attribute(topic_arn, "Policy", json.dumps(properties["PolicyDocument"]))
        return cls(list(properties["Topics"]))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: TopicPolicy, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> TopicPolicy:
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        """Deleting a topic policy restores each remaining topic's default policy, as on AWS."""
        backend = sns_backends[account_id][region_name]
        for topic_arn in self.topics:
            topic = backend.topics.get(topic_arn)
            if topic is not None:
                default = topic._create_default_topic_policy(region_name, account_id, topic.name)
                backend.set_topic_attribute(topic_arn, "Policy", json.dumps(default))
