"""CloudFormation for S3: bucket properties moto drops, and ``AWS::S3::BucketPolicy``."""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.s3.models import s3_backends

_TARGETS = (
    ("LambdaConfigurations", "Function", "CloudFunctionConfiguration", "CloudFunction"),
    ("QueueConfigurations", "Queue", "QueueConfiguration", "Queue"),
    ("TopicConfigurations", "Topic", "TopicConfiguration", "Topic"),
)


def notification_config(cfn: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration in the form moto's S3 API stores."""
    config: dict[str, Any] = {}
    for cfn_key, cfn_target, api_key, api_target in _TARGETS:
        entries = []
        for entry in cfn.get(cfn_key, []):
            api_entry: dict[str, Any] = {api_target: entry[cfn_target], "Event": [entry["Event"]]}
            rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            if rules:
                api_entry["Filter"] = {
                    "S3Key": {"FilterRule": [{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules]}
                }
            entries.append(api_entry)
        if entries:
            config[api_key] = entries
    if "EventBridgeConfiguration" in cfn:
        config["EventBridgeConfiguration"] = {}
    return config


def refuse_to_delete_a_non_empty_bucket(bucket: Any, account_id: str, region_name: str) -> None:
    """CloudFormation cannot delete a bucket that holds objects: the stack ends DELETE_FAILED (moto's
    deletion silently kept the bucket and reported success)."""
    if bucket.keys:
        raise RuntimeError(f"The bucket you tried to delete is not empty (Service: Amazon S3; Status Code: 409; "
                           f"Error Code: BucketNotEmpty): empty {bucket.name} first, then delete the stack again.")


def apply_bucket_properties(bucket: Any, properties: dict[str, Any], account_id: str, region_name: str) -> None:
    backend = s3_backends[account_id]["aws"]
    if "NotificationConfiguration" in properties:
        backend.put_bucket_notification_configuration(
            bucket.name, notification_config(properties["NotificationConfiguration"])
        )
    if "PublicAccessBlockConfiguration" in properties:
        backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
    if "OwnershipControls" in properties:
        backend.put_bucket_ownership_controls(bucket.name, properties["OwnershipControls"]["Rules"][0]["ObjectOwnership"])
    if "VersioningConfiguration" in properties:
        backend.put_bucket_versioning(bucket.name, properties["VersioningConfiguration"]["Status"])


class BucketPolicy(CloudFormationModel):
    """``AWS::S3::BucketPolicy``."""

    def __init__(self, account_id: str, bucket_name: str):
        self.account_id = account_id
        self.bucket_name = bucket_name

    @property
    def physical_resource_id(self) -> str:
        return self.bucket_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> BucketPolicy:
        properties = cloudformation_json["Properties"]
        bucket_name = properties["Bucket"]
        document = json.dumps(properties["PolicyDocument"]).encode("utf-8")
        s3_backends[account_id]["aws"].put_bucket_policy(bucket_name, document)
        return cls(account_id, bucket_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: BucketPolicy, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> BucketPolicy:
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = s3_backends[account_id]["aws"]
        if self.bucket_name in backend.buckets:
            backend.delete_bucket_policy(self.bucket_name)
