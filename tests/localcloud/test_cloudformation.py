"""Strict CloudFormation: lint first, fail loudly on what cannot be created, update and delete for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import settled, wait_for_stack
from workshop.target import ROOT

FIXTURES = ROOT / "tests" / "fixtures"

FUNCTION = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Environment:
        Variables:
          GREETING: !Ref Greeting
      Code:
        ZipFile: |
          import os
          def handler(event, context):
              return os.environ["GREETING"]
%(extra)s
Outputs:
  FunctionName:
    Value: !Ref Function
"""

# A type localcloud cannot create (it runs no virtual networks).
UNSUPPORTED = """
  Network:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
"""


def template(extra: str = "") -> str:
    return FUNCTION % {"extra": extra}


def greet(aws, function_name: str) -> str:
    return json.loads(aws("lambda").invoke(FunctionName=function_name)["Payload"].read())


def events(aws, stack: str) -> list[dict]:
    return aws("cloudformation").describe_stack_events(StackName=stack)["StackEvents"]


def test_an_unsupported_resource_type_fails_the_stack_and_rolls_back(aws, unique):
    name = f"unsupported-{unique}"
    aws("cloudformation").create_stack(StackName=name, TemplateBody=template(UNSUPPORTED))
    stack = settled(aws("cloudformation"), name)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "Outputs" not in stack
    failed = [e for e in events(aws, name) if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Network"]
    assert "AWS::EC2::VPC is not supported by localcloud" in failed[0]["ResourceStatusReason"]
    statuses = [e["ResourceStatus"] for e in events(aws, name) if e["LogicalResourceId"] == name]
    assert {"ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"} <= set(statuses)
    functions = [f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]]
    assert not any(f.startswith(f"{name}-") for f in functions), "resources created before the failure remain"


def test_an_unsupported_property_fails_the_stack_with_its_name(aws, unique):
    name = f"unsupported-property-{unique}"
    extra = """
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      WebsiteConfiguration:
        IndexDocument: index.html
"""
    aws("cloudformation").create_stack(StackName=name, TemplateBody=template(extra))
    assert settled(aws("cloudformation"), name)["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = next(e["ResourceStatusReason"] for e in events(aws, name) if e["ResourceStatus"] == "CREATE_FAILED")
    assert "WebsiteConfiguration" in reason and "AWS::S3::Bucket" in reason


def test_a_misspelt_property_is_rejected_with_cfn_lints_message(aws, unique):
    misspelt = template().replace("Handler: index.handler", "Handlr: index.handler")
    with pytest.raises(ClientError) as raised:
        aws("cloudformation").create_stack(StackName=f"misspelt-{unique}", TemplateBody=misspelt)
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert "E3002" in error["Message"] and "Handlr" in error["Message"]
    with pytest.raises(ClientError):
        aws("cloudformation").describe_stacks(StackName=f"misspelt-{unique}")


def test_update_changes_the_running_function_and_delete_removes_everything(aws, unique):
    name = f"lifecycle-{unique}"
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(StackName=name, TemplateBody=template(), Capabilities=["CAPABILITY_IAM"])
    function_name = wait_for_stack(cloudformation, name)["FunctionName"]
    assert greet(aws, function_name) == "hello"

    cloudformation.update_stack(StackName=name, TemplateBody=template(),
                                Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "bonjour"}])
    wait_for_stack(cloudformation, name, "stack_update_complete")
    assert greet(aws, function_name) == "bonjour"

    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig={"Delay": 1})
    with pytest.raises(ClientError) as raised:
        aws("lambda").get_function(FunctionName=function_name)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_update_adding_an_unsupported_resource_is_refused_and_keeps_the_stack(aws, unique):
    name = f"refused-update-{unique}"
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(StackName=name, TemplateBody=template())
    function_name = wait_for_stack(cloudformation, name)["FunctionName"]
    cloudformation.update_stack(StackName=name, TemplateBody=template(UNSUPPORTED))
    stack = settled(cloudformation, name)
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    reason = next(e["ResourceStatusReason"] for e in events(aws, name) if e["ResourceStatus"] == "UPDATE_FAILED")
    assert "AWS::EC2::VPC" in reason
    assert greet(aws, function_name) == "hello"


