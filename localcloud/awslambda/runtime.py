"""Lambda execution: warm worker processes that run a function's real deployment package.

This module knows nothing of moto.  It takes a :class:`FunctionSpec` (what Lambda's control
plane knows about a function version) and an event, and returns what Lambda's data plane would:
the payload or error, and the invocation's log lines (START / END / REPORT around the
function's own output).  Each worker is one execution environment: it is reused while the
function's code and configuration stay the same, and replaced (a cold start) when they change.

``MemorySize`` is enforced as Lambda enforces it: the execution environment is killed as soon as
its resident memory exceeds the function's memory, and the invocation fails with
``Runtime.OutOfMemory``.  Lambda counts the whole sandbox, its Python runtime included; here that
is the worker process and anything it started (its process group), read from ``/proc`` by a
watcher thread while the worker runs (neither ``RLIMIT_AS``, which breaks numpy's and the
threads' address-space reservations, nor cgroups, which need root, fit a workshop laptop).
Nothing is added for AWS's own runtime: the worker's bare interpreter is about 12 MB resident
against roughly 35-40 MB for Lambda's Python bootstrap, so a function within ~25 MB of its
limit can pass here and be killed on AWS.  Where there is no ``/proc`` (macOS) memory is
reported but not enforced.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from localcloud import lifetimes
from localcloud.awslambda import worker as worker_protocol
from localcloud.awslambda.packaging import LayerContent, Packaging
from localcloud.paths import PathEscape, extract_zip

WORKER_SCRIPT = Path(worker_protocol.__file__)
LOG_TAIL_BYTES = 4096
# Lambda keeps asynchronous events in its own queue; a small pool is our queue's consumer.
ASYNC_CONCURRENCY = 4
# AWS's default account limit is 1,000 concurrent executions per region; a laptop runs a few dozen
# Python workers comfortably.  LOCALCLOUD_LAMBDA_CONCURRENCY changes it.
DEFAULT_CONCURRENCY_LIMIT = 32
# Lambda keeps an idle execution environment for minutes, then reclaims it.
# LOCALCLOUD_LAMBDA_IDLE_SECONDS changes it.
DEFAULT_IDLE_SECONDS = 300
# Throttled asynchronous events are retried with exponential backoff for up to six hours, as Lambda does.
ASYNC_RETRY_FIRST_DELAY_SECONDS = 0.5
ASYNC_RETRY_MAX_DELAY_SECONDS = 60
MAX_EVENT_AGE_SECONDS = 6 * 3600
# How often the memory watcher reads a running worker's resident memory: a worker that allocates a
# gigabyte a second is caught within ~10 MB of its limit, and one idle poll costs ~30 us a worker.
MEMORY_POLL_SECONDS = 0.01
_PROC = Path("/proc/self/statm").exists()
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
# How Go (Lambda's runtime API) names the signal that ended a runtime: "Runtime exited with error: signal: killed".
_SIGNAL_NAMES = {signal.SIGKILL: "killed", signal.SIGTERM: "terminated", signal.SIGSEGV: "segmentation fault",
                 signal.SIGABRT: "aborted", signal.SIGBUS: "bus error", signal.SIGILL: "illegal instruction",
                 signal.SIGFPE: "floating point exception", signal.SIGINT: "interrupt", signal.SIGHUP: "hangup",
                 signal.SIGPIPE: "broken pipe", signal.SIGQUIT: "quit"}


class UnsupportedRuntime(Exception):
    """The function's runtime is not one localcloud can execute."""


class BadPackage(Exception):
    """The deployment package cannot be unpacked (not a zip, or a member would land outside it)."""


