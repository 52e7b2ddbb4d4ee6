"""Where localcloud used to be more lenient than AWS: each test reproduces what AWS answers, and names
where AWS documents it, so that code that passes offline also passes on AWS."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import wait_for_stack


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]


def test_fifo_suffix_is_for_fifo_queues_only(aws, unique):
    """CreateQueue: "A FIFO queue name must end with the .fifo suffix" and a standard queue's name may
    only hold alphanumerics, hyphens and underscores
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html)."""
    sqs = aws("sqs")
    standard = error_of(sqs.create_queue, QueueName=f"standard-{unique}.fifo")
    assert standard["Code"] == "InvalidParameterValue"
    assert "alphanumeric characters, hyphens, or underscores" in standard["Message"]
    unsuffixed = error_of(sqs.create_queue, QueueName=f"fifo-{unique}", Attributes={"FifoQueue": "true"})
    assert unsuffixed["Code"] == "InvalidParameterValue"
    assert "must end with .fifo suffix" in unsuffixed["Message"]

    fifo_attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true",
                       "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
    url = sqs.create_queue(QueueName=f"fifo-{unique}.fifo", Attributes=fifo_attributes)["QueueUrl"]
    kept = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert {name: kept[name] for name in fifo_attributes} == fifo_attributes
    sqs.delete_queue(QueueUrl=url)


def test_partiql_binds_question_mark_parameters(aws, unique):
    """ExecuteStatement binds each ``?`` to the next of ``Parameters``, in every statement
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ExecuteStatement.html, Parameters;
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.insert.html)."""
    dynamodb = aws("dynamodb")
    table = f"fidelity-{unique}"
    dynamodb.create_table(TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    item = {"pk": {"S": "it's"}, "count": {"N": "3"}, "tags": {"SS": ["a", "b"]},
            "nested": {"M": {"ok": {"BOOL": True}}}}
    dynamodb.execute_statement(Statement=f"INSERT INTO \"{table}\" VALUE {{'pk': ?, 'count': ?, 'tags': ?, 'nested': ?}}",
                               Parameters=[item["pk"], item["count"], item["tags"], item["nested"]])
    assert dynamodb.get_item(TableName=table, Key={"pk": item["pk"]})["Item"] == item

    dynamodb.execute_statement(Statement=f"UPDATE \"{table}\" SET \"count\" = ? WHERE pk = ?",
                               Parameters=[{"N": "4"}, item["pk"]])
    selected = dynamodb.execute_statement(Statement=f"SELECT * FROM \"{table}\" WHERE pk = ?",
                                          Parameters=[item["pk"]])["Items"]
    assert [found["count"] for found in selected] == [{"N": "4"}]

    mismatch = error_of(dynamodb.execute_statement, Statement=f"INSERT INTO \"{table}\" VALUE {{'pk': ?}}",
                        Parameters=[{"S": "x"}, {"S": "y"}])
    assert mismatch["Code"] == "ValidationException"

    dynamodb.execute_statement(Statement=f"DELETE FROM \"{table}\" WHERE pk = ?", Parameters=[item["pk"]])
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": item["pk"]})
    dynamodb.delete_table(TableName=table)


@pytest.mark.parametrize("protocol,endpoint", [("email", "someone@example.com"),
                                               ("email-json", "someone@example.com"),
                                               ("http", "http://127.0.0.1:9/notify"),
                                               ("https", "https://example.com/notify")])
def test_endpoint_subscriptions_wait_for_confirmation(aws, unique, protocol, endpoint):
    """Subscribe answers "pending confirmation" (the ARN only with ReturnSubscriptionArn) for a
    subscription its endpoint must confirm; it reports PendingConfirmation "true", is listed as
    "PendingConfirmation", and ConfirmSubscription refuses a token SNS did not send
    (https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html,
    https://docs.aws.amazon.com/sns/latest/api/API_GetSubscriptionAttributes.html,
    https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.confirm.html)."""
    sns = aws("sns")
    topic = sns.create_topic(Name=f"fidelity-{unique}")["TopicArn"]
    assert sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint)["SubscriptionArn"] == \
        "pending confirmation"
    arn = sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert arn.startswith(f"{topic}:")
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert (attributes["PendingConfirmation"], attributes["ConfirmationWasAuthenticated"]) == ("true", "false")
    assert [found["SubscriptionArn"] for found in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] \
        == ["PendingConfirmation"]
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"] == "1"
    assert error_of(sns.confirm_subscription, TopicArn=topic, Token="0" * 128)["Code"] == "InvalidParameter"
    sns.unsubscribe(SubscriptionArn=arn)
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"] == "0"
    sns.delete_topic(TopicArn=topic)


def test_sqs_subscription_needs_no_confirmation_and_fifo_scope_is_kept(aws, unique):
    """An SQS subscription in the same account is confirmed at once; a FIFO topic keeps
    FifoThroughputScope, "Topic" by default
    (https://docs.aws.amazon.com/sns/latest/api/API_SetTopicAttributes.html, FifoThroughputScope)."""
    sns, sqs = aws("sns"), aws("sqs")
    queue_url = sqs.create_queue(QueueName=f"fidelity-{unique}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=f"fidelity-{unique}")["TopicArn"]
    arn = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "false"

    scoped = sns.create_topic(Name=f"scoped-{unique}.fifo",
                              Attributes={"FifoTopic": "true", "FifoThroughputScope": "MessageGroup"})["TopicArn"]
    assert sns.get_topic_attributes(TopicArn=scoped)["Attributes"]["FifoThroughputScope"] == "MessageGroup"
    default = sns.create_topic(Name=f"default-{unique}.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    assert sns.get_topic_attributes(TopicArn=default)["Attributes"]["FifoThroughputScope"] == "Topic"
    for arn in (topic, scoped, default):
        sns.delete_topic(TopicArn=arn)
    sqs.delete_queue(QueueUrl=queue_url)


ALL_USERS = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'


def test_new_buckets_have_acls_disabled(aws, unique):
    """Since April 2023 a new bucket has ObjectOwnership BucketOwnerEnforced: ACLs that grant anyone
    but the owner fail with AccessControlListNotSupported, owner-only ACLs and reads of ACLs still work
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/ensure-object-ownership.html)."""
    s3 = aws("s3")
    bucket = f"fidelity-enforced-{unique}"
    s3.create_bucket(Bucket=bucket)
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == \
        [{"ObjectOwnership": "BucketOwnerEnforced"}]
    s3.put_object(Bucket=bucket, Key="owned", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    refused = [error_of(s3.put_bucket_acl, Bucket=bucket, ACL="public-read"),
               error_of(s3.put_bucket_acl, Bucket=bucket, GrantRead=ALL_USERS),
               error_of(s3.put_object_acl, Bucket=bucket, Key="owned", GrantRead=ALL_USERS),
               error_of(s3.put_object, Bucket=bucket, Key="public", Body=b"x", ACL="public-read")]
    assert {(error["Code"], error["Message"]) for error in refused} == \
        {("AccessControlListNotSupported", "The bucket does not allow ACLs")}
    assert s3.get_object_acl(Bucket=bucket, Key="owned")["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert error_of(s3.create_bucket, Bucket=f"fidelity-public-{unique}", ACL="public-read")["Code"] == \
        "InvalidBucketAclWithObjectOwnership"


def test_a_bucket_that_asks_for_acls_accepts_them(aws, unique):
    """ObjectWriter and BucketOwnerPreferred, chosen at CreateBucket (x-amz-object-ownership), with
    PutBucketOwnershipControls or in CloudFormation's OwnershipControls, enable ACLs
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html,
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketOwnershipControls.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-s3-bucket-ownershipcontrols.html)."""
    s3, cloudformation = aws("s3"), aws("cloudformation")
    writer = f"fidelity-writer-{unique}"
    s3.create_bucket(Bucket=writer, ACL="public-read", ObjectOwnership="ObjectWriter")
    s3.put_object(Bucket=writer, Key="public", Body=b"x", ACL="public-read")
    grants = s3.get_object_acl(Bucket=writer, Key="public")["Grants"]
    assert {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"} in \
        [grant["Grantee"] for grant in grants]

    preferred = f"fidelity-preferred-{unique}"
    s3.create_bucket(Bucket=preferred)
    s3.put_bucket_ownership_controls(Bucket=preferred, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    s3.put_bucket_acl(Bucket=preferred, GrantRead=ALL_USERS)

    stack = f"fidelity-ownership-{unique}"
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps({"Resources": {"Bucket": {
        "Type": "AWS::S3::Bucket",
        "Properties": {"OwnershipControls": {"Rules": [{"ObjectOwnership": "ObjectWriter"}]}}}},
        "Outputs": {"Bucket": {"Value": {"Ref": "Bucket"}}}}))
    from_template = wait_for_stack(cloudformation, stack)["Bucket"]
    assert s3.get_bucket_ownership_controls(Bucket=from_template)["OwnershipControls"]["Rules"] == \
        [{"ObjectOwnership": "ObjectWriter"}]
    s3.put_bucket_acl(Bucket=from_template, ACL="public-read")
    cloudformation.delete_stack(StackName=stack)


def test_responses_carry_no_display_name(aws, unique):
    """S3 stopped returning Owner and Grantee DisplayName in November 2025
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Owner.html)."""
    s3 = aws("s3")
    bucket = f"fidelity-owner-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="readme.xml", Body=b"<?xml version='1.0'?><DisplayName>kept</DisplayName>")
    owners = [s3.list_buckets()["Owner"],
              s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]["Owner"],
              s3.list_objects(Bucket=bucket)["Contents"][0]["Owner"],
              s3.get_bucket_acl(Bucket=bucket)["Owner"],
              s3.get_object_acl(Bucket=bucket, Key="readme.xml")["Owner"]]
    assert all("ID" in owner and "DisplayName" not in owner for owner in owners)
    assert b"<DisplayName>kept</DisplayName>" in s3.get_object(Bucket=bucket, Key="readme.xml")["Body"].read()


def policy_for(principal: dict, action: str, resource: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource}]})


def test_resource_policies_name_only_principals_that_exist(aws, unique):
    """S3, SQS and SNS resolve each IAM user and role of a resource policy when it is set and refuse a
    policy naming one that does not exist; accounts, account roots and service principals are accepted
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html;
    S3: MalformedPolicy "Invalid principal in policy",
    https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html)."""
    s3, sqs, sns, iam, sts = aws("s3"), aws("sqs"), aws("sns"), aws("iam"), aws("sts")
    account = sts.get_caller_identity()["Account"]
    role = iam.create_role(RoleName=f"fidelity-{unique}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    missing = {"AWS": f"arn:aws:iam::{account}:role/never-created-{unique}"}
    existing = [{"AWS": role}, {"AWS": account}, {"AWS": f"arn:aws:iam::{account}:root"},
                {"AWS": f"arn:aws:sts::{account}:assumed-role/fidelity-{unique}/a-session"},
                {"Service": "sns.amazonaws.com"}, "*"]

    bucket = f"fidelity-policy-{unique}"
    s3.create_bucket(Bucket=bucket)
    bucket_objects = f"arn:aws:s3:::{bucket}/*"
    refused = error_of(s3.put_bucket_policy, Bucket=bucket, Policy=policy_for(missing, "s3:GetObject", bucket_objects))
    assert (refused["Code"], refused["Message"]) == ("MalformedPolicy", "Invalid principal in policy")
    for principal in existing:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy_for(principal, "s3:GetObject", bucket_objects))

    queue_url = sqs.create_queue(QueueName=f"fidelity-policy-{unique}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    refused = error_of(sqs.set_queue_attributes, QueueUrl=queue_url,
                       Attributes={"Policy": policy_for(missing, "sqs:SendMessage", queue_arn)})
    assert refused["Code"] == "InvalidAttributeValue"
    refused = error_of(sqs.create_queue, QueueName=f"fidelity-created-{unique}",
                       Attributes={"Policy": policy_for(missing, "sqs:SendMessage", queue_arn)})
    assert refused["Code"] == "InvalidAttributeValue"
    for principal in existing:
        sqs.set_queue_attributes(QueueUrl=queue_url,
                                 Attributes={"Policy": policy_for(principal, "sqs:SendMessage", queue_arn)})

    topic = sns.create_topic(Name=f"fidelity-policy-{unique}")["TopicArn"]
    refused = error_of(sns.set_topic_attributes, TopicArn=topic, AttributeName="Policy",
                       AttributeValue=policy_for(missing, "sns:Publish", topic))
    assert (refused["Code"], refused["Message"]) == ("InvalidParameter",
                                                     "Invalid parameter: Policy Error: PrincipalNotFound")
    for principal in existing:
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy",
                                 AttributeValue=policy_for(principal, "sns:Publish", topic))

    sns.delete_topic(TopicArn=topic)
    sqs.delete_queue(QueueUrl=queue_url)
    s3.delete_bucket_policy(Bucket=bucket)
    iam.delete_role(RoleName=f"fidelity-{unique}")
