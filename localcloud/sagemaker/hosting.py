"""Endpoints: each production variant is a serving process of its algorithm over the model artifact.

Creating (or updating) an endpoint downloads and unpacks every variant's ``ModelDataUrl``, starts
``python -m localcloud.algorithms.<name> serve`` and waits for ``GET /ping``; only then does the
endpoint turn ``InService`` and take traffic.  An update switches traffic to the new variants at
once and stops the old ones when their requests in flight have finished.

A serving process that exits on its own is replaced, as SageMaker replaces an unhealthy instance;
if the replacement does not pass ``/ping``, or the process keeps exiting, the endpoint turns
``Failed`` with the reason.
"""

from __future__ import annotations

import http.client
import io
import logging
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from localcloud import lifetimes
from localcloud.paths import confined
from localcloud.sagemaker import images, storage
from localcloud.sagemaker.models import Endpoint, now

logger = logging.getLogger("localcloud.sagemaker")

PING_TIMEOUT_SECONDS = 300
DRAIN_TIMEOUT_SECONDS = 120
# A variant whose serving process exits more often than this within the window is Failed, not replaced again.
MAX_EXITS = 3
EXIT_WINDOW_SECONDS = 600


class ContainerTimeout(Exception):
    pass


class VariantUnavailable(Exception):
    pass


@dataclass
class ContainerReply:
    status: int
    body: bytes
    headers: dict[str, str]  # names lower-cased


