"""S3 event notifications configured through the API, to SQS and SNS targets, with key filters."""

from __future__ import annotations

import json


def allow(service: str, action: str, resource: str, source_arn: str) -> str:
    """The resource policy AWS documents for a service delivering to a queue or topic."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": action, "Resource": resource,
        "Condition": {"ArnLike": {"aws:SourceArn": source_arn}}}]})


def test_notifications_reach_sqs_and_sns_with_filters_and_aws_shaped_records(aws, unique):
    """S3 sends event records to a queue and a topic whose policies allow it, for the keys the filters
    select (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html)."""
    s3, sqs, sns = aws("s3"), aws("sqs"), aws("sns")
    bucket = f"notify-{unique}"
    bucket_arn = f"arn:aws:s3:::{bucket}"
    s3.create_bucket(Bucket=bucket)
    direct = sqs.create_queue(QueueName=f"direct-{unique}")["QueueUrl"]
    via_topic = sqs.create_queue(QueueName=f"via-topic-{unique}")["QueueUrl"]
    arn = lambda url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]  # noqa: E731
    topic = sns.create_topic(Name=f"uploads-{unique}")["TopicArn"]
    sqs.set_queue_attributes(QueueUrl=direct, Attributes={
        "Policy": allow("s3.amazonaws.com", "sqs:SendMessage", arn(direct), bucket_arn)})
    sqs.set_queue_attributes(QueueUrl=via_topic, Attributes={
        "Policy": allow("sns.amazonaws.com", "sqs:SendMessage", arn(via_topic), topic)})
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy",
                             AttributeValue=allow("s3.amazonaws.com", "sns:Publish", topic, bucket_arn))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn(via_topic), Attributes={"RawMessageDelivery": "true"})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn(direct), "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}}],
        "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".csv"}]}}}],
    })
    s3.put_object(Bucket=bucket, Key="elsewhere/skip.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="in/my data.csv", Body=b"a,b")

    def records(queue_url: str) -> list[dict]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
        return [record for m in messages for record in json.loads(m["Body"]).get("Records", [])]

    for queue in (direct, via_topic):
        received = records(queue)
        assert [r["s3"]["object"]["key"] for r in received] == ["in/my+data.csv"]
        record = received[0]
        assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
        assert record["s3"]["bucket"]["name"] == bucket
        assert {"userIdentity", "requestParameters", "responseElements"} <= set(record)
        assert record["s3"]["object"]["sequencer"]