class Throttled(Exception):
    """No concurrency is left for the function: ``reason`` is Lambda's ``Reason`` field."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _WorkerExited(Exception):
    """The worker closed its end of the pipe: the runtime exited."""


@dataclass(frozen=True)
class FunctionSpec:
    """What an execution environment needs to know about one function version."""

    name: str
    arn: str
    version: str
    runtime: str
    handler: str
    timeout: float
    memory_size: int
    environment: dict[str, str]
    region: str
    code_sha256: str
    code_zip: bytes = field(repr=False, compare=False)
    last_modified: str = ""
    # Concurrency: the function's reservation (None: it shares the unreserved pool) and the total
    # that all functions of its region reserve (the unreserved pool is the account limit minus it).
    reserved_concurrency: int | None = None
    region_reserved_concurrency: int = 0
    layers: tuple[LayerContent, ...] = ()

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    @property
    def environment_key(self) -> str:
        """Identifies the execution environments that may serve this spec."""
        config = [
            self.arn,
            self.version,
            self.runtime,
            self.handler,
            self.timeout,
            self.memory_size,
            sorted(self.environment.items()),
            self.code_sha256,
            self.last_modified,
            [(layer.arn, layer.code_sha256) for layer in self.layers],
        ]
        return hashlib.sha256(json.dumps(config).encode()).hexdigest()


@dataclass
class InvocationResult:
    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed, as Lambda reports it
    log_lines: list[str]
    executed_version: str

    @property
    def log_tail(self) -> str:
        """The last 4 KB of the invocation's log, base64-encoded (``LogType=Tail``)."""
        text = "".join(line + "\n" for line in self.log_lines).encode("utf-8")
        return base64.b64encode(text[-LOG_TAIL_BYTES:]).decode("ascii")

    @property
    def error(self) -> dict | None:
        return json.loads(self.payload) if self.function_error else None


LogSink = Callable[[str, str, str, list[tuple[int, str]]], None]
"""(region, log group, log stream, [(epoch millis, message)]) -> None"""


