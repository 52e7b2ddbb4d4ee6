"""Deliveries between services obey the destination's resource policy, as on AWS: what passes offline
must pass on AWS, where a missing queue policy or Lambda permission loses messages or fails a deployment."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import failure_reasons, settled, wait_for, wait_for_stack

UNVALIDATED = "Unable to validate the following destination configurations"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def queue(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_sns_delivers_to_a_queue_only_where_the_queue_policy_allows_the_topic(aws, unique):
    """SNS sends to a subscribed queue only when the queue policy allows sqs:SendMessage to
    sns.amazonaws.com (or to anyone) for the topic (aws:SourceArn, aws:SourceAccount); subscribing the
    queue grants nothing, a Deny wins over an Allow, and a message the queue refuses is lost
    (https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html, step 2;
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""
    sns, sqs = aws("sns"), aws("sqs")
    account = aws("sts").get_caller_identity()["Account"]
    topic = sns.create_topic(Name=f"permissions-{unique}")["TopicArn"]
    other_topic = topic.replace(f"permissions-{unique}", f"other-{unique}")

    def sns_may_send(arn: str, **condition) -> dict:
        return {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                "Resource": arn, **({"Condition": condition} if condition else {})}

    cases = {
        # name: (the queue policy for the queue's ARN, whether SNS delivers)
        "none": (lambda arn: None, False),
        "service-for-topic": (lambda arn: policy(sns_may_send(arn, ArnEquals={"aws:SourceArn": topic})), True),
        "service-any-source": (lambda arn: policy(sns_may_send(arn)), True),
        "anyone-for-topics-like": (lambda arn: policy({
            "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "SQS:*", "Resource": arn,
            "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{account}:permissions-*"}}}), True),
        "anyone-from-account": (lambda arn: policy({
            "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account}}}), True),
        "other-topic": (lambda arn: policy(sns_may_send(arn, ArnEquals={"aws:SourceArn": other_topic})), False),
        "other-account": (lambda arn: policy(sns_may_send(arn, StringEquals={"aws:SourceAccount": "111122223333"})),
                          False),
        "account-principal": (lambda arn: policy({"Effect": "Allow", "Principal": {"AWS": account},
                                                  "Action": "sqs:SendMessage", "Resource": arn}), False),
        "other-action": (lambda arn: policy({**sns_may_send(arn), "Action": "sqs:ReceiveMessage"}), False),
        "other-resource": (lambda arn: policy(sns_may_send(arn + "-elsewhere")), False),
        "denied": (lambda arn: policy(sns_may_send(arn), {**sns_may_send(arn), "Effect": "Deny"}), False),
    }
    queues = {}
    for name, (make_policy, _) in cases.items():
        url, arn = queue(sqs, f"{name}-{unique}")
        if make_policy(arn):
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": make_policy(arn)})
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        queues[name] = url

    sns.publish(TopicArn=topic, Message="a bird")

    # One publish delivers to every queue at once: once the allowed ones have it, the others never will.
    expected = sorted(cases, key=lambda name: not cases[name][1])
    delivered = {name: [m["Body"] for m in sqs.receive_message(QueueUrl=queues[name], MaxNumberOfMessages=10,
                                                                WaitTimeSeconds=2 if cases[name][1] else 0).get(
                                                                    "Messages", [])]
                 for name in expected}
    assert delivered == {name: ["a bird"] if delivers else [] for name, (_, delivers) in cases.items()}
    sns.delete_topic(TopicArn=topic)
    for url in queues.values():
        sqs.delete_queue(QueueUrl=url)


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return {**caught.value.response["Error"], "Status": caught.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def test_s3_validates_each_notification_destination_against_its_policy(aws, unique, make_function):
    """PutBucketNotificationConfiguration checks that S3 may deliver to every destination: a queue policy
    allowing sqs:SendMessage, a topic policy allowing sns:Publish, a function policy allowing
    lambda:InvokeFunction to s3.amazonaws.com for the bucket (aws:SourceArn) and its account
    (aws:SourceAccount); otherwise 400 InvalidArgument naming each refused destination in
    ArgumentName<n>/ArgumentValue<n>, unless SkipDestinationValidation
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketNotificationConfiguration.html,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html)."""
    s3, sqs, sns, awslambda = aws("s3"), aws("sqs"), aws("sns"), aws("lambda")
    account = aws("sts").get_caller_identity()["Account"]
    bucket = f"validated-{unique}"
    bucket_arn = f"arn:aws:s3:::{bucket}"
    s3.create_bucket(Bucket=bucket)
    queue_url, queue_arn = queue(sqs, f"validated-{unique}")
    missing_queue = queue_arn + "-missing"
    topic = sns.create_topic(Name=f"validated-{unique}")["TopicArn"]  # its default policy: the owner's account
    function_arn = awslambda.get_function(FunctionName=make_function({"app.py": "def handler(e, c):\n    pass\n"}))[
        "Configuration"]["FunctionArn"]
    configuration = {
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]},
                                {"QueueArn": missing_queue, "Events": ["s3:ObjectRemoved:*"]}],
        "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}],
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]}],
    }
    refused = error_of(s3.put_bucket_notification_configuration, Bucket=bucket,
                       NotificationConfiguration=configuration)
    assert refused == {
        "Status": 400, "Code": "InvalidArgument", "Message": UNVALIDATED,
        "ArgumentName1": topic,
        "ArgumentValue1": "Permissions on the destination topic do not allow S3 to publish notifications from "
                          "this bucket",
        "ArgumentName2": queue_arn,
        "ArgumentValue2": "Permissions on the destination queue do not allow S3 to publish notifications from "
                          "this bucket",
        "ArgumentName3": missing_queue, "ArgumentValue3": "The destination queue does not exist",
        "ArgumentName4": f"{function_arn}, null",
        "ArgumentValue4": f"Not authorized to invoke function [{function_arn}]",
    }
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)

    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration,
                                             SkipDestinationValidation=True)
    assert len(s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]) == 2

    s3_may = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
              "Condition": {"ArnLike": {"aws:SourceArn": bucket_arn}, "StringEquals": {"aws:SourceAccount": account}}}
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": policy(
        {**s3_may, "Action": "sqs:SendMessage", "Resource": queue_arn})})
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=policy(
        {**s3_may, "Action": "sns:Publish", "Resource": topic}))
    awslambda.add_permission(FunctionName=function_arn, StatementId="other-bucket", Action="lambda:InvokeFunction",
                             Principal="s3.amazonaws.com", SourceArn=f"{bucket_arn}-other", SourceAccount=account)
    granted = {**configuration, "QueueConfigurations": configuration["QueueConfigurations"][:1]}
    refused = error_of(s3.put_bucket_notification_configuration, Bucket=bucket, NotificationConfiguration=granted)
    assert (refused["ArgumentName1"], "ArgumentName2" in refused) == (f"{function_arn}, null", False)

    awslambda.add_permission(FunctionName=function_arn, StatementId="this-bucket", Action="lambda:InvokeFunction",
                             Principal="s3.amazonaws.com", SourceArn=bucket_arn, SourceAccount=account)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=granted)
    stored = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert [c["QueueArn"] for c in stored["QueueConfigurations"]] == [queue_arn]
    assert [c["LambdaFunctionArn"] for c in stored["LambdaFunctionConfigurations"]] == [function_arn]

    missing_bucket = error_of(s3.put_bucket_notification_configuration, Bucket=f"{bucket}-missing",
                              NotificationConfiguration=granted)
    assert (missing_bucket["Status"], missing_bucket["Code"]) == (404, "NoSuchBucket")


