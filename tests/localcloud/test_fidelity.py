"""Where localcloud used to be more lenient than AWS: each test reproduces what AWS answers, and names
where AWS documents it, so that code that passes offline also passes on AWS."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


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
