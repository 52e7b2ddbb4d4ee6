"""AWS::IoT::TopicRule through CloudFormation, with the AWS::Lambda::Permission its aws_lambda() needs."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import failure_reasons, wait_for, wait_for_stack
from tests.localcloud.test_iot_rules import receive

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Description: Smart-thermostat rule (test)
Parameters:
  SoundThreshold:
    Type: Number
    Default: 10
Resources:
  Readings:
    Type: AWS::SQS::Queue
  ClassifierRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
  RuleRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: iot.amazonaws.com}
            Action: sts:AssumeRole
  Classifier:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt ClassifierRole.Arn
      Environment:
        Variables:
          THRESHOLD: !Ref SoundThreshold
      Code:
        ZipFile: |
          import os
          def handler(event, context):
              sound = event["state"]["reported"]["sound"]
              return {"statusCode": 200, "body": {"predicted_label": int(sound > int(os.environ["THRESHOLD"]))}}
  OccupancyRule:
    Type: AWS::IoT::TopicRule
    Properties:
      TopicRulePayload:
        AwsIotSqlVersion: "2016-03-23"
        RuleDisabled: false
        Sql: !Sub >-
          SELECT cast(get(get(aws_lambda("${Classifier.Arn}", *), "body"), "predicted_label") AS Boolean)
          AS state.desired.roomOccupancy FROM '$aws/things/+/shadow/update/accepted' WHERE state.reported.sound <> Null
        Actions:
          - Republish:
              Topic: "$$aws/things/${topic(3)}/shadow/update"
              RoleArn: !GetAtt RuleRole.Arn
          - Sqs:
              QueueUrl: !Ref Readings
              RoleArn: !GetAtt RuleRole.Arn
      Tags:
        - Key: workshop
          Value: serverless-ml
  ClassifierPermission:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Classifier
      Action: lambda:InvokeFunction
      Principal: iot.amazonaws.com
      SourceArn: !GetAtt OccupancyRule.Arn
      SourceAccount: !Ref AWS::AccountId
Outputs:
  RuleName:
    Value: !Ref OccupancyRule
  RuleArn:
    Value: !GetAtt OccupancyRule.Arn
  QueueUrl:
    Value: !Ref Readings
"""


def _desired(data, thing: str):
    try:
        document = json.loads(data.get_thing_shadow(thingName=thing)["payload"].read())
    except ClientError:
        return None
    return document["state"].get("desired")


def test_topic_rule_stack_create_fire_update_delete(aws, unique):
    cloudformation, iot, data = aws("cloudformation"), aws("iot"), aws("iot-data")
    stack = f"workshop-iot-rule-{unique}"
    cloudformation.create_stack(StackName=stack, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"])
    outputs = wait_for_stack(cloudformation, stack)
    rule = iot.get_topic_rule(ruleName=outputs["RuleName"])
    assert rule["ruleArn"] == outputs["RuleArn"]
    assert [sorted(action) for action in rule["rule"]["actions"]] == [["republish"], ["sqs"]]
    assert rule["rule"]["actions"][0]["republish"]["topic"] == "$$aws/things/${topic(3)}/shadow/update"

    thing = f"cfn_thermostat_{unique}"
    data.update_thing_shadow(thingName=thing, payload=json.dumps({"state": {"reported": {"sound": 50}}}))
    assert wait_for(lambda: _desired(data, thing)) == {"roomOccupancy": True}
    readings = [json.loads(body) for body in receive(aws, outputs["QueueUrl"], 1)]
    assert {"state": {"desired": {"roomOccupancy": True}}} in readings

    # The update changes the statement in the template itself: moto's update does not see a parameter
    # used only inside Fn::Sub as a change to the resource.
    updated = TEMPLATE.replace("WHERE state.reported.sound <> Null", "WHERE state.reported.sound > 1000")
    cloudformation.update_stack(StackName=stack, TemplateBody=updated, Capabilities=["CAPABILITY_IAM"])
    wait_for_stack(cloudformation, stack, "stack_update_complete")
    assert iot.get_topic_rule(ruleName=outputs["RuleName"])["rule"]["sql"].endswith("state.reported.sound > 1000")

    cloudformation.delete_stack(StackName=stack)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    with pytest.raises(ClientError) as raised:
        iot.get_topic_rule(ruleName=outputs["RuleName"])
    assert raised.value.response["Error"]["Code"] == "UnauthorizedException"


@pytest.mark.parametrize(("rule_properties", "reason"), [
    ({"TopicRulePayload": {"Sql": "SELECT * FROM 'a/b'",
                           "Actions": [{"Kinesis": {"StreamName": "s", "RoleArn": "arn:aws:iam::123456789012:role/r"}}]}},
     "cannot perform the Kinesis rule action"),
    ({"TopicRulePayload": {"Sql": "SELECT * FROM 'a/b' WHERE x IS NULL", "Actions": []}}, "SqlParseException"),
])
def test_a_rule_localcloud_cannot_run_fails_the_stack_with_the_reason(aws, unique, rule_properties, reason):
    cloudformation = aws("cloudformation")
    stack = f"workshop-iot-bad-{unique}"
    template = {"AWSTemplateFormatVersion": "2010-09-09",
                "Resources": {"Rule": {"Type": "AWS::IoT::TopicRule", "Properties": rule_properties}}}
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    with pytest.raises(AssertionError):
        wait_for_stack(cloudformation, stack)
    assert cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    assert any(reason in r for r in failure_reasons(cloudformation, stack))
    cloudformation.delete_stack(StackName=stack)
