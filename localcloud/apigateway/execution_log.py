"""Stage execution logs: what API Gateway writes to CloudWatch Logs when a stage's ``loggingLevel`` is on.

A stage whose method settings (``*/*`` or the method's own ``{resource path}/{METHOD}``) set ``loggingLevel``
to ``ERROR`` logs why a request failed; ``INFO`` logs each step as well (the method request, the integration
request after its mapping template, the integration's answer, the method response), as the developer
guide's "Set up CloudWatch logging for REST APIs in API Gateway" describes.  Lines go to the group
``API-Gateway-Execution-Logs_{restApiId}/{stageName}``, each prefixed with the request id.
"""

from __future__ import annotations

import hashlib
import time

from localcloud.logs import put_log_lines

LEVELS = ("ERROR", "INFO")


class ExecutionLog:
    def __init__(self, region: str, api_id: str, stage, resource_path: str, http_method: str, request_id: str):
        settings = stage.method_settings or {}
        own = f"{resource_path.lstrip('/').replace('/', '~1')}/{http_method}"
        level = (settings.get(own) or settings.get("*/*") or {}).get("loggingLevel") or "OFF"
        self.level = str(level).upper()
        self.region = region
        self.group = f"API-Gateway-Execution-Logs_{api_id}/{stage.name}"
        # API Gateway names its streams with a hash; one a day keeps a stage's lines together.
        self.stream = hashlib.md5(f"{self.group}/{time.strftime('%Y-%m-%d', time.gmtime())}".encode(),
                                  usedforsecurity=False).hexdigest()
        self.request_id = request_id
        self.events: list[tuple[int, str]] = []

    def info(self, message: str) -> None:
        if self.level == "INFO":
            self._add(message)

    def error(self, message: str) -> None:
        if self.level in LEVELS:
            self._add(message)

    def _add(self, message: str) -> None:
        self.events.append((int(time.time() * 1000), f"({self.request_id}) {message}"))

    def flush(self) -> None:
        put_log_lines(self.region, self.group, self.stream, self.events)
        self.events = []
