"""Where localcloud changes moto's SQS (each through :mod:`localcloud.motoadapter`).

moto's ``SendMessage`` reads the queue's ``attributes`` to learn whether content-based
deduplication is on, and that property counts every message in the queue three times over
(visible, in flight, delayed): each send costs time in proportion to the backlog, and a queue that
a Lambda pipeline fills with thousands of messages slows to a crawl.  While a message is being
sent, those counts are not computed; they are never part of what ``SendMessage`` answers.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.sqs.models import Queue, SQSBackend

from localcloud import motoadapter

COUNTS = ("approximate_number_of_messages", "approximate_number_of_messages_delayed",
          "approximate_number_of_messages_not_visible")
_sending = threading.local()
_install_lock = threading.Lock()
_installed = False


def _count(original: property) -> property:
    def count(self: Queue) -> int:
        return 0 if getattr(_sending, "active", False) else original.fget(self)

    return property(count)


def _send_message(original):
    def send_message(self: SQSBackend, queue_name: str, message_body: str, *args: Any, **kwargs: Any):
        _sending.active = True
        try:
            return original(self, queue_name, message_body, *args, **kwargs)
        finally:
            _sending.active = False

    return send_message


def install() -> None:
    """Apply the changes once per process."""
    global _installed
    with _install_lock:
        if _installed:
            return
        for name in COUNTS:
            motoadapter.require(Queue, name)
            motoadapter.replace(Queue, name, _count(vars(Queue)[name]))
        motoadapter.replace(SQSBackend, "send_message", _send_message(motoadapter.require(
            SQSBackend, "send_message", ("self", "queue_name", "message_body"))))
        _installed = True
