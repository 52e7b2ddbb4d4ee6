"""SQS event source mappings: Lambda's pollers, which read a queue and invoke a function with batches.

moto stores the mappings (``CreateEventSourceMapping`` and friends, ``AWS::Lambda::EventSourceMapping``)
but delivers each message the moment it is sent, one at a time, inside ``SendMessage``.  localcloud
takes the mapping away from that path and runs one poller thread per mapping instead, as Lambda does:

* it long-polls the queue, receiving with the queue's visibility timeout, and gathers up to
  ``BatchSize`` messages, waiting up to ``MaximumBatchingWindowInSeconds`` for a full batch;
* it invokes the function synchronously with the records AWS sends (``eventSource: aws:sqs``);
* on success it deletes the batch; with ``FunctionResponseTypes: [ReportBatchItemFailures]`` it
  deletes all but the ``batchItemFailures`` the function names;
* on failure it deletes nothing: the messages come back after the visibility timeout, and SQS moves
  them to the dead-letter queue once they have been received ``maxReceiveCount`` times;
* a disabled mapping (``Enabled: false``) stops receiving; a deleted one stops its poller.

The mapping's settings are read before every batch, so ``UpdateEventSourceMapping`` applies at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.sqs.models import sqs_backends

logger = logging.getLogger("localcloud.lambda.sqs")

LONG_POLL_SECONDS = 1  # how long one receive waits: also how fast a poller notices disable or delete
IDLE_SECONDS = 0.2
ERROR_BACKOFF_SECONDS = 1.0
MAX_RECEIVE = 10  # SQS returns at most 10 messages a call

Invoke = Callable[[Any, bytes], Any]
"""(moto function, event) -> InvocationResult"""


def is_sqs(event_source_arn: str) -> bool:
    return event_source_arn.split(":")[2:3] == ["sqs"]


def _queue(account_id: str, region: str, queue_arn: str):
    backend = sqs_backends[account_id][region]
    return next((q for q in backend.queues.values() if q.queue_arn == queue_arn), None)


def record(message, queue_arn: str, region: str) -> dict:
    """One message as Lambda hands it to the function."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": message.sender_id,
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    if message.group_id:
        attributes.update({"MessageGroupId": message.group_id, "SequenceNumber": str(message.sequence_number),
                           "MessageDeduplicationId": message.deduplication_id or ""})
    message_attributes = {
        name: {"stringValue": value.get("StringValue"), "binaryValue": value.get("BinaryValue"),
               "stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        for name, value in message.message_attributes.items()
    }
    result = {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.message_attributes:
        result["md5OfMessageAttributes"] = message.attribute_md5
    return result


def failed_items(payload: bytes, message_ids: set[str]) -> set[str] | None:
    """The message ids a ``ReportBatchItemFailures`` response names as failed, or None when Lambda
    would treat the whole batch as failed (a response of the wrong shape, an empty, missing or
    unknown ``itemIdentifier``)."""
    response = json.loads(payload or b"null")
    if response is None:
        return set()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return None
    named = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return None
        named.add(identifier)
    return named


class SqsPoller(threading.Thread):
    """Lambda's poller for one SQS event source mapping."""

    def __init__(self, account_id: str, region: str, uuid: str, invoke: Invoke, closed: threading.Event):
        super().__init__(name=f"sqs-poller-{uuid[:8]}", daemon=True)
        self.account_id, self.region, self.uuid = account_id, region, uuid
        self.invoke = invoke
        self.closed = closed  # set when the Lambda runtime shuts down
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()

    def _mapping(self):
        return get_lambda_backend(self.account_id, self.region).get_event_source_mapping(self.uuid)

    def run(self) -> None:
        while not (self.stopped.is_set() or self.closed.is_set()):
            mapping = self._mapping()
            if mapping is None:
                return
            if not mapping.enabled:
                self.stopped.wait(IDLE_SECONDS)
                continue
            try:
                self._poll_once(mapping)
            except Exception:  # a poller never dies of one bad batch; Lambda retries
                logger.exception("SQS poller for mapping %s failed; retrying", self.uuid)
                self.stopped.wait(ERROR_BACKOFF_SECONDS)

    def _receive(self, queue, count: int, wait: float) -> list:
        backend = sqs_backends[self.account_id][self.region]
        return backend.receive_message(queue.name, min(count, MAX_RECEIVE), wait, queue.visibility_timeout, ["All"])

    def _poll_once(self, mapping) -> None:
        queue = _queue(self.account_id, self.region, mapping.event_source_arn)
        if queue is None:
            self.stopped.wait(ERROR_BACKOFF_SECONDS)
            return
        batch = self._receive(queue, mapping.batch_size, LONG_POLL_SECONDS)
        if not batch:
            return
        window = float(mapping.max_batch_window or 0)
        deadline = time.monotonic() + window
        while len(batch) < mapping.batch_size and not self.stopped.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(queue, mapping.batch_size - len(batch), min(remaining, LONG_POLL_SECONDS))
            batch.extend(more)
        current = self._mapping()
        if self.stopped.is_set() or current is None or not current.enabled:  # changed while receiving
            backend = sqs_backends[self.account_id][self.region]
            for message in batch:
                backend.change_message_visibility(queue.name, message.receipt_handle, visibility_timeout=0)
            return
        self._deliver(current, queue, batch)

    def _deliver(self, mapping, queue, batch: list) -> None:
        event = {"Records": [record(message, queue.queue_arn, self.region) for message in batch]}
        function = get_lambda_backend(self.account_id, self.region).get_function(mapping.function_arn)
        result = self.invoke(function, json.dumps(event).encode())
        if result.function_error:
            return  # nothing deleted: back after the visibility timeout, then to the DLQ
        keep: set[str] = set()
        if "ReportBatchItemFailures" in (mapping.function_response_types or []):
            failures = failed_items(result.payload, {message.id for message in batch})
            if failures is None:
                logger.warning("mapping %s: batchItemFailures names unknown or empty ids; the whole batch "
                               "is retried", self.uuid)
                return
            keep = failures
        backend = sqs_backends[self.account_id][self.region]
        for message in batch:
            if message.id not in keep:
                backend.delete_message(queue.name, message.receipt_handle)


class Pollers:
    """The running pollers, one per SQS mapping."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pollers: dict[str, SqsPoller] = {}
        self._invoke: Invoke | None = None
        self._closed = threading.Event()

    def bind(self, invoke: Invoke, closed: threading.Event) -> None:
        """Deliver through ``invoke`` from now on, until ``closed`` is set; pollers of an earlier
        runtime stop."""
        self.stop_all()
        with self._lock:
            self._invoke, self._closed = invoke, closed

    def start(self, account_id: str, region: str, uuid: str) -> None:
        with self._lock:
            if uuid in self._pollers or self._invoke is None:
                return
            poller = SqsPoller(account_id, region, uuid, self._invoke, self._closed)
            self._pollers[uuid] = poller
        poller.start()

    def stop(self, uuid: str) -> None:
        with self._lock:
            poller = self._pollers.pop(uuid, None)
        if poller is not None:
            poller.stop()

    def stop_all(self) -> None:
        with self._lock:
            pollers, self._pollers = list(self._pollers.values()), {}
        for poller in pollers:
            poller.stop()


POLLERS = Pollers()
