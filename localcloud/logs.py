"""Writing to CloudWatch Logs (moto's store), for the services whose output localcloud produces."""

from __future__ import annotations

import threading

from moto.logs.models import LogGroup, LogsBackend, logs_backends

from localcloud import motoadapter
from localcloud.config import ACCOUNT_ID

_lock = threading.Lock()


def put_log_lines(region: str, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    """Append ``(epoch millis, message)`` events, creating the group and stream when needed."""
    if not events:
        return
    backend = logs_backends[ACCOUNT_ID][region]
    with _lock:
        backend.ensure_log_group(group)
        if stream not in backend.groups[group].streams:
            backend.create_log_stream(group, stream)
        backend.put_log_events(group, stream, [{"timestamp": ts, "message": message} for ts, message in events])


def check_moto() -> None:
    """What this module uses of moto's CloudWatch Logs, checked when localcloud starts."""
    motoadapter.require(LogsBackend, "ensure_log_group", ("self", "log_group_name"))
    motoadapter.require(LogsBackend, "create_log_stream", ("self", "log_group_name", "log_stream_name"))
    motoadapter.require(LogsBackend, "put_log_events", ("self", "log_group_name", "log_stream_name", "log_events"))
    motoadapter.require_instance_attribute(LogsBackend, "groups")
    motoadapter.require_instance_attribute(LogGroup, "streams")
