"""Where localcloud changes moto's SQS (each through :mod:`localcloud.motoadapter`).

moto's ``SendMessage`` reads the queue's ``attributes`` to learn whether content-based
deduplication is on, and ``ReceiveMessage`` reads them for each message it returns, to check the
retention period; that property counts every message in the queue three times over (visible, in
flight, delayed). Each send and each received message then costs time in proportion to the
backlog, and a queue that a Lambda pipeline fills with thousands of messages slows to a crawl
(2.8 s a receive with 2 000 waiting).  While a message is sent or received those counts are not
computed: they are never part of what ``SendMessage`` or ``ReceiveMessage`` answers.

``CreateQueue`` refuses a standard queue whose name ends in ``.fifo`` (moto creates it) and words
the refusal of a FIFO queue without the suffix as SQS does.  A queue policy naming a user or role
that does not exist is refused, as SQS does (:mod:`localcloud.iam.principals`).  SNS and S3 send to a
queue only as its policy allows (:mod:`.permissions`).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.sqs.exceptions import InvalidAttributeValue, InvalidParameterValue
from moto.sqs.models import Queue, SQSBackend

from localcloud import motoadapter
from localcloud.iam import principals

COUNTS = ("approximate_number_of_messages", "approximate_number_of_messages_delayed",
          "approximate_number_of_messages_not_visible")
_uncounted = threading.local()
_install_lock = threading.Lock()
_installed = False


def _count(original: property) -> property:
    def count(self: Queue) -> int:
        return 0 if getattr(_uncounted, "active", False) else original.fget(self)

    return property(count)


def _without_counts(original):
    @functools.wraps(original)  # keeps moto's signature for the checks of other touchpoints
    def operation(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any):
        _uncounted.active = True
        try:
            return original(self, queue_name, *args, **kwargs)
        finally:
            _uncounted.active = False

    return operation


STANDARD_NAME = "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
FIFO_NAME = ("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, "
             "must end with .fifo suffix and be 1 to 80 in length.")


def _checking_fifo_names(original):
    """SQS accepts the ``.fifo`` suffix exactly on FIFO queues
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html, QueueName)."""
    @functools.wraps(original)
    def create_queue(self: SQSBackend, name: str, tags: dict[str, str] | None = None, **kwargs: Any) -> Queue:
        fifo = str(kwargs.get("FifoQueue", "false")).lower() == "true"
        if name.endswith(".fifo") != fifo:
            raise InvalidParameterValue(FIFO_NAME if fifo else STANDARD_NAME)
        _check_policy(kwargs)
        return original(self, name, tags, **kwargs)

    return create_queue


def _check_policy(attributes: dict[str, Any]) -> None:
    if attributes.get("Policy") and principals.unknown(attributes["Policy"]):
        raise InvalidAttributeValue("Policy")


def _checking_policy(original):
    @functools.wraps(original)
    def set_queue_attributes(self: SQSBackend, queue_name: str, attributes: dict[str, Any]) -> Queue:
        _check_policy(attributes)
        return original(self, queue_name, attributes)

    return set_queue_attributes


def install() -> None:
    """Apply the changes once per process."""
    global _installed
    with _install_lock:
        if _installed:
            return
        for name in COUNTS:
            motoadapter.require(Queue, name)
            motoadapter.replace(Queue, name, _count(vars(Queue)[name]))
        for name in ("send_message", "receive_message"):
            motoadapter.replace(SQSBackend, name, _without_counts(motoadapter.require(
                SQSBackend, name, ("self", "queue_name"))))
        motoadapter.replace(SQSBackend, "create_queue", _checking_fifo_names(motoadapter.require(
            SQSBackend, "create_queue", ("self", "name", "tags"))))
        motoadapter.replace(SQSBackend, "set_queue_attributes", _checking_policy(motoadapter.require(
            SQSBackend, "set_queue_attributes", ("self", "queue_name", "attributes"))))
        for attribute in ("policy", "queue_arn"):  # read by :mod:`.permissions`
            motoadapter.require_instance_attribute(Queue, attribute)
        motoadapter.require_instance_attribute(SQSBackend, "queues")
        _installed = True
