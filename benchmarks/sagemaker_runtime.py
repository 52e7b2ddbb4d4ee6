"""SageMaker on localcloud against the bare container and the bare library, measured in one run.

    python -m benchmarks.sagemaker_runtime [--rows 50000] [--rounds 200] [--repeat 500]

* InvokeEndpoint through localcloud against POSTing to the serving container's /invocations
  directly, with the same HTTP client and calls interleaved (so the difference is localcloud's
  routing, signature check included, and both see the same load on the machine), plus boto3's
  invoke_endpoint for scale.  The request to localcloud is signed once, outside the timing: its
  signature stays valid for the whole run.  Also the CPU that localcloud's own process spends on
  one call (Linux), which, unlike latency, barely moves with what else the machine runs.
  Target: overhead p50 <= 1 ms.
* A training job against ``xgboost.train`` on the same data and parameters.  The job's fixed
  start-up (process start, imports, S3 copy, upload, status polling) is measured with a one-round
  job on tiny data and reported separately.  Target: (job - start-up) <= 1.2x the library.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests
import xgboost as xgb
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from sklearn.datasets import make_classification

from benchmarks.common import localcloud_process, report, summary, timed, xgboost_serving_container

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/Benchmark"
BUCKET = "benchmark-data"


def csv_bytes(features: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    rows = features if labels is None else np.column_stack([labels, features])
    buffer = io.StringIO()
    np.savetxt(buffer, rows, delimiter=",", fmt="%.6g")
    return buffer.getvalue().encode()


def signed(session, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with a SigV4 signature of the InvokeEndpoint request, as boto3 would sign it."""
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(session.get_credentials(), "sagemaker", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def interleaved(calls: dict[str, object], repeat: int) -> dict[str, list[float]]:
    """Wall-clock milliseconds of each call, taking turns, so that both see the same machine."""
    samples = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            samples[name].extend(timed(call, 1))
    return samples


def localcloud_cpu_seconds() -> float | None:
    """CPU time used so far by the localcloud server among this process's children (Linux's /proc)."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return None
    for task in tasks.iterdir():
        for child in (task / "children").read_text().split():
            if b"localcloud\0serve" in Path(f"/proc/{child}/cmdline").read_bytes():
                fields = Path(f"/proc/{child}/stat").read_text().rpartition(")")[2].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return None


def run_job(sagemaker, name: str, train_uri: str, params: dict, rounds: int) -> float:
    started = time.perf_counter()
    sagemaker.create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        InputDataConfig=[{"ChannelName": "train", "ContentType": "text/csv",
                          "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": train_uri}}}],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={**{k: str(v) for k, v in params.items()}, "num_round": str(rounds)},
    )
    while True:
        status = sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
        if status != "InProgress":
            break
        time.sleep(0.05)
    if status != "Completed":
        raise RuntimeError(f"{name}: {sagemaker.describe_training_job(TrainingJobName=name).get('FailureReason')}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=500)
    args = parser.parse_args()

    features, labels = make_classification(n_samples=args.rows, n_features=args.features, n_informative=20,
                                           random_state=0)
    params = {"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "tree_method": "hist", "seed": 0}
    train_csv = csv_bytes(features, labels)

    started = time.perf_counter()
    xgb.train(params, xgb.DMatrix(features, label=labels), num_boost_round=args.rounds)
    raw_train = time.perf_counter() - started
    started = time.perf_counter()
    frame = pd.read_csv(io.BytesIO(train_csv), header=None).to_numpy(dtype=np.float32)
    xgb.train(params, xgb.DMatrix(frame[:, 1:], label=frame[:, 0]), num_boost_round=args.rounds)
    raw_read_train = time.perf_counter() - started

    with localcloud_process() as (endpoint_url, session):
        s3 = session.client("s3", endpoint_url=endpoint_url)
        sagemaker = session.client("sagemaker", endpoint_url=endpoint_url)
        runtime = session.client("sagemaker-runtime", endpoint_url=endpoint_url)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="big/train.csv", Body=train_csv)
        s3.put_object(Bucket=BUCKET, Key="tiny/train.csv", Body=csv_bytes(features[:50], labels[:50]))

        startup = min(run_job(sagemaker, f"startup-{i}", f"s3://{BUCKET}/tiny/", params, 1) for i in range(3))
        job = run_job(sagemaker, "benchmark", f"s3://{BUCKET}/big/", params, args.rounds)

        artifact = sagemaker.describe_training_job(TrainingJobName="benchmark")["ModelArtifacts"]["S3ModelArtifacts"]
        sagemaker.create_model(ModelName="benchmark", ExecutionRoleArn=ROLE,
                               PrimaryContainer={"Image": IMAGE, "ModelDataUrl": artifact})
        sagemaker.create_endpoint_config(EndpointConfigName="benchmark", ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "benchmark", "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}])
        sagemaker.create_endpoint(EndpointName="benchmark", EndpointConfigName="benchmark")
        sagemaker.get_waiter("endpoint_in_service").wait(EndpointName="benchmark", WaiterConfig={"Delay": 0.2})

        body = csv_bytes(features[:1])
        headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
        http = requests.Session()
        through_localcloud = f"{endpoint_url}/endpoints/benchmark/invocations"
        localcloud_headers = signed(session, through_localcloud, body, headers)
        via_boto3 = summary(timed(lambda: runtime.invoke_endpoint(
            EndpointName="benchmark", Body=body, ContentType="text/csv")["Body"].read(), args.repeat))

        archive = s3.get_object(Bucket=BUCKET, Key=artifact.split(f"{BUCKET}/", 1)[1])["Body"].read()
        with xgboost_serving_container(archive) as (direct_url, _):
            expected = http.post(direct_url, data=body, headers=headers, timeout=30)
            answer = http.post(through_localcloud, data=body, headers=localcloud_headers, timeout=30)
            if answer.status_code != 200 or answer.content != expected.content:
                raise RuntimeError(f"localcloud answered {answer.status_code} {answer.content[:300]!r}, "
                                   f"the container {expected.content[:300]!r}")
            cpu_before = localcloud_cpu_seconds()
            samples = interleaved({
                "direct": lambda: http.post(direct_url, data=body, headers=headers, timeout=30).content,
                "localcloud": lambda: http.post(through_localcloud, data=body, headers=localcloud_headers,
                                                timeout=30).content,
            }, args.repeat)
            cpu_after = localcloud_cpu_seconds()
        direct, via_localcloud = summary(samples["direct"]), summary(samples["localcloud"])
        cpu_per_call = None if cpu_before is None else (cpu_after - cpu_before) / args.repeat * 1000

    overhead = {key: via_localcloud[key] - direct[key] for key in ("p50", "p99")}
    report(f"InvokeEndpoint, one CSV row ({args.repeat} calls each, interleaved, same HTTP client)", [
        ("POST to the container's /invocations", f"p50 {direct['p50']:.2f} ms   p99 {direct['p99']:.2f} ms"),
        ("POST through localcloud", f"p50 {via_localcloud['p50']:.2f} ms   p99 {via_localcloud['p99']:.2f} ms"),
        ("overhead", f"p50 {overhead['p50']:.2f} ms   p99 {overhead['p99']:.2f} ms   target p50 <= 1 ms: "
                     f"{'met' if overhead['p50'] <= 1 else 'MISSED'}"),
        ("localcloud's own CPU per call", "n/a (no /proc)" if cpu_per_call is None else f"{cpu_per_call:.2f} ms"),
        ("for scale: boto3 invoke_endpoint", f"p50 {via_boto3['p50']:.2f} ms   p99 {via_boto3['p99']:.2f} ms"),
        ("localcloud / direct", f"{via_localcloud['p50'] / direct['p50']:.2f}x at p50"),
    ])
    work = job - startup
    report(f"Training, {args.rows} x {args.features} CSV, {args.rounds} rounds", [
        ("xgboost.train on arrays", f"{raw_train:.2f} s"),
        ("pandas read of the same CSV + xgboost.train", f"{raw_read_train:.2f} s"),
        ("training job, end to end", f"{job:.2f} s"),
        ("fixed start-up (best of 3 one-round jobs)", f"{startup:.2f} s"),
        ("job - start-up vs read + train", f"{work / raw_read_train:.2f}x   target <= 1.2x: "
                                           f"{'met' if work <= 1.2 * raw_read_train else 'MISSED'}"),
        ("job - start-up vs train on arrays", f"{work / raw_train:.2f}x"),
    ])


if __name__ == "__main__":
    main()
