"""Training processes forked from a pre-imported process per algorithm (localcloud's side of
:mod:`localcloud.algorithms.zygote`, which says why and what a forked child keeps).

:meth:`Zygotes.start_training` returns a :class:`ForkedTraining`, which the training runner uses as it
uses the ``Popen`` of a spawned container: ``pid`` (its session, for ``killpg``), ``stdout``,
``poll()`` and ``wait()``.  The zygote of an algorithm starts with the first job that trains it, with
that job's environment (what libraries read when imported, such as ``OMP_NUM_THREADS``, must be the
job's); a job whose environment differs retires it (it forks no more, and exits once its children
have) and starts another; so does a job that finds it gone, after IDLE_SECONDS without a job.  A
zygote that cannot fork safely (or is not ready within READY_SECONDS) is remembered with the
environment it had, and the jobs of that algorithm and environment are spawned.  A zygote that died
is replaced by the next job; the children it left lose their exit status, so they are killed and end
with status -9.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading

from localcloud import lifetimes

logger = logging.getLogger("localcloud.sagemaker")

# Libraries that start threads when imported, told not to in the zygote only (see localcloud.algorithms.zygote).
IMPORT_WITHOUT_THREADS = {"OPENBLAS_NUM_THREADS": "1", "JE_ARROW_MALLOC_CONF": "background_thread:false"}
IDLE_SECONDS = 300  # a zygote with no job for this long exits; the next job starts another
READY_SECONDS = 120  # the import may take this long on a loaded machine; beyond it the algorithm's jobs are spawned


class ForkedTraining:
    """A training process forked by a zygote; its exit status comes from the zygote, which reaps it."""

    def __init__(self, pid: int, stdout):
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None
        self._exited = threading.Event()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self) -> int:
        self._exited.wait()
        return self.returncode

    def exited(self, status: int) -> None:
        self.returncode = status
        self._exited.set()


class Zygote:
    def __init__(self, algorithm: str, environment: dict[str, str]):
        self.algorithm = algorithm
        self.environment = environment
        ours, theirs = socket.socketpair()
        self.argv = [sys.executable, "-m", "localcloud.algorithms.zygote", algorithm, str(theirs.fileno()),
                     str(IDLE_SECONDS)]
        with theirs:
            self.process = lifetimes.spawn(self.argv, env={**IMPORT_WITHOUT_THREADS, **environment},
                                           pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.control = ours
        self._replies = ours.makefile("rb")
        self._request_lock = threading.Lock()  # one fork request (and its attached descriptor) at a time
        self._forked = threading.Condition()
        self._last_forked: ForkedTraining | None = None
        self._pending_output = None
        self._children: dict[int, ForkedTraining] = {}
        self.ready = self._read_ready()
        if self.ready:
            threading.Thread(target=self._read_replies, name=f"zygote-{algorithm}", daemon=True).start()

    def _read_ready(self) -> bool:
        self.control.settimeout(READY_SECONDS)
        try:
            line = self._replies.readline()
        except TimeoutError:
            line = b""
            self.kill()
        self.control.settimeout(None)
        answer = json.loads(line) if line else {"ready": False}
        if not answer["ready"]:
            logger.info("the %s zygote is not ready to fork (threads: %s); its jobs are spawned",
                        self.algorithm, answer.get("threads", "unknown"))
            self._end()
        return answer["ready"]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and self.control.fileno() != -1

    def fork(self, cwd: str, environment: dict[str, str]) -> ForkedTraining | None:
        """A child running the algorithm's training in ``cwd``; None if the zygote is gone."""
        with self._request_lock:
            output_read, output_write = os.pipe()
            with self._forked:
                self._last_forked = None
                # The reply thread wraps it as soon as the zygote names the child, before any exit can be read.
                self._pending_output = os.fdopen(output_read, "rb")
            try:
                socket.send_fds(self.control, [json.dumps({"cwd": cwd, "env": environment}).encode() + b"\n"],
                                [output_write])
                with self._forked:
                    self._forked.wait_for(lambda: self._last_forked is not None or not self.alive)
                    child, self._last_forked = self._last_forked, None
            except OSError:
                child = None
            finally:
                os.close(output_write)
                with self._forked:
                    if self._pending_output is not None:  # the zygote never took it
                        self._pending_output.close()
                        self._pending_output = None
        if child is not None:
            lifetimes.record(child.pid, self.argv)
        return child

    def _read_replies(self) -> None:
        try:
            for line in self._replies:
                message = json.loads(line)
                with self._forked:
                    if "forked" in message:
                        child = ForkedTraining(message["forked"], self._pending_output)
                        self._pending_output = None
                        self._children[child.pid] = self._last_forked = child
                        self._forked.notify_all()
                    else:
                        child = self._children.pop(message["exited"], None)
                        if child is not None:
                            child.exited(message["status"])
        except (OSError, ValueError):
            pass
        self._end()
        with self._forked:
            orphans = list(self._children.values())
            self._children.clear()
            self._forked.notify_all()
        for child in orphans:
            # Nothing can report how they end any more; ending them now beats a job that never finishes.
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.exited(-signal.SIGKILL)

    def retire(self) -> None:
        """Fork no more; the zygote exits once its children have."""
        try:
            self.control.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _end(self) -> None:
        if self.process.poll() is None:
            self.process.wait()
        lifetimes.forget(self.process)
        self._replies.close()  # the socket's descriptor closes with the last of its file objects
        self.control.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)


class Zygotes:
    """At most one zygote an algorithm at a time, started on first use."""

    def __init__(self):
        self._lock = threading.Lock()
        self._zygotes: dict[str, Zygote] = {}
        self._unforkable: set[tuple[str, frozenset]] = set()  # (algorithm, environment) whose import starts threads

    def start_training(self, algorithm: str, cwd: str, environment: dict[str, str]) -> ForkedTraining | None:
        """A forked training process, or None if this algorithm's jobs must be spawned."""
        # The zygote gets the job's environment but OPT_ML, the one variable that differs between jobs.
        shared = {name: value for name, value in environment.items() if name != "OPT_ML"}
        key = (algorithm, frozenset(shared.items()))
        for _ in range(2):  # a zygote found dead is replaced once
            with self._lock:
                if key in self._unforkable:
                    return None
                zygote = self._zygotes.get(algorithm)
                if zygote is None or zygote.environment != shared or not zygote.alive:
                    fresh = Zygote(algorithm, shared)
                    if not fresh.ready:
                        self._unforkable.add(key)
                        return None
                    if zygote is not None:
                        zygote.retire()
                    self._zygotes[algorithm] = zygote = fresh
            child = zygote.fork(cwd, environment)
            if child is not None:
                return child
        return None

    def shutdown(self) -> None:
        with self._lock:
            zygotes = list(self._zygotes.values())
            self._zygotes.clear()
        for zygote in zygotes:
            zygote.kill()