NOTIFYING_BUCKET = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Recorder:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
          def handler(event, context):
              return event
  S3MayInvoke:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref Recorder
      Principal: PRINCIPAL
      SourceAccount: !Ref AWS::AccountId
      SourceArn: !Sub arn:${AWS::Partition}:s3:::BUCKET
  Uploads:
    Type: AWS::S3::Bucket
    DependsOn: S3MayInvoke
    Properties:
      BucketName: BUCKET
      NotificationConfiguration:
        LambdaConfigurations:
          - Event: s3:ObjectCreated:*
            Function: !GetAtt Recorder.Arn
"""


def test_cloudformation_bucket_notifications_need_the_permission_first(aws, unique):
    """A bucket's NotificationConfiguration is validated when CloudFormation creates the bucket, so the
    AWS::Lambda::Permission must exist first (DependsOn); without a permission for S3 the bucket fails with
    "Unable to validate the following destination configurations" and the stack rolls back, bucket included
    (https://repost.aws/knowledge-center/unable-validate-circular-dependency-cloudformation,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-s3-bucket-notificationconfiguration.html)."""
    cloudformation, s3 = aws("cloudformation"), aws("s3")
    bucket = f"cfn-notify-{unique}"
    cloudformation.create_stack(StackName=f"notify-denied-{unique}", Capabilities=["CAPABILITY_IAM"],
                                TemplateBody=NOTIFYING_BUCKET.replace("PRINCIPAL", "sns.amazonaws.com").replace("BUCKET", bucket))
    status = settled(cloudformation, f"notify-denied-{unique}")["StackStatus"]
    reasons = failure_reasons(cloudformation, f"notify-denied-{unique}")
    assert status == "ROLLBACK_COMPLETE", reasons
    assert any(reason.startswith("Uploads CREATE_FAILED") and UNVALIDATED in reason for reason in reasons), reasons
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    cloudformation.create_stack(StackName=f"notify-granted-{unique}", Capabilities=["CAPABILITY_IAM"],
                                TemplateBody=NOTIFYING_BUCKET.replace("PRINCIPAL", "s3.amazonaws.com").replace("BUCKET", bucket))
    wait_for_stack(cloudformation, f"notify-granted-{unique}")
    configured = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    assert [c["Events"] for c in configured] == [["s3:ObjectCreated:*"]]
    for stack in (f"notify-denied-{unique}", f"notify-granted-{unique}"):
        cloudformation.delete_stack(StackName=stack)


def test_sns_invokes_a_subscribed_function_only_with_its_permission(aws, unique, make_function):
    """SNS invokes a subscribed function only when the function's resource policy allows
    lambda:InvokeFunction to sns.amazonaws.com for the topic; without it the message is lost
    (https://docs.aws.amazon.com/sns/latest/dg/sns-lambda-as-subscriber.html,
    https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html)."""
    sns, awslambda, logs = aws("sns"), aws("lambda"), aws("logs")
    topic = sns.create_topic(Name=f"invoking-{unique}")["TopicArn"]
    recorder = {"app.py": "def handler(event, context):\n    print('GOT ' + event['Records'][0]['Sns']['Message'])\n"}
    permitted, unpermitted = make_function(recorder), make_function(recorder)
    awslambda.add_permission(FunctionName=permitted, StatementId="sns", Action="lambda:InvokeFunction",
                             Principal="sns.amazonaws.com", SourceArn=topic)
    awslambda.add_permission(FunctionName=unpermitted, StatementId="other-topic", Action="lambda:InvokeFunction",
                             Principal="sns.amazonaws.com", SourceArn=f"{topic}-other")
    for name in (permitted, unpermitted):
        arn = awslambda.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)

    sns.publish(TopicArn=topic, Message="a heron")

    def printed(name: str) -> list[str]:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except ClientError:  # no log group: never invoked
            return []
        return [e["message"].strip() for e in events if e["message"].startswith("GOT")]

    assert wait_for(lambda: printed(permitted)) == ["GOT a heron"]
    assert printed(unpermitted) == []  # SNS refused it while publishing, before the other was invoked
    sns.delete_topic(TopicArn=topic)


def test_s3_delivers_an_event_only_while_the_destination_policy_allows_it(aws, unique):
    """S3 sends each event under the destination's policy of the moment: a configuration stored with
    SkipDestinationValidation, or a queue whose policy no longer allows the bucket, receives nothing
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketNotificationConfiguration.html,
    SkipDestinationValidation; https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html)."""
    s3, sqs = aws("s3"), aws("sqs")
    bucket = f"deliveries-{unique}"
    s3.create_bucket(Bucket=bucket)
    queue_url, queue_arn = queue(sqs, f"deliveries-{unique}")
    s3.put_bucket_notification_configuration(Bucket=bucket, SkipDestinationValidation=True, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]})

    def keys_received(wait: int) -> list[str]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get(
            "Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [r["s3"]["object"]["key"] for m in messages for r in json.loads(m["Body"]).get("Records", [])]

    s3.put_object(Bucket=bucket, Key="unallowed.csv", Body=b"1")
    assert keys_received(0) == []  # S3 sends synchronously here: nothing is on its way
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": policy({
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue_arn, "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}}})})
    s3.put_object(Bucket=bucket, Key="allowed.csv", Body=b"2")
    assert keys_received(2) == ["allowed.csv"]
