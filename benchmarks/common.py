"""Small helpers shared by the benchmarks: percentiles and a fixed-width report."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import boto3


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock milliseconds of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(samples: list[float]) -> dict[str, float]:
    return {"p50": percentile(samples, 50), "p99": percentile(samples, 99), "mean": statistics.fmean(samples)}


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n{title}")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_state(path: Path, timeout: float = 10) -> dict:
    """The instance's state file, which ``serve`` writes just after the server answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


class Running(NamedTuple):
    endpoint_url: str
    session: boto3.session.Session  # holds the instance's credentials

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint_url)


@contextlib.contextmanager
def localcloud_process():
    """A localcloud in its own process, as notebooks and CI use it."""
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        process = subprocess.Popen(
            [sys.executable, "-m", "localcloud", "serve", "--port", str(port)],
            env={**os.environ, "LOCALCLOUD_HOME": home}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        endpoint_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{endpoint_url}/_localcloud/health", timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("localcloud did not start") from None
                    time.sleep(0.1)
            state = read_state(Path(home) / "state.json")
            yield Running(endpoint_url, boto3.session.Session(
                aws_access_key_id=state["access_key_id"], aws_secret_access_key=state["secret_access_key"],
                region_name="us-east-1"))
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextlib.contextmanager
def xgboost_serving_container(archive: bytes):
    """The XGBoost serving container on a ``model.tar.gz``, started directly (no localcloud in between):
    yields ``(invocations URL, seconds until its /ping answered)``."""
    with tempfile.TemporaryDirectory() as directory:
        model_dir = Path(directory) / "model"
        model_dir.mkdir()
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(model_dir, filter="data")
        port = free_port()
        started = time.perf_counter()
        container = subprocess.Popen(
            [sys.executable, "-m", "localcloud.algorithms.xgboost", "serve"],
            env={**os.environ, "OPT_ML": directory, "SAGEMAKER_BIND_TO_PORT": str(port), "OMP_NUM_THREADS": "1"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or container.poll() is not None:
                        raise RuntimeError("the serving container did not answer /ping") from None
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}/invocations", time.perf_counter() - started
        finally:
            container.kill()
            container.wait()
