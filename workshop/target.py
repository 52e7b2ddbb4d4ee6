"""Where the workshop runs: offline on the local AWS emulator (default) or on a real AWS account."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("local", "aws")


@dataclass(frozen=True)
class Target:
    name: str  # "local" or "aws"
    region: str
    account_id: str
    endpoint_url: str | None  # the local emulator's address; None on AWS

    def __str__(self) -> str:
        if self.name == "local":
            return f"Target: offline (local AWS emulator), region {self.region}, account {self.account_id}"
        return f"Target: AWS account {self.account_id}, region {self.region} (resources here cost money)"


_current: Target | None = None


def connect() -> Target:
    """Choose the target from ``WORKSHOP_TARGET`` and point every AWS client at it."""
    global _current
    name = os.environ.get("WORKSHOP_TARGET", "local").strip().lower()
    if name not in TARGETS:
        raise ValueError(f"WORKSHOP_TARGET={name!r}: use 'local' (offline, the default) or 'aws'")
    if name == "local":
        from localcloud import config
        from localcloud.cli import client_env, running_state

        state = running_state()
        if state is None:
            started = subprocess.run([sys.executable, "-m", "localcloud", "start"], capture_output=True, text=True)
            state = running_state()
            if started.returncode != 0 or state is None:
                raise RuntimeError(f"Could not start the local AWS emulator: {started.stderr or started.stdout}")
        os.environ.update(client_env(state))
        boto3.setup_default_session()
        _current = Target("local", config.DEFAULT_REGION, config.ACCOUNT_ID, state["endpoint_url"])
    else:
        session = boto3.Session()
        if not session.region_name:
            raise RuntimeError("No AWS region configured: set AWS_DEFAULT_REGION or run `aws configure`.")
        try:
            account = session.client("sts").get_caller_identity()["Account"]
        except Exception as error:
            raise RuntimeError(f"No usable AWS credentials ({error}). Run `aws configure` or set AWS_PROFILE.") from None
        _current = Target("aws", session.region_name, account, None)
    return _current


def current() -> Target:
    return _current or connect()


_EXECUTE_API = re.compile(r"^https://(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com/(?P<rest>.*)$")


def api_url(invoke_url: str) -> str:
    """A stage's invoke URL (as a template outputs it) in the form that answers on the current target."""
    target = current()
    match = _EXECUTE_API.match(invoke_url)
    if target.name == "aws" or not match:
        return invoke_url
    return f"{target.endpoint_url}/_aws/execute-api/{match['api']}/{match['rest']}"
