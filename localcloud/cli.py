"""``python -m localcloud serve|start|stop|status|env``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from localcloud import config

START_TIMEOUT_SECONDS = 60


def state_file() -> Path:
    return config.home() / "state.json"


def read_state() -> dict | None:
    try:
        return json.loads(state_file().read_text())
    except (OSError, ValueError):
        return None


def healthy(endpoint_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/_localcloud/health", timeout=2) as response:
            return json.load(response).get("status") == "running"
    except (OSError, ValueError):
        return False


def running_state() -> dict | None:
    state = read_state()
    if state and healthy(state["endpoint_url"]):
        return state
    return None


def serve(args: argparse.Namespace) -> int:
    from localcloud.core import LocalCloud

    home = config.home()
    cloud = LocalCloud(host=args.host, port=args.port, work_dir=home / "work", access_log=args.access_log)
    cloud.start()
    state = {"pid": os.getpid(), "host": args.host, "port": cloud.port, "endpoint_url": cloud.endpoint_url,
             "sdk_config": str(cloud.sdk_config_path)}
    home.mkdir(parents=True, exist_ok=True)
    state_file().write_text(json.dumps(state))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"localcloud listening on {cloud.endpoint_url} (Ctrl-C to stop)", flush=True)
    try:
        cloud.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if read_state() == state:
            state_file().unlink(missing_ok=True)
    return 0


def start(args: argparse.Namespace) -> int:
    state = running_state()
    if state:
        print(f"localcloud is already running at {state['endpoint_url']} (pid {state['pid']})")
        return 0
    home = config.home()
    home.mkdir(parents=True, exist_ok=True)
    state_file().unlink(missing_ok=True)
    log_path = home / "localcloud.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "localcloud", "serve", "--host", args.host, "--port", str(args.port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(f"localcloud failed to start (exit {process.returncode}); see {log_path}", file=sys.stderr)
            return 1
        state = read_state()
        if state and state["pid"] == process.pid and healthy(state["endpoint_url"]):
            print(f"localcloud started at {state['endpoint_url']} (pid {process.pid}, log {log_path})")
            return 0
        time.sleep(0.1)
    process.terminate()
    print(f"localcloud did not become healthy within {START_TIMEOUT_SECONDS} s; see {log_path}", file=sys.stderr)
    return 1


def stop(args: argparse.Namespace) -> int:
    state = read_state()
    if not state:
        print("localcloud is not running")
        return 0
    try:
        os.kill(state["pid"], signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(state["pid"]):
        time.sleep(0.1)
    if _alive(state["pid"]):
        os.kill(state["pid"], signal.SIGKILL)
    state_file().unlink(missing_ok=True)
    print(f"localcloud stopped (pid {state['pid']})")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def status(args: argparse.Namespace) -> int:
    state = running_state()
    if state:
        print(f"localcloud is running at {state['endpoint_url']} (pid {state['pid']})")
        return 0
    print("localcloud is not running; start it with: python -m localcloud start")
    return 1


def env(args: argparse.Namespace) -> int:
    state = running_state()
    if state:
        endpoint_url, sdk_config = state["endpoint_url"], Path(state["sdk_config"])
    else:
        print("# localcloud is not running: start it with `python -m localcloud start`", file=sys.stderr)
        endpoint_url = f"http://{config.DEFAULT_HOST}:{args.port}"
        sdk_config = config.write_sagemaker_sdk_config(config.home())
    for name, value in config.client_env(endpoint_url, sdk_config).items():
        print(f"export {name}={value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description="A loopback AWS for the workshop.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, help_text in [
        ("serve", serve, "run in the foreground"),
        ("start", start, "run in the background and return once healthy"),
        ("stop", stop, "stop the background server"),
        ("status", status, "say whether it is running (exit 1 if not)"),
        ("env", env, "print export lines for AWS clients"),
    ]:
        command = commands.add_parser(name, help=help_text)
        command.set_defaults(handler=handler)
        if name in ("serve", "start"):
            command.add_argument("--host", default=config.DEFAULT_HOST,
                                 help="address to bind (default 127.0.0.1; anything else exposes it)")
        if name in ("serve", "start", "env"):
            command.add_argument("--port", type=int, default=config.DEFAULT_PORT)
        if name == "serve":
            command.add_argument("--access-log", action="store_true",
                                 help="print a line per request (costs ~0.3 ms a request)")
    args = parser.parse_args(argv)
    return args.handler(args)
