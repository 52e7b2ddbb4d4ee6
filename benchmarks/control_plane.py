"""Control-plane cost of localcloud against plain moto server, measured side by side in one run.

    python -m benchmarks.control_plane [--repeat 200] [--stacks 20] [--starts 3]

Both servers run in their own process on a free loopback port and are driven by the same boto3
code; their starts alternate, and the timed calls alternate between them in rounds, so that the
machine's other load weighs on both alike.  Prints, for each: start to healthy, idle memory (RSS of the server and its children), S3
PutObject of 1 KiB, Lambda GetFunctionConfiguration, and a 5-resource stack (role, inline Lambda,
queue, topic, subscription) from CreateStack until DescribeStacks says CREATE_COMPLETE; then
localcloud's figure as a ratio of moto's.  Targets (issue 15): healthy <= 0.5 s, RSS <= 80 MB,
stack p50 <= 50 ms, PutObject and GetFunctionConfiguration p50 <= 0.7 x moto's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3

from benchmarks.common import Running, free_port, read_state, report, summary, timed

STACK = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                               "Action": "sts:AssumeRole"}]}},
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "def handler(event, context):\n    return event\n"},
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Subscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {"TopicArn": {"Ref": "Topic"}, "Protocol": "sqs",
                           "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]}},
        },
    },
}

ROUND = 20  # timed calls on one server before the other's turn


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Return once ``url`` answers at all (any HTTP status counts)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{url} did not answer") from None
            time.sleep(0.005)




def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    kilobytes = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                     if line.startswith("VmRSS:"))
    return kilobytes / 1024 + sum(rss_mb(int(child)) for child in children)


@contextlib.contextmanager
def localcloud() -> Iterator[tuple[Running, subprocess.Popen, float]]:
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "localcloud", "serve", "--port", str(port)],
            env={**os.environ, "LOCALCLOUD_HOME": home}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            endpoint_url = f"http://127.0.0.1:{port}"
            wait_healthy(f"{endpoint_url}/_localcloud/health", process)
            elapsed = time.perf_counter() - started
            state = read_state(Path(home) / "state.json")
            session = boto3.session.Session(
                aws_access_key_id=state["access_key_id"], aws_secret_access_key=state["secret_access_key"],
                region_name="us-east-1")
            yield Running(endpoint_url, session), process, elapsed
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextlib.contextmanager
def moto() -> Iterator[tuple[Running, subprocess.Popen, float]]:
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint_url = f"http://127.0.0.1:{port}"
        wait_healthy(f"{endpoint_url}/moto-api/", process)
        elapsed = time.perf_counter() - started
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name="us-east-1")
        yield Running(endpoint_url, session), process, elapsed
    finally:
        process.terminate()
        process.wait(timeout=30)


def stack_samples(cloud: Running, count: int, first: int = 0) -> list[float]:
    cloudformation = cloud.client("cloudformation")
    body = json.dumps(STACK)
    samples = []
    for index in range(first, first + count):
        name = f"bench-{index}"
        started = time.perf_counter()
        cloudformation.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
        while True:
            status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
            if status != "CREATE_IN_PROGRESS":
                break
        samples.append((time.perf_counter() - started) * 1000)
        if status != "CREATE_COMPLETE":
            raise RuntimeError(f"stack {name} ended {status}")
        cloudformation.delete_stack(StackName=name)
    return samples


def samplers(cloud: Running) -> dict[str, Callable[[int], list[float]]]:
    """For each operation, a function of ``count`` that times that many calls (on resources created here)."""
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="bench")
    body = os.urandom(1024)
    role = cloud.client("iam").create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = cloud.client("lambda")
    lam.create_function(FunctionName="bench", Runtime="python3.12", Role=role, Handler="index.handler",
                        Code={"ZipFile": _zip("def handler(event, context):\n    return event\n")})
    stacks = itertools.count()
    return {
        "S3 PutObject 1 KiB (ms)": lambda count: timed(lambda: s3.put_object(Bucket="bench", Key="object", Body=body),
                                                      count),
        "GetFunctionConfiguration (ms)": lambda count: timed(
            lambda: lam.get_function_configuration(FunctionName="bench"), count),
        "5-resource stack (ms)": lambda count: stack_samples(cloud, count, next(stacks) * 1000),
    }


def measure(args: argparse.Namespace) -> dict[str, dict[str, dict[str, float]]]:
    """Figures per server.  Starts alternate, and both servers run at once with the timed calls
    alternating in small rounds, so that the machine's other load weighs on both alike."""
    launchers = {"moto": moto, "localcloud": localcloud}
    starts: dict[str, list[float]] = {name: [] for name in launchers}
    for _ in range(args.starts):
        for name, launch in launchers.items():
            with launch() as (_, _, elapsed):
                starts[name].append(elapsed * 1000)
    figures = {name: {"start to healthy (ms)": summary(samples)} for name, samples in starts.items()}
    with contextlib.ExitStack() as running:
        servers = {name: running.enter_context(launch()) for name, launch in launchers.items()}
        time.sleep(1)
        for name, (_, process, _) in servers.items():
            memory = rss_mb(process.pid)
            figures[name]["idle RSS (MB)"] = {"p50": memory, "p99": memory, "mean": memory}
        sample = {name: samplers(cloud) for name, (cloud, _, _) in servers.items()}
        counts = {"S3 PutObject 1 KiB (ms)": args.repeat, "GetFunctionConfiguration (ms)": args.repeat,
                  "5-resource stack (ms)": args.stacks}
        for operation, count in counts.items():
            samples: dict[str, list[float]] = {name: [] for name in servers}
            rounds = count // ROUND if count > ROUND else count
            for index in range(rounds):
                for name in servers:
                    samples[name] += sample[name][operation](count // rounds + (index < count % rounds))
            for name in servers:
                figures[name][operation] = summary(samples[name])
    return figures


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--stacks", type=int, default=20)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()

    figures = measure(args)
    baseline, ours = figures["moto"], figures["localcloud"]
    rows = []
    for name, theirs in baseline.items():
        mine = ours[name]
        rows.append((name, f"localcloud p50 {mine['p50']:8.1f}   moto p50 {theirs['p50']:8.1f}   "
                           f"ratio {mine['p50'] / theirs['p50']:6.2f}   (p99 {mine['p99']:.1f} / {theirs['p99']:.1f})"))
    report("Control plane: localcloud against plain moto server, same run", rows)


if __name__ == "__main__":
    main()
