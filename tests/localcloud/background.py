"""A localcloud started the way users start it (``python -m localcloud start`` in its own
``LOCALCLOUD_HOME``), and what ``ps`` says about processes (Linux and macOS alike)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config


def localcloud(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localcloud", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without AWS variables, plus ``extra``."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | extra


class Background:
    """One background localcloud in ``home``; ``client(service)`` talks to it with the credentials
    ``python -m localcloud env`` prints."""

    def __init__(self, home: Path, **environment: str):
        self.home = Path(home)
        self.env = clean_environment(LOCALCLOUD_HOME=str(self.home), **environment)

    def start(self) -> Background:
        started = localcloud("start", "--port", "0", env=self.env)
        assert started.returncode == 0, started.stderr + started.stdout
        printed = localcloud("env", env=self.env).stdout
        self.client_env = {name: shlex.split(value)[0] for name, value in
                           (line.removeprefix("export ").split("=", 1) for line in printed.splitlines())}
        return self

    def stop(self) -> None:
        localcloud("stop", env=self.env)

    @property
    def pid(self) -> int:
        """The server's pid, from ``python -m localcloud status``."""
        status = localcloud("status", env=self.env).stdout
        return int(status.rsplit("(pid ", 1)[1].rstrip(")\n"))

    def client(self, service: str, retries: int = 3):
        session = boto3.session.Session(aws_access_key_id=self.client_env["AWS_ACCESS_KEY_ID"],
                                        aws_secret_access_key=self.client_env["AWS_SECRET_ACCESS_KEY"],
                                        region_name="us-east-1")
        return session.client(service, endpoint_url=self.client_env["AWS_ENDPOINT_URL"],
                              config=Config(retries={"total_max_attempts": retries}))


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    pgid: int
    state: str
    command: str


def processes() -> list[Process]:
    """Every process ``ps`` lists."""
    shown = subprocess.run(["ps", "-A", "-ww", "-o", "pid=,ppid=,pgid=,stat=,command="], capture_output=True,
                           text=True, check=True).stdout
    found = []
    for line in shown.splitlines():
        pid, ppid, pgid, state, *command = line.split(None, 4)
        found.append(Process(int(pid), int(ppid), int(pgid), state, command[0] if command else ""))
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: it has exited and waits to be reaped)."""
    return any(p.pid == pid and not p.state.startswith("Z") for p in processes())


def zombie(pid: int) -> bool:
    return any(p.pid == pid and p.state.startswith("Z") for p in processes())


def descendants(pid: int) -> list[Process]:
    """The processes ``pid`` started, their children, and everything in their process groups."""
    table = processes()
    found: dict[int, Process] = {}
    frontier = {pid}
    while frontier:
        children = [p for p in table if p.ppid in frontier and p.pid not in found]
        found.update((p.pid, p) for p in children)
        frontier = {p.pid for p in children}
    groups = {p.pgid for p in found.values()}
    found.update((p.pid, p) for p in table if p.pgid in groups and p.pid != pid)
    return list(found.values())


def children_running(parent: int, fragment: str) -> set[int]:
    """Pids of ``parent``'s running children whose command line contains ``fragment``."""
    return {p.pid for p in processes() if p.ppid == parent and fragment in p.command and not p.state.startswith("Z")}
