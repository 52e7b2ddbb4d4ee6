"""``AWS::CDK::Metadata``: the record of the constructs a CDK template was synthesised from. CloudFormation
creates it and does nothing with it; without it no CDK-generated template would deploy unedited."""

from __future__ import annotations

import uuid
from typing import Any

from moto.core.common_models import CloudFormationModel


class CdkMetadata(CloudFormationModel):
    def __init__(self, physical_id: str):
        self.physical_resource_id = physical_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CDK::Metadata"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> CdkMetadata:
        return cls(str(uuid.uuid4()))

    def delete(self, account_id: str, region_name: str) -> None:
        """Nothing exists behind it."""