def test_awscli_deploy_uses_change_sets_for_create_and_update(cloud, aws, unique, tmp_path):
    name = f"cli-{unique}"
    template_file = tmp_path / "template.yml"
    template_file.write_text(template())
    env = {**os.environ, **cloud.env}

    def deploy(*overrides: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "awscli", "cloudformation", "deploy", "--stack-name", name,
                   "--template-file", str(template_file), "--capabilities", "CAPABILITY_IAM"]
        if overrides:
            command += ["--parameter-overrides", *overrides]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    created = deploy()
    assert created.returncode == 0, created.stderr
    function_name = aws("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["Outputs"][0]["OutputValue"]
    assert greet(aws, function_name) == "hello"
    updated = deploy("Greeting=hola")
    assert updated.returncode == 0, updated.stderr
    assert greet(aws, function_name) == "hola"

    template_file.write_text(template(UNSUPPORTED))
    refused = deploy()
    assert refused.returncode != 0
    assert greet(aws, function_name) == "hola"


def test_awscli_create_stack_reports_lint_errors(cloud, unique, tmp_path):
    template_file = tmp_path / "bad.yml"
    template_file.write_text(template().replace("python3.12", "python9"))
    result = subprocess.run(
        [sys.executable, "-m", "awscli", "cloudformation", "create-stack", "--stack-name", f"bad-{unique}",
         "--template-body", f"file://{template_file}"],
        env={**os.environ, **cloud.env}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "ValidationError" in result.stderr and "E3030" in result.stderr


SLOW_ENDPOINT = """
Parameters:
  ModelDataUrl: {Type: String}
Resources:
  Model:
    Type: AWS::SageMaker::Model
    Properties:
      ExecutionRoleArn: arn:aws:iam::123456789012:role/SageMakerRole
      PrimaryContainer:
        Image: 382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1
        ModelDataUrl: !Ref ModelDataUrl
  Config:
    Type: AWS::SageMaker::EndpointConfig
    Properties:
      ProductionVariants:
        - {VariantName: AllTraffic, ModelName: !GetAtt Model.ModelName, InitialInstanceCount: 1,
           InstanceType: ml.m5.large}
  Endpoint:
    Type: AWS::SageMaker::Endpoint
    Properties:
      EndpointConfigName: !GetAtt Config.EndpointConfigName
Outputs:
  EndpointName:
    Value: !GetAtt Endpoint.EndpointName
"""


def test_stacks_work_in_the_background_and_are_seen_in_progress(aws, unique):
    """CreateStack and DeleteStack answer at once, as on AWS; an endpoint keeps the stack CREATE_IN_PROGRESS
    (without outputs) until it is in service, instead of holding the CreateStack call open."""
    s3, cloudformation = aws("s3"), aws("cloudformation")
    bucket, name = f"async-{unique}", f"async-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(FIXTURES / "linear-learner-regressor-real" / "model.tar.gz"), bucket, "model.tar.gz")
    cloudformation.create_stack(StackName=name, TemplateBody=SLOW_ENDPOINT, Parameters=[
        {"ParameterKey": "ModelDataUrl", "ParameterValue": f"s3://{bucket}/model.tar.gz"}])
    seen = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert seen["StackStatus"] == "CREATE_IN_PROGRESS"
    assert "Outputs" not in seen
    outputs = wait_for_stack(cloudformation, name)
    assert aws("sagemaker").describe_endpoint(EndpointName=outputs["EndpointName"])["EndpointStatus"] == "InService"
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in
                cloudformation.describe_stack_events(StackName=name)["StackEvents"]]
    assert ("Endpoint", "CREATE_IN_PROGRESS") in statuses and ("Endpoint", "CREATE_COMPLETE") in statuses

    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig={"Delay": 1})
    assert not aws("sagemaker").list_endpoints(NameContains=outputs["EndpointName"])["Endpoints"]


def test_stack_tags_reach_every_resource_that_takes_tags(aws, unique):
    """CloudFormation propagates a stack's tags to its resources; clean-up finds the workshop's resources by them."""
    template = """
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Model:
    Type: AWS::SageMaker::Model
    Properties:
      ExecutionRoleArn: arn:aws:iam::123456789012:role/SageMakerRole
      PrimaryContainer:
        Image: 382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1
      Tags:
        - {Key: module, Value: "03"}
Outputs:
  TopicArn: {Value: !Ref Topic}
  ModelArn: {Value: !Ref Model}
"""
    cloudformation, name = aws("cloudformation"), f"tagged-{unique}"
    cloudformation.create_stack(StackName=name, TemplateBody=template,
                                Tags=[{"Key": "workshop", "Value": "serverless-ml"}])
    outputs = wait_for_stack(cloudformation, name)
    model_tags = {t["Key"]: t["Value"] for t in aws("sagemaker").list_tags(ResourceArn=outputs["ModelArn"])["Tags"]}
    assert model_tags == {"module": "03", "workshop": "serverless-ml"}
    topic_tags = aws("sns").list_tags_for_resource(ResourceArn=outputs["TopicArn"])["Tags"]
    assert {"Key": "workshop", "Value": "serverless-ml"} in topic_tags


def test_cdk_metadata_is_created_as_the_no_op_it_is(aws, unique):
    """Every CDK-synthesised template carries AWS::CDK::Metadata; AWS creates it and does nothing (issue 16).
    Anything else localcloud cannot create still fails the stack (see the EC2 test above)."""
    template = """
Resources:
  CDKMetadata:
    Type: AWS::CDK::Metadata
    Properties:
      Analytics: v2:deflate64:H4sIAAAAAAAA/zPSMzQ21TNQTCwv1k1OydbNyUzNK0gtKtYrzs9NLCgq0k3Oz9Urz0vVy0/PLNbPTq0s0Ssu
  Topic:
    Type: AWS::SNS::Topic
Outputs:
  TopicArn: {Value: !Ref Topic}
"""
    name = f"cdk-{unique}"
    aws("cloudformation").create_stack(StackName=name, TemplateBody=template)
    assert wait_for_stack(aws("cloudformation"), name)["TopicArn"].startswith("arn:aws:sns:")
    statuses = {r["LogicalResourceId"]: r["ResourceStatus"] for r in
                aws("cloudformation").describe_stack_resources(StackName=name)["StackResources"]}
    assert statuses["CDKMetadata"] == "CREATE_COMPLETE"
