"""Module 5's templates and function on localcloud: the break-glass stack created and its table loaded with the
awscli commands the README gives, then the API's contract: a known pair's probability is InvokeEndpoint's
on the pair's feature string, an unknown pair is a 404, a malformed body a 400, a failing model a 502, the
CORS preflight is answered, and every answer carries CORS headers.

The endpoint serves a real XGBoost artifact trained here on seeded random rows of 18 features: these tests
check the wiring and the refusals; the notebook checks the model."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import requests
import xgboost

from tests.localcloud.conftest import run, wait_for_stack

FEATURE_COUNT = 18
# The README's example pair and its feature string (the first test pair of the notebook).
USER_ID, PRODUCT_ID = 13, 76
FEATURE = "3,3,7,3.66667,7,130,21.6667,23,12,0.55,216,0.5,3.27273,0.694444,3.28571,0.428571,0,0.6"
STACK = "workshop-05-breakglass"


def model_artifact(seed: int = 5) -> bytes:
    """A model.tar.gz as SageMaker's XGBoost writes it: ``xgboost-model`` (UBJSON), binary:logistic, 18 features."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(400, FEATURE_COUNT))
    labels = (rows[:, 0] + 0.5 * rows[:, 15] + rng.normal(scale=0.5, size=400) > 0).astype(int)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3, "seed": seed, "nthread": 1},
                            xgboost.DMatrix(rows, label=labels), num_boost_round=10)
    model = bytes(booster.save_raw("ubj"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        member = tarfile.TarInfo("xgboost-model")
        member.size = len(model)
        archive.addfile(member, io.BytesIO(model))
    return buffer.getvalue()



def aws_cli(*arguments: str, env: dict) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "awscli", *arguments], env)


def put_item_json(user_id: int, product_id: int, feature: str) -> str:
    return json.dumps({"user_id": {"N": str(user_id)}, "product_id": {"N": str(product_id)}, "feature": {"S": feature}})




@pytest.fixture(scope="module")
def breakglass(cloud, aws, base):
    """The README's commands: upload the function, create the stack, wait, load the table; deleted afterwards."""
    bucket = base["BucketName"]
    aws("s3").put_object(Bucket=bucket, Key="breakglass/imba/model.tar.gz", Body=model_artifact())
    env = {**os.environ, **cloud.env}
    code_key = run([sys.executable, "-m", "workshop.lambdas", "upload", "imba_predict", f"s3://{bucket}/lambda/"],
                   env).stdout.strip()
    assert code_key == "lambda/imba_predict.zip"
    aws_cli("cloudformation", "create-stack", "--stack-name", STACK,
            "--template-body", "file://cloudformation/breakglass/05_imba.yml",
            "--parameters", f"ParameterKey=ModelDataUrl,ParameterValue=s3://{bucket}/breakglass/imba/model.tar.gz",
            f"ParameterKey=CodeKey,ParameterValue={code_key}", "--capabilities", "CAPABILITY_IAM",
            "--tags", "Key=workshop,Value=serverless-ml", env=env)
    aws_cli("cloudformation", "wait", "stack-create-complete", "--stack-name", STACK, env=env)
    outputs = wait_for_stack(aws("cloudformation"), STACK)
    assert aws("dynamodb").scan(TableName=outputs["TableName"])["Count"] == 0, "the table starts empty"
    aws_cli("dynamodb", "put-item", "--table-name", "imba-breakglass", "--item",
            put_item_json(USER_ID, PRODUCT_ID, FEATURE), env=env)
    yield outputs | {"url": f"{cloud.endpoint_url}/_aws/execute-api/{outputs['ApiId']}/test/predict"}

    aws_cli("cloudformation", "delete-stack", "--stack-name", STACK, env=env)
    aws_cli("cloudformation", "wait", "stack-delete-complete", "--stack-name", STACK, env=env)
    assert "workshop-imba-breakglass" not in [e["EndpointName"] for e in aws("sagemaker").list_endpoints()["Endpoints"]]
    assert "imba-breakglass" not in aws("dynamodb").list_tables()["TableNames"]


