"""``python -m localcloud.algorithms.zygote <algorithm> <control fd> <idle seconds>``: an algorithm imported once,
forked per job.

Importing a built-in algorithm costs more than a short training job's boosting (XGBoost: 1.2 s, most
of it scikit-learn, which ``xgboost.compat`` imports).  localcloud starts this process the first time
a job of the algorithm trains (never at start-up); it imports the algorithm's ``train`` module and
then forks one child per job, which starts training at once.

Forking is safe only from a process with one thread: a lock held by another thread at the fork stays
locked in the child forever, and libgomp's thread pool does not survive a fork.  So this process
starts no thread (it watches localcloud through its watchdog pipe in its ``select`` loop, not in a
thread as the containers do), runs no training itself, and counts its threads after the import: if a
library started one, it answers ``{"ready": false}`` and localcloud spawns that algorithm's jobs as
before.  Its environment asks the libraries that start threads when imported not to
(``OPENBLAS_NUM_THREADS=1``; pyarrow's jemalloc ``background_thread:false``); the training code of
the built-in algorithms makes no BLAS call whose speed that changes.

Each child gets what a spawned container gets: its own session (so ``killpg(pid)`` ends it and all
it started), the watchdog pipe (watched from a thread in the child, as :func:`container.main` does),
the job's environment exactly (``os.environ`` replaced; nothing of the host's), its working folder,
stdout and stderr on the pipe localcloud passed with the request, stdin on ``/dev/null``; it exits
with :func:`container.run_training`'s status without running Python's shutdown (``os._exit``).

The protocol on the control socket (a Unix stream socket), one JSON object a line:
localcloud sends ``{"cwd": ..., "env": {...}}`` with the child's output descriptor attached
(``SCM_RIGHTS``), one request at a time; this process answers ``{"forked": pid}``, and
``{"exited": pid, "status": code}`` (negative: killed by that signal) once it has reaped the child.
When localcloud shuts the socket for writing, this process forks no more and exits once its children
have exited; it exits at once when localcloud is gone (watchdog EOF), its children ending too, and
when it has had no child for ``idle seconds`` (an imported algorithm holds 100-300 MB).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import traceback

from localcloud import lifetimes
from localcloud.algorithms import container

MAX_REQUEST_BYTES = 1 << 20


def thread_count() -> int | None:
    """The threads of this process (any library's, not only Python's), or None where it cannot be known."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def main(argv: list[str]) -> int:
    algorithm, control, idle_seconds = argv[1], socket.socket(fileno=int(argv[2])), float(argv[3])
    watchdog = int(os.environ.pop(lifetimes.PARENT_FD_VARIABLE))
    try:
        train = container.entry_module(f"localcloud.algorithms.{algorithm}", "train").train
    except Exception:
        traceback.print_exc()
        train = None
    threads = thread_count()
    _send(control, {"ready": train is not None and threads == 1, "threads": threads})
    if train is None or threads != 1:
        return 1

    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    signal.set_wakeup_fd(wakeup_write)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # only to wake select through the wakeup pipe

    children: set[int] = set()
    pending, descriptors = b"", []
    accepting = True
    while accepting or children:
        readable, _, _ = select.select([watchdog, wakeup_read] + ([control] if accepting else []), [], [],
                                       None if children else idle_seconds)
        if not readable and not children:
            return 0  # idle for long enough: give the memory back; the next job starts another zygote
        if watchdog in readable and not os.read(watchdog, 1):
            return 0  # localcloud is gone; each child watches the same pipe and ends too
        if wakeup_read in readable:
            os.read(wakeup_read, 512)
            for pid, status in _reaped():
                children.discard(pid)
                _send(control, {"exited": pid, "status": status})
        if control in readable:
            data, fds, _, _ = socket.recv_fds(control, 65536, 4)
            if not data:
                accepting = False
                continue
            pending += data
            descriptors += fds
            if len(pending) > MAX_REQUEST_BYTES:
                return 1
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                output, descriptors = descriptors[0], descriptors[1:]
                pid = _fork(json.loads(line), output, train, watchdog,
                            (control.fileno(), wakeup_read, wakeup_write))
                os.close(output)
                children.add(pid)
                _send(control, {"forked": pid})
    return 0


def _reaped() -> list[tuple[int, int]]:
    ended = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended.append((pid, os.waitstatus_to_exitcode(status)))


def _fork(request: dict, output: int, train, watchdog: int, ours: tuple[int, ...]) -> int:
    """The child's pid, once it leads its own session (before that, ``killpg(pid)`` would find no group)."""
    in_session_read, in_session_write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(in_session_write)
        os.read(in_session_read, 1)  # EOF: the child closed its end, after setsid (or died)
        os.close(in_session_read)
        return pid
    code = 1
    try:
        os.setsid()
        os.close(in_session_read)
        os.close(in_session_write)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in ours:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(devnull)
        os.close(output)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if "numpy" in sys.modules:  # a spawned container's global generator is seeded afresh; so is this one
            sys.modules["numpy"].random.seed()
        lifetimes.watch_parent(watchdog)
        code = container.run_training(train)
    except BaseException:  # noqa: BLE001 - whatever happens, the child must never return into the zygote's loop
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _send(control: socket.socket, message: dict) -> None:
    control.sendall(json.dumps(message).encode() + b"\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
