"""What a function may import, as on AWS: its package, its layers, the runtime's boto3 and the
standard library; AWS's public AWS SDK for pandas layer by ARN; layers from CloudFormation."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import wait_for_stack, zip_sources

PANDAS_LAYER = "arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python312:16"

IMPORTS_NUMPY = """
import numpy as np


def handler(event, context):
    return {"sum": float(np.arange(event["n"]).sum()), "numpy": np.__version__}
"""

PATHS = """
import importlib.util
import sys


def handler(event, context):
    return {"path": sys.path, "found": {name: importlib.util.find_spec(name) is not None for name in event["modules"]}}
"""


def invoke(aws, name: str, event: dict) -> tuple[dict, dict]:
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return json.loads(response["Payload"].read()), response


def test_a_function_that_imports_numpy_without_a_layer_fails_as_on_aws(aws, make_function):
    name = make_function({"app.py": IMPORTS_NUMPY}, Timeout=30)
    payload, response = invoke(aws, name, {"n": 4})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"] == "Unable to import module 'app': No module named 'numpy'"


def test_the_aws_sdk_for_pandas_layer_is_recognised_by_its_arn(aws, make_function):
    name = make_function({"app.py": IMPORTS_NUMPY}, Layers=[PANDAS_LAYER], Timeout=30)
    configuration = aws("lambda").get_function_configuration(FunctionName=name)
    assert [layer["Arn"] for layer in configuration["Layers"]] == [PANDAS_LAYER]
    payload, response = invoke(aws, name, {"n": 4})
    assert "FunctionError" not in response, payload
    assert payload["sum"] == 6.0


def test_only_the_runtimes_packages_and_the_standard_library_are_importable(aws, make_function):
    modules = ["boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "json", "sqlite3",
               "numpy", "pandas", "sklearn", "moto", "localcloud", "mlformats", "workshop", "requests", "yaml"]
    name = make_function({"app.py": PATHS})
    payload, _ = invoke(aws, name, {"modules": modules})
    found = payload["found"]
    assert [m for m in modules if found[m]] == ["boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3",
                                                "json", "sqlite3"]
    assert payload["path"][0].endswith(aws("lambda").get_function(FunctionName=name)["Configuration"]["CodeSha256"]
                                       .replace("/", "_").replace("+", "-"))


def test_the_pandas_layer_brings_pandas_but_not_scikit_learn(aws, make_function):
    name = make_function({"app.py": PATHS}, Layers=[PANDAS_LAYER], Timeout=30)
    found = invoke(aws, name, {"modules": ["numpy", "pandas", "pytz", "sklearn", "scipy"]})[0]["found"]
    assert found == {"numpy": True, "pandas": True, "pytz": True, "sklearn": False, "scipy": False}


def test_layers_merge_in_order_and_apply_at_the_next_cold_start(aws, make_function, unique):
    client = aws("lambda")
    first = client.publish_layer_version(
        LayerName=f"greeting-{unique}", CompatibleRuntimes=["python3.12"],
        Content={"ZipFile": zip_sources({"python/greeting.py": "WORD = 'first'\n",
                                         "python/lib/python3.12/site-packages/shared.py": "SOURCE = 'first'\n"})})
    second = client.publish_layer_version(
        LayerName=f"override-{unique}",
        Content={"ZipFile": zip_sources({"python/greeting.py": "WORD = 'second'\n"})})
    assert first["Version"] == 1 and first["LayerVersionArn"].endswith(f":layer:greeting-{unique}:1")
    assert client.get_layer_version(LayerName=f"greeting-{unique}", VersionNumber=1)["CompatibleRuntimes"] == \
        ["python3.12"]
    assert f"greeting-{unique}" in [layer["LayerName"] for layer in client.list_layers()["Layers"]]

    code = "import greeting, shared\n\ndef handler(event, context):\n    return [greeting.WORD, shared.SOURCE]\n"
    name = make_function({"app.py": code}, Layers=[first["LayerVersionArn"]])
    assert invoke(aws, name, {})[0] == ["first", "first"]
    client.update_function_configuration(FunctionName=name,
                                         Layers=[first["LayerVersionArn"], second["LayerVersionArn"]])
    assert invoke(aws, name, {})[0] == ["second", "first"]
    client.update_function_configuration(FunctionName=name,
                                         Layers=[second["LayerVersionArn"], first["LayerVersionArn"]])
    assert invoke(aws, name, {})[0] == ["first", "first"]


def test_a_layer_over_the_pandas_layer_cannot_write_into_the_installed_packages(aws, make_function, unique):
    client = aws("lambda")
    patch = client.publish_layer_version(
        LayerName=f"numpy-patch-{unique}",
        Content={"ZipFile": zip_sources({"python/numpy/localcloud_probe.py": "HERE = True\n"})})
    code = ("import numpy, numpy.localcloud_probe\n\n"
            "def handler(event, context):\n    return [numpy.localcloud_probe.HERE, float(numpy.ones(2).sum())]\n")
    name = make_function({"app.py": code}, Layers=[PANDAS_LAYER, patch["LayerVersionArn"]], Timeout=30)
    assert invoke(aws, name, {})[0] == [True, 2.0]
    import numpy

    assert not hasattr(numpy, "localcloud_probe")
    with pytest.raises(ModuleNotFoundError):
        __import__("numpy.localcloud_probe")


@pytest.mark.parametrize("arn", [
    "arn:aws:lambda:us-east-1:123456789012:layer:never-published:1",
    "arn:aws:lambda:eu-west-1:336392948345:layer:AWSSDKPandas-Python312:16",  # another region's
    "arn:aws:lambda:us-east-1:999999999999:layer:AWSSDKPandas-Python312:16",  # not AWS's account
])
def test_an_unknown_layer_version_is_refused(aws, make_function, arn):
    with pytest.raises(ClientError) as error:
        make_function({"app.py": IMPORTS_NUMPY}, Layers=[arn])
    assert error.value.response["Error"]["Code"] in ("InvalidParameterValueException", "ResourceNotFoundException")


LAYERED_STACK = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  LayerKey: {Type: String}
  Bucket: {Type: String}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Greeting:
    Type: AWS::Lambda::LayerVersion
    Properties:
      LayerName: stack-greeting
      CompatibleRuntimes: [python3.12]
      Content: {S3Bucket: !Ref Bucket, S3Key: !Ref LayerKey}
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Timeout: 30
      Layers:
        - !Sub arn:${AWS::Partition}:lambda:${AWS::Region}:336392948345:layer:AWSSDKPandas-Python312:16
        - !Ref Greeting
      Code:
        ZipFile: |
          import greeting
          import numpy
          def handler(event, context):
              return [greeting.WORD, int(numpy.arange(3).sum())]
Outputs:
  FunctionName: {Value: !Ref Function}
  LayerArn: {Value: !Ref Greeting}
"""


def test_cloudformation_layer_versions_and_function_layers(aws, unique):
    s3, cloudformation = aws("s3"), aws("cloudformation")
    bucket = f"layers-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="greeting.zip", Body=zip_sources({"python/greeting.py": "WORD = 'stack'\n"}))
    stack = f"layers-{unique}"
    cloudformation.create_stack(StackName=stack, TemplateBody=LAYERED_STACK, Capabilities=["CAPABILITY_IAM"],
                                Parameters=[{"ParameterKey": "Bucket", "ParameterValue": bucket},
                                            {"ParameterKey": "LayerKey", "ParameterValue": "greeting.zip"}])
    outputs = wait_for_stack(cloudformation, stack)
    assert outputs["LayerArn"].endswith(":layer:stack-greeting:1")
    assert invoke(aws, outputs["FunctionName"], {})[0] == ["stack", 3]
    cloudformation.delete_stack(StackName=stack)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    versions = aws("lambda").list_layer_versions(LayerName="stack-greeting")["LayerVersions"]
    assert versions == []
