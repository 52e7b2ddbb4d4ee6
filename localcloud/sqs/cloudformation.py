"""CloudFormation for ``AWS::SQS::QueuePolicy``, which moto lacks."""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.sqs.models import sqs_backends


class QueuePolicy(CloudFormationModel):
    """``AWS::SQS::QueuePolicy``: sets each queue's Policy attribute."""

    def __init__(self, queues: list[str]):
        self.queues = queues

    @property
    def physical_resource_id(self) -> str:
        return ",".join(self.queues)

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> QueuePolicy:
        properties = cloudformation_json["Properties"]
        backend = sqs_backends[account_id][region_name]
        for queue_url in properties["Queues"]:
            queue_name = queue_url.rstrip("/").rsplit("/", 1)[-1]
            backend.set_queue_attributes(queue_name, {"Policy": json.dumps(properties["PolicyDocument"])})
        return cls(list(properties["Queues"]))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: QueuePolicy, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> QueuePolicy:
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = sqs_backends[account_id][region_name]
        for queue_url in self.queues:
            queue_name = queue_url.rstrip("/").rsplit("/", 1)[-1]
            if queue_name in backend.queues:
                backend.set_queue_attributes(queue_name, {"Policy": ""})
