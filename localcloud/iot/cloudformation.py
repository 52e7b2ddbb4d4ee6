"""``AWS::IoT::TopicRule`` for localcloud's CloudFormation: the same rule CreateTopicRule makes.

The template spells the TopicRulePayload in PascalCase (``Sql``, ``Actions: [{Republish: {Topic}}]``);
the API's names are the same with a lower-case first letter, so the payload converts key by key and
goes through the same validation as the API (bad SQL or an action localcloud cannot perform fails
the resource with the reason).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from moto.core.common_models import CloudFormationModel

from localcloud.iot import actions, models
from localcloud.iot.models import IoTError, build_rule


class TopicRuleRefused(Exception):
    """The rule was refused as CreateTopicRule would refuse it; the message carries the API's error."""

    def __init__(self, error: IoTError):
        super().__init__(f"{error.code}: {error.message}")
        self.message = str(self)


def api_shape(value: Any) -> Any:
    """PascalCase template keys -> the API's camelCase keys, recursively."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: api_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [api_shape(item) for item in value]
    return value


def _rule_name(resource_name: str, properties: dict) -> str:
    if properties.get("RuleName"):
        return properties["RuleName"]
    # Rule names allow letters, digits and underscores only, unlike the names CloudFormation makes up.
    return re.sub(r"[^A-Za-z0-9_]", "_", resource_name)[:100] + "_" + uuid.uuid4().hex[:12].upper()


def check_template_actions(properties: dict) -> str | None:
    """Refuse, before anything is created, a rule whose action kinds localcloud cannot perform."""
    payload = properties.get("TopicRulePayload")
    if not isinstance(payload, dict):
        return None
    candidates = list(payload.get("Actions") or [])
    if isinstance(payload.get("ErrorAction"), dict):
        candidates.append(payload["ErrorAction"])
    for action in candidates:
        if isinstance(action, dict):
            for kind in action:
                api_kind = kind[:1].lower() + kind[1:]
                if api_kind not in actions.REQUIRED:
                    return (f"localcloud cannot perform the {kind} rule action; actions it performs: "
                            f"{', '.join(sorted(k[:1].upper() + k[1:] for k in actions.REQUIRED))}")
    return None


class TopicRule(CloudFormationModel):
    """``AWS::IoT::TopicRule``: Ref is the rule name, ``Fn::GetAtt Arn`` its ARN."""

    def __init__(self, name: str, region: str, arn: str):
        self.name, self.region, self.arn = name, region, arn

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "RuleName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::IoT::TopicRule"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Arn":
            return self.arn
        raise KeyError(attribute_name)

    @staticmethod
    def _build(name: str, region: str, properties: dict) -> models.TopicRule:
        try:
            return build_rule(name, region, api_shape(properties.get("TopicRulePayload") or {}),
                              properties.get("Tags") or [])
        except IoTError as error:
            raise TopicRuleRefused(error) from None

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> TopicRule:
        properties = cloudformation_json.get("Properties", {})
        rule = cls._build(_rule_name(resource_name, properties), region_name, properties)
        try:
            models.core().create_rule(rule)
        except IoTError as error:
            raise TopicRuleRefused(error) from None
        return cls(rule.name, region_name, rule.arn)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: TopicRule, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> TopicRule:
        properties = cloudformation_json.get("Properties", {})
        name = properties.get("RuleName") or original_resource.name
        if name != original_resource.name:  # a new name replaces the rule, as CloudFormation does
            created = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id,
                                                          region_name)
            original_resource.delete(account_id, region_name)
            return created
        rule = cls._build(name, region_name, properties)
        models.core().replace_rule(rule)
        return cls(rule.name, region_name, rule.arn)

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            models.core().delete_rule(region_name, self.name)
        except IoTError:
            pass  # already gone: deleting what does not exist succeeds, as CloudFormation's delete does
