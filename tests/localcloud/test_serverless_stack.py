"""The acceptance stack: one template wiring Lambda, API Gateway, S3, SNS, SQS and DynamoDB."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.localcloud.conftest import FUNCTIONS, TEMPLATES, wait_for, wait_for_stack, zip_sources


@pytest.fixture(scope="module")
def stack(aws):
    aws("s3").create_bucket(Bucket="acceptance-code")
    aws("s3").put_object(
        Bucket="acceptance-code", Key="api.zip", Body=zip_sources({"api.py": (FUNCTIONS / "api.py").read_text()})
    )
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(
        StackName="acceptance",
        TemplateBody=(TEMPLATES / "serverless_app.yml").read_text(),
        Parameters=[
            {"ParameterKey": "CodeBucket", "ParameterValue": "acceptance-code"},
            {"ParameterKey": "CodeKey", "ParameterValue": "api.zip"},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    yield wait_for_stack(cloudformation, "acceptance")
    cloudformation.delete_stack(StackName="acceptance")


def recorded_keys(aws, table: str) -> set[str]:
    return {item["pk"]["S"] for item in aws("dynamodb").scan(TableName=table)["Items"]}


def test_every_resource_is_reported_created(aws, stack):
    resources = aws("cloudformation").describe_stack_resources(StackName="acceptance")["StackResources"]
    assert {r["LogicalResourceId"] for r in resources} >= {
        "Table", "FunctionRole", "RecorderFunction", "ApiFunction", "Api", "ItemsResource", "ItemsPost",
        "Deployment", "Stage", "ApiPermission", "UploadBucket", "Topic", "Queue", "TopicToLambda", "TopicToQueue",
    }
    stage = aws("apigateway").get_stage(restApiId=stack["ApiId"], stageName="test")
    assert stage["variables"] == {"flavour": "acceptance"}
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 50
    notification = aws("s3").get_bucket_notification_configuration(Bucket=stack["BucketName"])
    rules = notification["LambdaFunctionConfigurations"][0]["Filter"]["Key"]["FilterRules"]
    assert {(r["Name"].lower(), r["Value"]) for r in rules} == {("prefix", "birds/"), ("suffix", ".jpg")}


@pytest.mark.parametrize("url_form", ["path", "host", "user_request"])
def test_post_to_the_stage_runs_the_lambda_that_reads_the_table(aws, cloud, stack, url_form):
    aws("dynamodb").put_item(TableName=stack["TableName"], Item={"pk": {"S": "seed"}})
    api_id, port = stack["ApiId"], cloud.port
    url = {
        "path": f"{cloud.endpoint_url}/_aws/execute-api/{api_id}/test/items",
        "host": f"http://{api_id}.execute-api.localhost:{port}/test/items",
        "user_request": f"{cloud.endpoint_url}/restapis/{api_id}/test/_user_request_/items",
    }[url_form]
    # Browsers resolve *.localhost to loopback; requests does not, so connect to 127.0.0.1 with that Host.
    headers = {"Host": f"{api_id}.execute-api.localhost:{port}"} if url_form == "host" else {}
    if url_form == "host":
        url = f"{cloud.endpoint_url}/test/items"
    response = requests.post(url, json={"hello": "world"}, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert "seed" in body["items"]
    assert body["echo"] == {"hello": "world"}
    assert body["stage"] == "test"
    assert body["stageVariables"] == {"flavour": "acceptance"}
    assert body["path"] == "/items"


def test_upload_under_birds_invokes_the_notified_lambda_and_other_keys_do_not(aws, stack):
    s3, table = aws("s3"), stack["TableName"]
    s3.put_object(Bucket=stack["BucketName"], Key="other/x.png", Body=b"not a bird")
    s3.put_object(Bucket=stack["BucketName"], Key="birds/x.jpg", Body=b"a bird")
    wait_for(lambda: "s3#birds/x.jpg" in recorded_keys(aws, table))
    time.sleep(0.5)  # a wrongly matched other/x.png was queued first and would be recorded by now
    keys = recorded_keys(aws, table)
    assert "s3#other/x.png" not in keys
    item = aws("dynamodb").get_item(TableName=table, Key={"pk": {"S": "s3#birds/x.jpg"}})["Item"]
    record = json.loads(item["event"]["S"])
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == stack["BucketName"]
    assert record["s3"]["object"]["size"] == len(b"a bird")


def test_sns_publish_reaches_the_lambda_and_the_queue(aws, stack):
    aws("sns").publish(TopicArn=stack["TopicArn"], Message="chirp", Subject="birdsong")
    wait_for(lambda: "sns#chirp" in recorded_keys(aws, stack["TableName"]))
    item = aws("dynamodb").get_item(TableName=stack["TableName"], Key={"pk": {"S": "sns#chirp"}})["Item"]
    record = json.loads(item["event"]["S"])
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["TopicArn"] == stack["TopicArn"]
    assert record["Sns"]["Subject"] == "birdsong"
    assert record["EventSubscriptionArn"].startswith(stack["TopicArn"] + ":")

    messages = aws("sqs").receive_message(QueueUrl=stack["QueueUrl"], WaitTimeSeconds=5)["Messages"]
    envelope = json.loads(messages[0]["Body"])
    assert envelope["Message"] == "chirp"
    assert envelope["TopicArn"] == stack["TopicArn"]
