"""``python -m localcloud start|status|env|stop`` and awscli through the printed environment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """IPv4 addresses listening on ``port``, from the kernel's socket table."""
    addresses = set()
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if int(port_hex, 16) == port and state == "0A":  # 0A: LISTEN
                addresses.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return addresses


def localcloud(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localcloud", *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def cli_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["LOCALCLOUD_HOME"] = str(tmp_path / "home")
    yield env
    localcloud("stop", env=env)


def test_start_status_env_stop_and_awscli(cli_env):
    port = free_port()
    started = localcloud("start", "--port", str(port), env=cli_env)
    assert started.returncode == 0, started.stderr
    assert f"http://127.0.0.1:{port}" in started.stdout

    assert localcloud("start", "--port", str(port), env=cli_env).stdout.startswith("localcloud is already running")
    assert listening_addresses(port) == {"127.0.0.1"}, "binds loopback unless another host is asked for"
    status = localcloud("status", env=cli_env)
    assert status.returncode == 0 and "is running" in status.stdout

    printed = localcloud("env", env=cli_env).stdout
    exports = dict(line.removeprefix("export ").split("=", 1) for line in printed.splitlines())
    assert exports["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}"
    assert exports["AWS_DEFAULT_REGION"] == "us-east-1"
    assert "TelemetryOptOut: true" in open(exports["SAGEMAKER_USER_CONFIG_OVERRIDE"]).read()

    # The break-glass way: eval the exports, then plain awscli commands.
    script = f'eval "$({sys.executable} -m localcloud env)" && {sys.executable} -m awscli s3 mb s3://cli-bucket ' \
             f'&& {sys.executable} -m awscli s3 ls'
    listed = subprocess.run(["bash", "-c", script], env=cli_env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "cli-bucket" in listed.stdout

    stopped = localcloud("stop", env=cli_env)
    assert stopped.returncode == 0
    assert localcloud("status", env=cli_env).returncode == 1
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_an_overwritten_object_is_let_go(cli_env):
    """On a bucket without versioning, PUT to an existing key replaces the object: the old data is gone
    (Amazon S3 User Guide, "Retaining multiple versions of objects with S3 Versioning": without
    versioning, an object written to an existing key overwrites it).  moto used to keep every
    replaced object's record for the life of the server (memory grew ~45 MB a minute under overwrites,
    and garbage collection paused every request longer and longer); its /moto-api record of live
    objects now lists the one current object."""
    port = free_port()
    started = localcloud("start", "--port", str(port), "--moto-api", env=cli_env)
    assert started.returncode == 0, started.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in
                   localcloud("env", env=cli_env).stdout.splitlines())
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                      aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"])
    s3.create_bucket(Bucket="overwritten")
    for generation in range(40):
        s3.put_object(Bucket="overwritten", Key="object", Body=f"generation {generation}".encode() * 1000)
    assert s3.get_object(Bucket="overwritten", Key="object")["Body"].read().startswith(b"generation 39")

    request = AWSRequest("GET", f"http://127.0.0.1:{port}/moto-api/data.json")
    SigV4Auth(Credentials(exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"]), "s3",
              "us-east-1").add_auth(request)
    prepared = request.prepare()
    with urllib.request.urlopen(urllib.request.Request(prepared.url, headers=dict(prepared.headers)),
                                timeout=30) as response:
        tracked = json.load(response)["s3"]["FakeKey"]
    assert [key["name"] for key in tracked if key.get("bucket_name") == "overwritten"] == ["object"]
