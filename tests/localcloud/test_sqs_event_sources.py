"""SQS event source mappings: Lambda's poller batches messages, deletes them on success, reports
partial failures, leaves failures to the visibility timeout and the dead-letter queue, and stops
when disabled."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import wait_for, wait_for_stack

RECORDER = """
import json
import os

import boto3

s3 = boto3.client("s3")


def handler(event, context):
    bodies = [record["body"] for record in event["Records"]]
    s3.put_object(Bucket=os.environ["BUCKET"], Key=f"batches/{context.aws_request_id}",
                  Body=json.dumps({"bodies": bodies, "first": event["Records"][0]}))
    failed = [r["messageId"] for r in event["Records"] if json.loads(r["body"]).get("fail")]
    if os.environ.get("MODE") == "raise" and failed:
        raise ValueError(f"{len(failed)} bad messages")
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
"""


@pytest.fixture
def setup(aws, make_function, unique):
    """A bucket where the function records each batch, and a queue with a dead-letter queue."""

    def make(mode: str = "report", max_receive: int = 2, visibility: int = 3) -> dict:
        sqs, s3 = aws("sqs"), aws("s3")
        bucket = f"batches-{unique}"
        s3.create_bucket(Bucket=bucket)
        dlq_url = sqs.create_queue(QueueName=f"dlq-{unique}")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue_url = sqs.create_queue(QueueName=f"rides-{unique}", Attributes={
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive})})["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        function = make_function({"app.py": RECORDER}, Timeout=visibility,
                                 Environment={"Variables": {"BUCKET": bucket, "MODE": mode}})
        return {"bucket": bucket, "queue_url": queue_url, "queue_arn": queue_arn, "dlq_url": dlq_url,
                "function": function}

    return make


def batches(aws, bucket: str) -> list[dict]:
    s3 = aws("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="batches/").get("Contents", [])]
    return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys]


def send(aws, queue_url: str, bodies: list[dict]) -> None:
    for start in range(0, len(bodies), 10):
        aws("sqs").send_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "MessageBody": json.dumps(body)} for i, body in enumerate(bodies[start:start + 10])])


def counts(aws, queue_url: str) -> tuple[int, int]:
    attributes = aws("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return (int(attributes["Attributes"]["ApproximateNumberOfMessages"]),
            int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"]))


def test_messages_arrive_in_batches_shaped_as_aws_sends_them_and_are_deleted(aws, setup):
    env = setup()
    send(aws, env["queue_url"], [{"ride": i} for i in range(25)])
    mapping = aws("lambda").create_event_source_mapping(
        EventSourceArn=env["queue_arn"], FunctionName=env["function"], BatchSize=25,
        MaximumBatchingWindowInSeconds=2)
    assert mapping["BatchSize"] == 25 and mapping["State"] in ("Creating", "Enabled")
    seen = wait_for(lambda: (b := batches(aws, env["bucket"])) and sum(len(x["bodies"]) for x in b) == 25 and b,
                    timeout=30)
    assert len(seen) == 1  # 25 messages fit one batch within the 2-second window
    record = seen[0]["first"]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == env["queue_arn"]
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert set(record) >= {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody"}
    assert wait_for(lambda: counts(aws, env["queue_url"]) == (0, 0), timeout=10)
    aws("lambda").delete_event_source_mapping(UUID=mapping["UUID"])


def test_batch_size_caps_each_invocation(aws, setup):
    env = setup()
    mapping = aws("lambda").create_event_source_mapping(EventSourceArn=env["queue_arn"],
                                                        FunctionName=env["function"], BatchSize=3)
    send(aws, env["queue_url"], [{"ride": i} for i in range(10)])
    seen = wait_for(lambda: (b := batches(aws, env["bucket"])) and sum(len(x["bodies"]) for x in b) == 10 and b,
                    timeout=30)
    assert max(len(batch["bodies"]) for batch in seen) <= 3
    aws("lambda").delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_partial_batch_failure_retries_only_the_failed_message_then_redrives_it(aws, setup):
    env = setup(max_receive=2)
    send(aws, env["queue_url"], [{"ride": 1}, {"ride": 2, "fail": True}, {"ride": 3}])
    mapping = aws("lambda").create_event_source_mapping(
        EventSourceArn=env["queue_arn"], FunctionName=env["function"], BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"])
    dead = wait_for(lambda: aws("sqs").receive_message(QueueUrl=env["dlq_url"], MaxNumberOfMessages=10)
                    .get("Messages"), timeout=30)
    assert [json.loads(m["Body"]) for m in dead] == [{"ride": 2, "fail": True}]
    delivered = [json.loads(body) for batch in batches(aws, env["bucket"]) for body in batch["bodies"]]
    assert delivered.count({"ride": 1}) == 1 and delivered.count({"ride": 3}) == 1
    assert delivered.count({"ride": 2, "fail": True}) == 2  # received maxReceiveCount times
    aws("lambda").delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_failed_invocation_returns_the_whole_batch_until_the_dead_letter_queue(aws, setup):
    env = setup(mode="raise", max_receive=2)
    send(aws, env["queue_url"], [{"ride": 1}, {"ride": 2, "fail": True}])
    mapping = aws("lambda").create_event_source_mapping(EventSourceArn=env["queue_arn"],
                                                        FunctionName=env["function"], BatchSize=10)
    dead = wait_for(lambda: (m := aws("sqs").receive_message(QueueUrl=env["dlq_url"], MaxNumberOfMessages=10,
                                                               VisibilityTimeout=30).get("Messages", [])) and
                    len(m) == 2 and m, timeout=30)
    assert sorted(json.loads(m["Body"])["ride"] for m in dead) == [1, 2]
    aws("lambda").delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_disabled_mapping_stops_delivery_and_enabling_resumes_it(aws, setup):
    env = setup()
    client = aws("lambda")
    mapping = client.create_event_source_mapping(EventSourceArn=env["queue_arn"], FunctionName=env["function"],
                                                 Enabled=False)
    assert mapping["State"] in ("Disabled", "Disabling")
    send(aws, env["queue_url"], [{"ride": 1}])
    time.sleep(2)  # a poller that ignored Enabled=false would have delivered by now
    assert batches(aws, env["bucket"]) == []
    assert counts(aws, env["queue_url"]) == (1, 0)
    client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    wait_for(lambda: batches(aws, env["bucket"]), timeout=15)
    client.delete_event_source_mapping(UUID=mapping["UUID"])
    send(aws, env["queue_url"], [{"ride": 2}])
    time.sleep(2)
    assert len(batches(aws, env["bucket"])) == 1
    assert counts(aws, env["queue_url"]) == (1, 0)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"BatchSize": 100}, "greater than 0 if maximum batch size is greater than 10"),
    ({"BatchSize": 20000, "MaximumBatchingWindowInSeconds": 1}, "BatchSize must be between 1 and 10000"),
    ({"MaximumBatchingWindowInSeconds": 301}, "between 0 and 300"),
])
def test_lambdas_limits_on_batching_are_enforced(aws, setup, arguments, message):
    env = setup()
    with pytest.raises(ClientError) as error:
        aws("lambda").create_event_source_mapping(EventSourceArn=env["queue_arn"], FunctionName=env["function"],
                                                  **arguments)
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert message in error.value.response["Error"]["Message"]


def test_the_queue_must_stay_invisible_longer_than_the_function_may_run(aws, setup, make_function):
    env = setup()
    slow = make_function({"app.py": RECORDER}, Timeout=10)
    with pytest.raises(ClientError) as error:
        aws("lambda").create_event_source_mapping(EventSourceArn=env["queue_arn"], FunctionName=slow)
    assert error.value.response["Error"]["Message"] == \
        "Queue visibility timeout: 3 seconds is less than Function timeout: 10 seconds"


MAPPING_STACK = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  FunctionName: {Type: String}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      EventSourceArn: !GetAtt Queue.Arn
      FunctionName: !Ref FunctionName
      BatchSize: 5
      FunctionResponseTypes: [ReportBatchItemFailures]
Outputs:
  QueueUrl: {Value: !Ref Queue}
  MappingId: {Value: !Ref Mapping}
"""


def test_cloudformation_event_source_mapping_delivers_and_is_deleted_with_the_stack(aws, setup, unique):
    env = setup()
    cloudformation = aws("cloudformation")
    stack = f"mapping-{unique}"
    cloudformation.create_stack(StackName=stack, TemplateBody=MAPPING_STACK, Parameters=[
        {"ParameterKey": "FunctionName", "ParameterValue": env["function"]}])
    outputs = wait_for_stack(cloudformation, stack)
    mapping = aws("lambda").get_event_source_mapping(UUID=outputs["MappingId"])
    assert mapping["BatchSize"] == 5 and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    send(aws, outputs["QueueUrl"], [{"ride": 7}])
    wait_for(lambda: batches(aws, env["bucket"]), timeout=15)
    cloudformation.delete_stack(StackName=stack)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    with pytest.raises(ClientError):
        aws("lambda").get_event_source_mapping(UUID=outputs["MappingId"])