class _ContainerConnection:
    """A kept-alive HTTP/1.1 connection to a serving process (:func:`localcloud.algorithms.container.serve`).

    Every request goes out in one write (Nagle's algorithm off), and the answer is read by its
    ``Content-Length``: for these small requests ``http.client`` spent three times the CPU of this
    exchange (its header parsing goes through the ``email`` package), and localcloud's one process
    is what limits InvokeEndpoint under load.
    """

    _MAX_LINE = 65536

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = self.sock.makefile("rb")

    @staticmethod
    def request(port: int, body: bytes, headers: dict[str, str]) -> bytes:
        """The request on the wire; ``ValueError`` for a header that cannot be sent (a line break, or a
        character outside Latin-1), as ``http.client`` refuses it."""
        lines = [f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"]
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise ValueError(f"Invalid header value {value!r}")
            lines.append(f"{name}: {value}\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1") + body

    def post(self, request: bytes, timeout: float) -> tuple[ContainerReply, bool]:
        """The container's reply, and whether the connection may serve another request.  Raises
        ``TimeoutError`` past ``timeout`` and ``OSError`` if the connection fails."""
        self.sock.settimeout(timeout)
        self.sock.sendall(request)

        status_line = self._reader.readline(self._MAX_LINE)
        version, _, rest = status_line.partition(b" ")
        if not version.startswith(b"HTTP/") or not rest[:3].isdigit():
            raise ConnectionError(f"the serving process answered {status_line[:100]!r}" if status_line
                                  else "the serving process closed the connection")
        reply_headers = {}
        while True:
            line = self._reader.readline(self._MAX_LINE)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise ConnectionError("the serving process closed the connection mid-reply")
            name, _, value = line.decode("latin-1").partition(":")
            reply_headers[name.strip().lower()] = value.strip()
        length = reply_headers.get("content-length")
        if length is not None and not length.isdigit():
            raise ConnectionError(f"the serving process answered Content-Length {length[:100]!r}")
        reply_body = self._reader.read(int(length)) if length is not None else self._reader.read()
        if length is not None and len(reply_body) != int(length):
            raise ConnectionError("the serving process closed the connection mid-reply")
        reusable = length is not None and reply_headers.get("connection", "").lower() != "close"
        return ContainerReply(int(rest[:3]), reply_body, reply_headers), reusable

    def close(self) -> None:
        self._reader.close()
        self.sock.close()


class VariantServer:
    """One production variant: its serving process, connection pool and requests in flight."""

    def __init__(self, endpoint: Endpoint, variant: dict, algorithm: str, root: Path, environment: dict, log_sink,
                 on_exit: Callable[[VariantServer, int], None] | None = None):
        self.endpoint_name = endpoint.name
        self.variant = variant
        self.algorithm = algorithm
        self.environment = environment
        self.on_exit = on_exit
        self.exits: list[float] = []  # when this variant's earlier processes exited on their own
        self._stopping = False
        self.variant_name = variant["VariantName"]
        self.weight = float(variant.get("InitialVariantWeight", 1.0))
        self.image = variant["Containers"][0]["Image"]
        self.root = root
        self.instance_id = f"i-{uuid.uuid4().hex[:17]}"
        self.log_stream = f"{self.variant_name}/{self.instance_id}"
        self.port = _free_port()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_NUM_THREADS": "1"}
        env.update(environment)
        env.update({"OPT_ML": str(root), "SAGEMAKER_BIND_TO_PORT": str(self.port), "PYTHONUNBUFFERED": "1"})
        self.process = lifetimes.spawn(
            [sys.executable, "-m", f"localcloud.algorithms.{algorithm}", "serve"],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self._connections: queue.SimpleQueue[_ContainerConnection] = queue.SimpleQueue()
        self._in_flight = 0
        self._idle = threading.Condition()
        region, group = endpoint.region, f"/aws/sagemaker/Endpoints/{endpoint.name}"
        threading.Thread(target=self._ship_logs, args=(log_sink, region, group), daemon=True).start()

    def _ship_logs(self, log_sink, region: str, group: str) -> None:
        """Ship the process's output until it ends, then reap it and report an exit nobody asked for."""
        for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            log_sink(region, group, self.log_stream, [(int(time.time() * 1000), line)])
        code = self.process.wait()
        lifetimes.forget(self.process)
        if not self._stopping and self.on_exit is not None:
            self.on_exit(self, code)

    def wait_until_healthy(self) -> str | None:
        """None once ``/ping`` answers 200; otherwise why the variant will not serve."""
        deadline = time.monotonic() + PING_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/ping")
                if connection.getresponse().status == 200:
                    connection.close()
                    return None
            except OSError:
                pass
            time.sleep(0.05)
        return (f"The primary container for production variant {self.variant_name} did not pass the ping health "
                f"check. Please check CloudWatch logs for this endpoint.")

    def invoke(self, body: bytes, headers: dict[str, str], timeout: float) -> ContainerReply:
        with self._idle:
            self._in_flight += 1
        try:
            return self._send(body, headers, timeout)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _send(self, body: bytes, headers: dict[str, str], timeout: float) -> ContainerReply:
        request = _ContainerConnection.request(self.port, body, headers)
        connection = None
        try:
            try:
                connection = self._connections.get_nowait()
            except queue.Empty:
                connection = _ContainerConnection(self.port)
            reply, reusable = connection.post(request, timeout)
        except TimeoutError:
            if connection is not None:
                connection.close()
            raise ContainerTimeout() from None
        except OSError as error:
            if connection is not None:
                connection.close()
            raise VariantUnavailable(str(error)) from None
        if reusable:
            self._connections.put(connection)
        else:
            connection.close()
        return reply

    def stop(self, drain: bool) -> None:
        self._stopping = True
        if drain:
            with self._idle:
                self._idle.wait_for(lambda: self._in_flight == 0, timeout=DRAIN_TIMEOUT_SECONDS)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        shutil.rmtree(self.root.parent, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class EndpointHost:
    def __init__(self, work_dir: Path, log_sink):
        self.work_dir = Path(work_dir)
        self.log_sink = log_sink
        self._routes: dict[str, list[VariantServer]] = {}
        self._lock = threading.Lock()

    def deploy(self, endpoint: Endpoint, plan: list[dict], new_config_name: str | None = None) -> None:
        threading.Thread(target=self._deploy, args=(endpoint, plan, new_config_name),
                         name=f"endpoint-{endpoint.name}", daemon=True).start()

    def undeploy(self, endpoint: Endpoint) -> None:
        with self._lock:
            servers = self._routes.pop(endpoint.arn, [])
        for server in servers:
            server.stop(drain=False)

    def route(self, endpoint: Endpoint, target_variant: str | None) -> VariantServer:
        """The variant to serve a request: the one named, or one chosen by weight."""
        with self._lock:
            servers = list(self._routes.get(endpoint.arn, []))
        if target_variant:
            for server in servers:
                if server.variant_name == target_variant:
                    return server
            raise VariantUnavailable(f"Target variant {target_variant} not found for endpoint {endpoint.name}")
        if not servers:
            raise VariantUnavailable(f"Endpoint {endpoint.name} has no running variant")
        return random.choices(servers, weights=[s.weight for s in servers])[0]

    def shutdown(self) -> None:
        with self._lock:
            servers = [s for group in self._routes.values() for s in group]
            self._routes.clear()
        for server in servers:
            server.stop(drain=False)

    def _deploy(self, endpoint: Endpoint, plan: list[dict], new_config_name: str | None) -> None:
        servers: list[VariantServer] = []
        try:
            failure = None
            for variant in plan:
                server, failure = self._start_variant(endpoint, variant)
                if server is not None:
                    servers.append(server)
                if failure is None and server is not None:
                    failure = server.wait_until_healthy()
                if failure:
                    break
        except Exception as error:  # never leave an endpoint Creating forever
            logger.exception("endpoint %s failed in localcloud", endpoint.name)
            failure = f"InternalServerError: {error}"
        if failure:
            for server in servers:
                server.stop(drain=False)
            endpoint.failure_reason = failure
            endpoint.status = "InService" if new_config_name and self._routes.get(endpoint.arn) else "Failed"
            endpoint.last_modified_time = now()
            return
        with self._lock:
            old = self._routes.get(endpoint.arn, [])
            self._routes[endpoint.arn] = servers
        endpoint.variants = [self._describe(server, variant) for server, variant in zip(servers, plan, strict=True)]
        endpoint.config_name = new_config_name or endpoint.config_name
        endpoint.failure_reason = None
        endpoint.status = "InService"
        endpoint.last_modified_time = now()
        for server in old:
            threading.Thread(target=server.stop, args=(True,), daemon=True).start()

    def _start_variant(self, endpoint: Endpoint, variant: dict) -> tuple[VariantServer | None, str | None]:
        containers = variant["Containers"]
        if len(containers) != 1:
            return None, "localcloud serves single-container models; inference pipelines are not supported."
        container = containers[0]
        algorithm = images.algorithm_for_image(container["Image"])
        folder = confined(self.work_dir, f"{endpoint.name}/{variant['VariantName']}-{uuid.uuid4().hex[:8]}",
                          f'endpoint "{endpoint.name}" variant "{variant["VariantName"]}"')
        root = folder / "opt_ml"
        model_dir = root / "model"
        model_dir.mkdir(parents=True)
        if container.get("ModelDataUrl"):
            url = container["ModelDataUrl"]
            try:
                archive = storage.read(url)
            except storage.MissingData as error:
                return None, str(error)
            try:
                with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                    tar.extractall(model_dir, filter="data")
            except tarfile.FilterError as error:
                return None, (f'The model data archive at "{url}" has a member that would be written outside the '
                              f'model directory or is not a regular file or folder: "{error.tarinfo.name}" '
                              f"({error}). Repack it with paths relative to the model directory.")
            except (tarfile.TarError, OSError, EOFError):
                return None, (f'Failed to extract model data archive from URL "{url}". Please ensure that the '
                              "object located at the URL is a valid tar.gz archive.")
        server = VariantServer(endpoint, variant, algorithm, root, container.get("Environment", {}), self.log_sink,
                               on_exit=lambda dead, code: self._replace(endpoint, dead, code))
        return server, None

    def _replace(self, endpoint: Endpoint, dead: VariantServer, exit_code: int) -> None:
        """Start a new serving process for a variant whose process exited, or fail the endpoint."""
        how = f"was killed by signal {-exit_code}" if exit_code < 0 else f"exited with status {exit_code}"
        with self._lock:
            if dead not in self._routes.get(endpoint.arn, []):
                return  # the endpoint was deleted or updated meanwhile
        logger.warning("endpoint %s: the serving process of variant %s %s; replacing it",
                       endpoint.name, dead.variant_name, how)
        now_seconds = time.monotonic()
        exits = [t for t in dead.exits if now_seconds - t < EXIT_WINDOW_SECONDS] + [now_seconds]
        failure = None
        replacement = None
        if len(exits) > MAX_EXITS:
            failure = (f"The serving process of production variant {dead.variant_name} {how}, and exited "
                       f"{len(exits)} times within {EXIT_WINDOW_SECONDS} s. Please check CloudWatch logs for this "
                       "endpoint.")
        else:
            try:
                replacement = VariantServer(endpoint, dead.variant, dead.algorithm, dead.root, dead.environment,
                                            self.log_sink, on_exit=dead.on_exit)
                replacement.exits = exits
                failure = replacement.wait_until_healthy()
            except Exception as error:  # never leave the endpoint InService with no process behind it
                logger.exception("endpoint %s: replacing variant %s failed", endpoint.name, dead.variant_name)
                failure = f"InternalServerError: {error}"
            if failure:
                failure = f"The serving process of production variant {dead.variant_name} {how}; its replacement " \
                          f"failed: {failure}"
        with self._lock:
            servers = self._routes.get(endpoint.arn, [])
            current = dead in servers
            if current and not failure:
                servers[servers.index(dead)] = replacement
                return
            others = self._routes.pop(endpoint.arn, []) if current else []
        if replacement is not None:
            replacement.stop(drain=False)
        if not current:
            return
        for server in others:
            server.stop(drain=False)
        endpoint.failure_reason = failure
        endpoint.status = "Failed"
        endpoint.last_modified_time = now()

    @staticmethod
    def _describe(server: VariantServer, variant: dict) -> dict:
        count = variant.get("InitialInstanceCount", 1)
        stamp = now()
        return {
            "VariantName": server.variant_name,
            "DeployedImages": [{"SpecifiedImage": server.image, "ResolvedImage": server.image, "ResolutionTime": stamp}],
            "CurrentWeight": server.weight,
            "DesiredWeight": server.weight,
            "CurrentInstanceCount": count,
            "DesiredInstanceCount": count,
        }
