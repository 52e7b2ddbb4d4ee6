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
