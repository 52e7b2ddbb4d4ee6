"""The moto internals IoT rule actions write through, checked when localcloud starts.

The rule actions call moto's service backends in-process (a rule's SQS message is the queue's
message, not a copy); :func:`install` makes sure each method still takes what the actions pass, so a
moto upgrade that reshapes one stops localcloud at start-up instead of failing a rule later.
"""

from __future__ import annotations

from moto.dynamodb.models import DynamoDBBackend
from moto.s3.models import S3Backend
from moto.sns.models import SNSBackend
from moto.sqs.models import SQSBackend

from localcloud import motoadapter


def install() -> None:
    motoadapter.require(SQSBackend, "send_message", ("self", "queue_name", "message_body"))
    motoadapter.require(SNSBackend, "publish", ("self", "message", "arn"))
    motoadapter.require(DynamoDBBackend, "put_item", ("self", "table_name", "item_attrs"))
    motoadapter.require(DynamoDBBackend, "delete_item", ("self", "table_name", "key"))
    motoadapter.require(S3Backend, "put_object", ("self", "bucket_name", "key_name", "value"))
