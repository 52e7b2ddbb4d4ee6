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
