"""``python -m localcloud serve|start|stop|status|env``."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from localcloud import config, lifetimes

START_TIMEOUT_SECONDS = 60


def state_file() -> Path:
    return config.home() / "state.json"


def write_private(path: Path, text: str) -> None:
    """Write a file only this user can read: the state file holds the instance's secret key."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def read_state() -> dict | None:
    try:
        return json.loads(state_file().read_text())
    except (OSError, ValueError):
        return None


def work_dir() -> Path:
    return config.home() / "work"


def healthy(state: dict) -> bool:
    """Whether the localcloud that wrote ``state`` answers at its address (not another one, nor nothing)."""
    import urllib.request  # 50 ms that `serve` does without

    try:
        with urllib.request.urlopen(f"{state['endpoint_url']}/_localcloud/health", timeout=2) as response:
            health = json.load(response)
    except (OSError, ValueError, KeyError):
        return False
    return health.get("status") == "running" and health.get("instance") == state.get("instance")


def running_state() -> dict | None:
    state = read_state()
    if state and healthy(state):
        return state
    return None


def serve(args: argparse.Namespace) -> int:
    scrubbed = lifetimes.host_credentials_removed(dict(os.environ))
    if scrubbed != os.environ:
        # The host's AWS credentials must not be readable in this process's environment (a function
        # could read /proc/<pid>/environ): start again without them, before importing moto for nothing.
        os.execve(sys.executable, [sys.executable, "-m", "localcloud", *sys.argv[1:]], scrubbed)
    # jsonschema (moto's API Gateway imports it) compiles 38 grammars at import, 0.85 s, when the
    # optional rfc3987-syntax is installed (JupyterLab brings it), only to check the "iri" format,
    # which nothing in localcloud validates: the server process goes without it.
    sys.modules.setdefault("rfc3987_syntax", None)
    from localcloud.core import LocalCloud

    home = config.home()
    cloud = LocalCloud(host=args.host, port=args.port, work_dir=work_dir(), access_log=args.access_log,
                       allowed_origins=frozenset(args.allow_origin), moto_api=args.moto_api)
    try:
        cloud.start()
    except lifetimes.WorkDirInUse as error:
        print(error, file=sys.stderr)
        return 1
    state = {"pid": os.getpid(), "instance": lifetimes.INSTANCE, "host": args.host, "port": cloud.port, "endpoint_url": cloud.endpoint_url,
             "sdk_config": str(cloud.sdk_config_path), "access_key_id": cloud.credentials.access_key_id,
             "secret_access_key": cloud.credentials.secret_access_key}
    home.mkdir(parents=True, exist_ok=True)
    write_private(state_file(), json.dumps(state))
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
    home = config.home()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "start.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent starts: the first starts it, the others find it running
        return _start(args, home)


def _start(args: argparse.Namespace, home: Path) -> int:
    state = running_state()
    if state:
        print(f"localcloud is already running at {state['endpoint_url']} (pid {state['pid']})")
        return 0
    state_file().unlink(missing_ok=True)
    log_path = home / "localcloud.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "localcloud", "serve", "--host", args.host, "--port", str(args.port),
             *(f"--allow-origin={origin}" for origin in args.allow_origin), *(["--moto-api"] if args.moto_api else [])],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env=lifetimes.host_credentials_removed(dict(os.environ)),
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(f"localcloud failed to start (exit {process.returncode}); see {log_path}", file=sys.stderr)
            return 1
        state = read_state()
        if state and state["pid"] == process.pid and healthy(state):
            print(f"localcloud started at {state['endpoint_url']} (pid {process.pid}, log {log_path})")
            return 0
        time.sleep(0.02)  # the server is healthy in ~0.3 s: a coarser poll would add most of a step to that
    process.terminate()
    print(f"localcloud did not become healthy within {START_TIMEOUT_SECONDS} s; see {log_path}", file=sys.stderr)
    return 1


def stop(args: argparse.Namespace) -> int:
    """Stop the localcloud the state file describes, after checking that its pid is still that localcloud:
    it answers with the instance token the state file holds, or it still holds the work folder's lock
    (hung).  A state file left by a crash or a reboot names a pid that may now be anything: it is
    removed and nothing is signalled."""
    state = read_state()
    if not state:
        print("localcloud is not running")
        return 0
    if not healthy(state) and lifetimes.owner_pid(work_dir()) != state.get("pid"):
        state_file().unlink(missing_ok=True)
        print(f"localcloud is not running (removed a stale state file; pid {state.get('pid')} was not signalled)")
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
    if not state:
        print("localcloud is not running: start it with `python -m localcloud start`; its credentials are "
              "generated at start.", file=sys.stderr)
        return 1
    for name, value in client_env(state).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def client_env(state: dict) -> dict[str, str]:
    """The client environment for the running localcloud that ``state`` describes."""
    return config.client_env(state["endpoint_url"], state["access_key_id"], state["secret_access_key"],
                             Path(state["sdk_config"]))


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
        if name in ("serve", "start"):
            command.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                                 help="a web page origin (e.g. http://example.test:8080) that may call the AWS APIs, "
                                      "besides loopback pages; repeatable (also LOCALCLOUD_ALLOWED_ORIGINS)")
            command.add_argument("--moto-api", action="store_true",
                                 help="open moto's /moto-api (reads and resets all state, unauthenticated)")
        if name == "serve":
            command.add_argument("--access-log", action="store_true",
                                 help="print a line per request (costs ~0.3 ms a request)")
    args = parser.parse_args(argv)
    return args.handler(args)