class _Worker:
    """One execution environment: a process, its pipes and its log file."""

    def __init__(self, spec: FunctionSpec, code_dir: Path, env: dict[str, str], log_path: Path):
        self.spec = spec
        now = datetime.now(UTC)
        self.log_stream = f"{now:%Y/%m/%d}/[{spec.version}]{uuid.uuid4().hex}"
        env = dict(env, AWS_LAMBDA_LOG_STREAM_NAME=self.log_stream)
        request_read, self.request_fd = os.pipe()
        self.response_fd, response_write = os.pipe()
        self.log_path = log_path
        self.log_offset = 0
        self.spawned = time.perf_counter()
        self.last_used = time.monotonic()
        self.retired = False  # its function was deleted: end it once its invocation is over
        self.out_of_memory = False  # the memory watcher killed it for exceeding MemorySize
        self.peak_resident_kb = 0  # the largest resident memory the watcher saw, process group included
        with open(log_path, "wb") as log_file:
            self.process = lifetimes.spawn(
                # -I -S: no site-packages; the worker builds sys.path from PYTHONPATH (packaging.py).
                [sys.executable, "-I", "-S", "-u", str(WORKER_SCRIPT), str(request_read), str(response_write)],
                cwd=code_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                pass_fds=(request_read, response_write),
            )
        os.close(request_read)
        os.close(response_write)
        self.init_ms: float | None = None
        self.init_error: dict | None = None

    def start(self, deadline: float) -> bool:
        """Wait for the interpreter to start and import the handler; False if the deadline passed first.
        Raises :class:`_WorkerExited` if the runtime exited first."""
        message = self.receive(deadline)
        if message is None:
            return False
        self.init_ms = (time.perf_counter() - self.spawned) * 1000
        self.init_error = message["init_error"]
        return True

    def send(self, message: dict) -> None:
        worker_protocol.write_message(self.request_fd, message)

    def receive(self, deadline: float) -> dict | None:
        """The worker's next message, or None if the deadline passed; :class:`_WorkerExited` if it exited."""
        header = self._read(worker_protocol._HEADER.size, deadline)
        if header is None:
            return None
        (length,) = worker_protocol._HEADER.unpack(header)
        body = self._read(length, deadline)
        return None if body is None else json.loads(body)

    def _read(self, size: int, deadline: float) -> bytes | None:
        chunks = []
        while size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.response_fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self.response_fd, size)
            if not chunk:
                raise _WorkerExited()
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def new_output(self) -> list[str]:
        """Lines the function wrote since the last call."""
        with open(self.log_path, "rb") as log_file:
            log_file.seek(self.log_offset)
            data = log_file.read()
        self.log_offset += len(data)
        text = data.decode("utf-8", errors="replace")
        return text.splitlines()

    def exit_status(self) -> str:
        """How the runtime ended, in Lambda's words ("signal: killed", "exit status 1"); reaps it."""
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # it closed the pipe but lives on: end it
            self.kill()
            code = self.process.returncode
        if code < 0:
            return f"signal: {_SIGNAL_NAMES.get(-code, f'signal {-code}')}"
        return f"exit status {code}"

    def resident_kb(self) -> int:
        """Resident memory of the worker and every process it started, in KiB (Linux's /proc)."""
        total = 0
        pending = [self.process.pid]
        while pending:
            pid = pending.pop()
            try:
                with open(f"/proc/{pid}/statm") as statm:
                    total += int(statm.read().split()[1]) * _PAGE_KB
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as children:
                        pending.extend(int(child) for child in children.read().split())
            except (OSError, ValueError):  # it ended while we read
                continue
        return total

    def kill_for_memory(self) -> None:
        """End the execution environment as Lambda does when it exceeds its memory: SIGKILL, no goodbye."""
        if self.process.returncode is not None:  # already reaped: its pid may be another process's now
            return
        self.out_of_memory = True
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()
        lifetimes.forget(self.process)
        for fd in (self.request_fd, self.response_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log_path.unlink(missing_ok=True)


class LambdaRuntime:
    """Runs invocations in warm worker processes, one per concurrent execution environment."""

    def __init__(self, work_dir: Path, client_env: dict[str, str], log_sink: LogSink,
                 concurrency_limit: int | None = None, idle_seconds: float | None = None):
        self.work_dir = Path(work_dir)
        self.client_env = dict(client_env)
        self.log_sink = log_sink
        self.concurrency_limit = concurrency_limit if concurrency_limit is not None else int(
            os.environ.get("LOCALCLOUD_LAMBDA_CONCURRENCY", DEFAULT_CONCURRENCY_LIMIT))
        self.idle_seconds = idle_seconds if idle_seconds is not None else float(
            os.environ.get("LOCALCLOUD_LAMBDA_IDLE_SECONDS", DEFAULT_IDLE_SECONDS))
        self._idle: dict[str, list[_Worker]] = {}
        self._busy: set[_Worker] = set()
        self._executions: Counter[tuple[str, str]] = Counter()  # per (region, function name)
        self._unreserved_executions: Counter[str] = Counter()  # per region
        self._lock = threading.Lock()
        self._running = threading.Event()  # set while some worker is busy: the memory watcher polls then only
        self._async = ThreadPoolExecutor(ASYNC_CONCURRENCY, thread_name_prefix="lambda-async")
        self.packaging = Packaging(self.work_dir)
        self.closed = threading.Event()  # set by shutdown(); event source pollers stop on it
        (self.work_dir / "code").mkdir(parents=True, exist_ok=True)
        (self.work_dir / "logs").mkdir(parents=True, exist_ok=True)
        threading.Thread(target=self._reap_idle_workers, name="lambda-reaper", daemon=True).start()
        if _PROC:
            threading.Thread(target=self._watch_memory, name="lambda-memory-watch", daemon=True).start()

    # -- public API -------------------------------------------------------------------------

    def invoke(self, spec: FunctionSpec, event: bytes, request_id: str | None = None) -> InvocationResult:
        """Run one synchronous invocation (``RequestResponse``)."""
        if not spec.runtime.startswith("python"):
            raise UnsupportedRuntime(
                f"localcloud executes Python functions only; function {spec.name} uses runtime "
                f"{spec.runtime}. Deploy it with a python3.x runtime, or test it on AWS."
            )
        request_id = request_id or str(uuid.uuid4())
        self._admit(spec)
        try:
            worker = self._acquire(spec)
            keep = False
            try:
                result, keep = self._run(worker, spec, event, request_id)
            finally:
                self._release(worker, keep)
        finally:
            self._leave(spec)
        return result

    def invoke_async(self, spec: FunctionSpec, event: bytes, on_error: Callable[[Exception], None] | None = None) -> str:
        """Queue an ``Event`` invocation and return its request id at once.  A throttled event goes back
        to the queue and is retried with backoff for up to six hours, as Lambda retries it."""
        request_id = str(uuid.uuid4())
        queued = time.monotonic()

        def run(attempt: int) -> None:
            try:
                self.invoke(spec, event, request_id)
            except Throttled as exc:
                delay = min(ASYNC_RETRY_MAX_DELAY_SECONDS, ASYNC_RETRY_FIRST_DELAY_SECONDS * 2 ** attempt)
                if time.monotonic() + delay - queued > MAX_EVENT_AGE_SECONDS:
                    if on_error:
                        on_error(exc)
                    return
                retry = threading.Timer(delay, submit, args=(attempt + 1,))
                retry.daemon = True
                retry.start()
            except Exception as exc:  # nobody waits for an async invocation: report, don't raise
                if on_error:
                    on_error(exc)

        def submit(attempt: int) -> None:
            try:
                self._async.submit(run, attempt)
            except RuntimeError:  # shut down: the queue goes with localcloud
                pass

        submit(0)
        return request_id

    def retire(self, region: str, name: str, version: str | None = None) -> None:
        """End the execution environments of a deleted function (or of one of its versions): idle ones
        now, busy ones when their invocation is over."""
        def matches(worker: _Worker) -> bool:
            spec = worker.spec
            return (spec.region, spec.name) == (region, name) and version in (None, spec.version)

        with self._lock:
            ended = [w for key, idle in list(self._idle.items()) for w in idle if matches(w)]
            for key, idle in list(self._idle.items()):
                self._idle[key] = [w for w in idle if not matches(w)]
                if not self._idle[key]:
                    del self._idle[key]
            for worker in self._busy:
                if matches(worker):
                    worker.retired = True
        for worker in ended:
            worker.kill()

    def shutdown(self) -> None:
        self.closed.set()  # also stops the idle reaper
        self._running.set()  # and wakes the memory watcher to see it
        self._async.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            workers = [w for idle in self._idle.values() for w in idle] + list(self._busy)
            self._idle.clear()
            self._busy.clear()
        for worker in workers:
            worker.kill()

    def worker_count(self) -> int:
        with self._lock:
            return sum(len(idle) for idle in self._idle.values()) + len(self._busy)

    # -- concurrency ------------------------------------------------------------------------

    def _admit(self, spec: FunctionSpec) -> None:
        """Count one more execution of ``spec``'s function, or raise :class:`Throttled` as Lambda would."""
        with self._lock:
            if spec.reserved_concurrency is not None:
                if self._executions[spec.region, spec.name] >= spec.reserved_concurrency:
                    raise Throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
            elif self._unreserved_executions[spec.region] >= self.concurrency_limit - spec.region_reserved_concurrency:
                raise Throttled("ConcurrentInvocationLimitExceeded")
            self._executions[spec.region, spec.name] += 1
            if spec.reserved_concurrency is None:
                self._unreserved_executions[spec.region] += 1

    def _leave(self, spec: FunctionSpec) -> None:
        with self._lock:
            self._executions[spec.region, spec.name] -= 1
            if spec.reserved_concurrency is None:
                self._unreserved_executions[spec.region] -= 1

    def _reap_idle_workers(self) -> None:
        """End execution environments idle for longer than ``idle_seconds``, as Lambda reclaims them."""
        while not self.closed.wait(min(10.0, max(0.1, self.idle_seconds / 4))):
            cutoff = time.monotonic() - self.idle_seconds
            with self._lock:
                expired = [w for idle in self._idle.values() for w in idle if w.last_used < cutoff]
                for key, idle in list(self._idle.items()):
                    self._idle[key] = [w for w in idle if w.last_used >= cutoff]
                    if not self._idle[key]:
                        del self._idle[key]
            for worker in expired:
                worker.kill()

    def _watch_memory(self) -> None:
        """Kill any busy worker whose resident memory exceeds its function's ``MemorySize``."""
        while not self.closed.is_set():
            self._running.wait()
            with self._lock:
                busy = list(self._busy)
                if not busy:
                    self._running.clear()
                    continue
            for worker in busy:
                resident = worker.resident_kb()
                worker.peak_resident_kb = max(worker.peak_resident_kb, resident)
                if resident > worker.spec.memory_size * 1024 and not worker.out_of_memory:
                    worker.kill_for_memory()
            self.closed.wait(MEMORY_POLL_SECONDS)

    # -- execution environments -------------------------------------------------------------

    def _acquire(self, spec: FunctionSpec) -> _Worker:
        key = spec.environment_key
        stale: list[_Worker] = []
        with self._lock:
            for other_key, idle in list(self._idle.items()):
                if other_key != key and idle and idle[0].spec.arn == spec.arn and idle[0].spec.version == spec.version:
                    stale.extend(self._idle.pop(other_key))
            idle = self._idle.get(key)
            worker = idle.pop() if idle else None
            if worker is not None:
                self._busy.add(worker)
                self._running.set()
        for old in stale:
            old.kill()
        if worker is not None and worker.process.poll() is None:
            return worker
        if worker is not None:  # died while idle
            self._release(worker, keep=False)
        code_dir = self._code_dir(spec)
        worker = _Worker(spec, code_dir, self._environment(spec, code_dir), self._log_path())
        with self._lock:
            self._busy.add(worker)
            self._running.set()
        return worker

    def _release(self, worker: _Worker, keep: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            keep = keep and not worker.retired and not self.closed.is_set()
            if keep:
                worker.last_used = time.monotonic()
                self._idle.setdefault(worker.spec.environment_key, []).append(worker)
        if not keep:
            worker.kill()

    def _code_dir(self, spec: FunctionSpec) -> Path:
        """The deployment package unpacked once per code hash (Lambda's ``/var/task``)."""
        target = self.work_dir / "code" / spec.code_sha256
        if not target.exists():
            staging = target.with_name(f"{target.name}.{uuid.uuid4().hex}")
            try:
                extract_zip(spec.code_zip, staging, f"the deployment package of {spec.name}")
            except (PathEscape, zipfile.BadZipFile) as error:
                shutil.rmtree(staging, ignore_errors=True)
                raise BadPackage(f"Lambda could not unzip the deployment package of {spec.name}: {error}") from None
            try:
                staging.rename(target)
            except OSError:  # another thread unpacked it first
                shutil.rmtree(staging, ignore_errors=True)
        return target

    def _log_path(self) -> Path:
        return self.work_dir / "logs" / f"{uuid.uuid4().hex}.log"

    def _environment(self, spec: FunctionSpec, code_dir: Path) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(spec.environment)
        env.update(self.client_env)
        env.update(
            {
                "_HANDLER": spec.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "LAMBDA_TASK_ROOT": str(code_dir),
                "LAMBDA_RUNTIME_DIR": str(WORKER_SCRIPT.parent),
                "PYTHONPATH": os.pathsep.join(self._python_path(spec)),
            }
        )
        return env

    def _python_path(self, spec: FunctionSpec) -> list[str]:
        try:
            return self.packaging.python_path(spec.runtime, spec.layers)
        except (PathEscape, zipfile.BadZipFile) as error:
            raise BadPackage(f"Lambda could not unzip a layer of {spec.name}: {error}") from None

    # -- one invocation ---------------------------------------------------------------------

    def _run(self, worker: _Worker, spec: FunctionSpec, event: bytes, request_id: str) -> tuple[InvocationResult, bool]:
        """Returns the result and whether the worker may serve again."""
        started_wall = time.time()
        deadline = time.monotonic() + spec.timeout
        lines: list[tuple[int, str]] = []

        def log(message: str) -> None:
            lines.append((int(time.time() * 1000), message))

        cold = worker.init_ms is None
        try:
            if cold and not worker.start(deadline):
                return self._timed_out(worker, spec, request_id, started_wall, lines, log), False
        except _WorkerExited:
            return self._exited(worker, spec, request_id, lines, log, 0.0, None), False
        for line in worker.new_output():
            log(line)
        if worker.init_error:
            log(f"INIT_REPORT Init Duration: {worker.init_ms:.2f} ms\tPhase: init\tStatus: error\tError Type: {worker.init_error['errorType']}")
            log(f"START RequestId: {request_id} Version: {spec.version}")
            log(json.dumps(worker.init_error))
            log(f"END RequestId: {request_id}")
            log(self._report(request_id, spec, 0.0, None, worker.init_ms))
            error = dict(worker.init_error, requestId=request_id)
            return self._finish(spec, worker, lines, json.dumps(error).encode(), "Unhandled"), False

        log(f"START RequestId: {request_id} Version: {spec.version}")
        try:
            event_text = event.decode("utf-8") if isinstance(event, bytes) else event
        except UnicodeDecodeError:
            event_text = json.dumps(None)
        invoke_started = time.perf_counter()
        try:
            worker.send(
                {
                    "event": event_text,
                    "request_id": request_id,
                    "deadline_ms": started_wall * 1000 + spec.timeout * 1000,
                    "invoked_function_arn": spec.arn if spec.version == "$LATEST" else f"{spec.arn}:{spec.version}",
                }
            )
            reply = worker.receive(deadline)
        except (_WorkerExited, BrokenPipeError):
            duration_ms = (time.perf_counter() - invoke_started) * 1000
            return self._exited(worker, spec, request_id, lines, log, duration_ms, worker.init_ms if cold else None), False
        duration_ms = (time.perf_counter() - invoke_started) * 1000
        if reply is None:
            return self._timed_out(worker, spec, request_id, started_wall, lines, log), False
        if reply["max_rss_kb"] > spec.memory_size * 1024 and not worker.out_of_memory:
            # Its peak passed the limit between two of the watcher's reads: Lambda would have killed it.
            worker.kill_for_memory()
        if worker.out_of_memory:
            return self._exited(worker, spec, request_id, lines, log, duration_ms, worker.init_ms if cold else None), False

        for line in worker.new_output():
            log(line)
        log(f"END RequestId: {request_id}")
        max_rss_kb = max(reply["max_rss_kb"], worker.peak_resident_kb)
        log(self._report(request_id, spec, duration_ms, max_rss_kb, worker.init_ms if cold else None))
        if "error" in reply:
            return self._finish(spec, worker, lines, json.dumps(reply["error"]).encode(), "Unhandled"), True
        return self._finish(spec, worker, lines, reply["payload"].encode("utf-8"), None), True

    def _exited(self, worker, spec, request_id, lines, log, duration_ms, init_ms) -> InvocationResult:
        """The runtime exited (crashed, was killed for exceeding its memory, or the function called
        ``sys.exit``) during the call."""
        message = f"RequestId: {request_id} Error: Runtime exited with error: {worker.exit_status()}"
        if worker.out_of_memory:
            # Lambda's memory limit is a cgroup's: usage never reads above it, so the peak shown is the limit.
            error_type, max_rss_kb = "Runtime.OutOfMemory", spec.memory_size * 1024
        else:
            error_type, max_rss_kb = "Runtime.ExitError", worker.peak_resident_kb or None
        for line in worker.new_output():
            log(line)
        if not any(line.startswith("START ") for _, line in lines):
            log(f"START RequestId: {request_id} Version: {spec.version}")
        log(message)
        log(error_type)
        log(f"END RequestId: {request_id}")
        log(self._report(request_id, spec, duration_ms, max_rss_kb, init_ms, error_type))
        error = {"errorType": error_type, "errorMessage": message}
        return self._finish(spec, worker, lines, json.dumps(error).encode(), "Unhandled")

    def _timed_out(self, worker, spec, request_id, started_wall, lines, log) -> InvocationResult:
        for line in worker.new_output():
            log(line)
        worker.kill()
        elapsed = time.time() - started_wall
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        if not any(line.startswith("START ") for _, line in lines):
            log(f"START RequestId: {request_id} Version: {spec.version}")
        log(f"{stamp} {request_id} Task timed out after {spec.timeout:.2f} seconds")
        log(f"END RequestId: {request_id}")
        log(self._report(request_id, spec, elapsed * 1000, None, None))
        error = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after {spec.timeout:.2f} seconds",
        }
        return self._finish(spec, worker, lines, json.dumps(error).encode(), "Unhandled")

    @staticmethod
    def _report(request_id, spec, duration_ms, max_rss_kb, init_ms, error_type=None) -> str:
        parts = [
            f"REPORT RequestId: {request_id}",
            f"Duration: {duration_ms:.2f} ms",
            f"Billed Duration: {max(1, math.ceil(duration_ms + (init_ms or 0)))} ms",
            f"Memory Size: {spec.memory_size} MB",
        ]
        if max_rss_kb is not None:
            parts.append(f"Max Memory Used: {math.ceil(max_rss_kb / 1024)} MB")
        if init_ms is not None:
            parts.append(f"Init Duration: {init_ms:.2f} ms")
        if error_type is not None:
            parts += ["Status: error", f"Error Type: {error_type}"]
        return "\t".join(parts)

    def _finish(self, spec, worker, lines, payload, function_error) -> InvocationResult:
        self.log_sink(spec.region, spec.log_group, worker.log_stream, lines)
        return InvocationResult(
            payload=payload,
            function_error=function_error,
            log_lines=[message for _, message in lines],
            executed_version=spec.version,
        )
