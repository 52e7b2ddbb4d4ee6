"""Children that never outlive localcloud, and a work folder that belongs to one localcloud at a time.

Every process localcloud starts (Lambda workers, training and serving containers, the training
zygotes that fork training containers: see :mod:`localcloud.algorithms.zygote`) goes through
:func:`spawn`, which gives it

- its own process group, so that ending it ends whatever it started too;
- the read end of a pipe whose only write end stays in localcloud's process: when localcloud
  exits, however it exits (SIGKILL included), the child reads EOF and kills its own group
  (:func:`watch_parent`, the child side);
- a record in the work folder, so that the next localcloud sweeps any group still alive (a
  second line of defence, for a child that closed its watchdog pipe).

:func:`claim_work_dir` takes the work folder for this process (a lock held until it exits),
sweeps the groups the previous owner recorded, and clears what that owner left behind, so that
no run ever sees files from an earlier one.

This module imports only the standard library.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
from pathlib import Path

# The child side; it lives in the worker because the Lambda worker may import only the standard library.
from localcloud.awslambda.worker import watch_parent as watch_parent

INSTANCE = secrets.token_hex(16)
"""Identifies this localcloud process: written in the state file, answered by ``GET /_localcloud/health``,
and checked by ``python -m localcloud stop`` before it signals anything."""

PARENT_FD_VARIABLE = "LOCALCLOUD_PARENT_FD"
"""Environment variable naming the watchdog pipe's file descriptor in a container process."""

LOCK_NAME = ".lock"
RECORDS_NAME = ".children"

# Variables through which AWS SDKs and CLIs find credentials, profiles, config files, endpoints and
# the instance/container credential services; a process localcloud starts sees none of the host's.
_HOST_AWS_VARIABLE_PREFIXES = ("AWS_", "BOTO_")

_lock = threading.Lock()
_watchdog: tuple[int, int] | None = None
_records: Path | None = None


class WorkDirInUse(RuntimeError):
    """Another live localcloud owns the work folder."""


def host_credentials_removed(environment: dict[str, str]) -> dict[str, str]:
    """``environment`` without the host's AWS credentials, profiles, config files and endpoints."""
    return {name: value for name, value in environment.items()
            if not name.startswith(_HOST_AWS_VARIABLE_PREFIXES)}


def watchdog_fd() -> int:
    """The read end of this process's watchdog pipe (its write end is never closed nor inherited)."""
    global _watchdog
    with _lock:
        if _watchdog is None:
            _watchdog = os.pipe()  # both ends close-on-exec: only :func:`spawn` hands out the read end
        return _watchdog[0]


def spawn(argv: list[str], *, env: dict[str, str], pass_fds: tuple[int, ...] = (), **popen) -> subprocess.Popen:
    """Start a child in its own process group, watching this process through the watchdog pipe.

    The child learns the pipe's descriptor from ``LOCALCLOUD_PARENT_FD`` (or from its arguments,
    if the caller puts :func:`watchdog_fd` there) and must call :func:`watch_parent` on it.
    """
    fd = watchdog_fd()
    env = dict(env, **{PARENT_FD_VARIABLE: str(fd)})
    process = subprocess.Popen(argv, env=env, pass_fds=(*pass_fds, fd), start_new_session=True, **popen)
    record(process.pid, argv)
    return process


def record(pid: int, argv: list[str]) -> None:
    """Record a session leader that runs ``argv`` (a child forked without exec runs its parent's) for :func:`sweep`."""
    records = _records
    if records is not None:
        (records / str(pid)).write_text(json.dumps({"command": _command_line(argv)}))


def forget(process) -> None:
    """Drop ``process``'s record (anything with the ``pid`` of a recorded process) once it has been reaped."""
    records = _records
    if records is not None:
        (records / str(process.pid)).unlink(missing_ok=True)


def claim_work_dir(work_dir: Path):
    """Own ``work_dir`` for as long as the returned file stays open (the process's lifetime at most).

    Ends the process groups a previous owner recorded and left running, then empties the folder.
    Raises :class:`WorkDirInUse` if a live localcloud holds it.
    """
    global _records
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    lock = open(work_dir / LOCK_NAME, "a+")  # noqa: SIM115 - held open for the owner's lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        owner = lock.read().strip()
        lock.close()
        raise WorkDirInUse(f"Another localcloud (pid {owner or 'unknown'}) is using {work_dir}; stop it first "
                           "(python -m localcloud stop) or give this one another LOCALCLOUD_HOME.") from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    records = work_dir / RECORDS_NAME
    sweep(records)
    for entry in work_dir.iterdir():
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    records.mkdir()
    _records = records
    return lock


def release_work_dir(lock) -> None:
    """Give up the work folder :func:`claim_work_dir` took (its children have been ended)."""
    global _records
    _records = None
    lock.close()


def owner_pid(work_dir: Path) -> int | None:
    """The pid of the live localcloud that owns ``work_dir``, or None if no process holds it."""
    try:
        lock = open(Path(work_dir) / LOCK_NAME)  # noqa: SIM115
    except OSError:
        return None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = lock.read().strip()
            return int(text) if text.isdigit() else None
        return None


def sweep(records: Path) -> int:
    """SIGKILL every recorded process group whose leader still runs the recorded command; the count."""
    if not records.is_dir():
        return 0
    ended = 0
    for record in records.iterdir():
        try:
            pgid = int(record.name)
            command = json.loads(record.read_text())["command"]
        except (ValueError, KeyError, OSError):
            continue
        if _running_command(pgid) == command:
            try:
                os.killpg(pgid, signal.SIGKILL)
                ended += 1
            except ProcessLookupError:
                pass
    return ended


def _command_line(argv: list[str]) -> str:
    return " ".join(str(part) for part in argv)


def _running_command(pid: int) -> str | None:
    """The command line ``ps`` shows for ``pid`` (Linux and macOS alike), or None if it is gone."""
    try:
        shown = subprocess.run(["ps", "-ww", "-o", "command=", "-p", str(pid)], capture_output=True, text=True,
                               timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return shown.stdout.strip() or None