def assert_cors(answer: requests.Response) -> None:
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_the_breakglass_stack_is_tagged_and_its_table_and_role_are_as_documented(aws, breakglass):
    assert breakglass["EndpointName"] == "workshop-imba-breakglass"
    assert breakglass["FunctionName"] == "imba_predict_breakglass"
    table = aws("dynamodb").describe_table(TableName=breakglass["TableName"])["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"user_id": "HASH", "product_id": "RANGE"}
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
        "user_id": "N", "product_id": "N"}
    stack = aws("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert {"Key": "workshop", "Value": "serverless-ml"} in stack["Tags"]
    configuration = aws("lambda").get_function_configuration(FunctionName=breakglass["FunctionName"])
    assert configuration["Environment"]["Variables"] == {
        "ENDPOINT_NAME": "workshop-imba-breakglass", "TABLE_NAME": "imba-breakglass", "THRESHOLD": "0.5"}


@pytest.mark.parametrize("send", [
    {"data": f"{USER_ID},{PRODUCT_ID}"},
    {"data": json.dumps(f"{USER_ID},{PRODUCT_ID}"), "headers": {"Content-Type": "application/json"}},
    {"json": {"user_id": USER_ID, "product_id": PRODUCT_ID}},
])
def test_a_known_pair_answers_what_the_endpoint_says_for_its_feature_string(aws, breakglass, send):
    answer = requests.post(breakglass["url"], timeout=60, **send)
    assert answer.status_code == 200, answer.text
    assert_cors(answer)
    direct = float(aws("sagemaker-runtime").invoke_endpoint(
        EndpointName="workshop-imba-breakglass", ContentType="text/csv", Body=FEATURE)["Body"].read())
    assert answer.json() == {"user_id": USER_ID, "product_id": PRODUCT_ID, "probability": direct,
                             "reordered": direct >= 0.5, "threshold": 0.5}


def test_an_unknown_pair_is_a_404_with_cors_headers(breakglass):
    answer = requests.post(breakglass["url"], data=f"{USER_ID},999999", timeout=60)
    assert answer.status_code == 404
    assert_cors(answer)
    assert answer.json()["message"].startswith(f"No features for user {USER_ID} and product 999999")


@pytest.mark.parametrize("body", ["13;76", "", "13,76,1", '{"user_id": 13}', "0,76", "[" * 3000])
def test_a_malformed_body_is_a_400_with_cors_headers(breakglass, body):
    answer = requests.post(breakglass["url"], data=body, timeout=60)
    assert answer.status_code == 400, answer.text
    assert_cors(answer)
    assert answer.json()["message"]


def test_the_cors_preflight_is_answered(breakglass):
    answer = requests.options(breakglass["url"], timeout=60, headers={
        "Origin": "http://localhost:8000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert answer.status_code == 204
    assert_cors(answer)
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert "content-type" in answer.headers["Access-Control-Allow-Headers"].lower()


def test_a_feature_string_the_model_refuses_is_a_502_with_cors_headers(aws, breakglass):
    aws("dynamodb").put_item(TableName="imba-breakglass", Item=json.loads(
        put_item_json(USER_ID, 1, ",".join(["x"] * FEATURE_COUNT))))
    answer = requests.post(breakglass["url"], data=f"{USER_ID},1", timeout=60)
    assert answer.status_code == 502
    assert_cors(answer)
    assert answer.json()["message"].startswith("The prediction service could not answer")


def test_other_methods_and_paths_get_api_gateways_own_403(breakglass):
    assert requests.get(breakglass["url"], timeout=60).status_code == 403
    assert requests.post(breakglass["url"].rsplit("/", 1)[0] + "/nothing", data="13,76", timeout=60).status_code == 403
