"""SageMaker tuning and batch transform on localcloud against the bare library and container, in one run.

    python -m benchmarks.sagemaker_tuning [--rows 25000] [--rounds 200] [--jobs 6] [--parallel 2] [--repeat 3]

* A Bayesian tuning job of ``--jobs`` XGBoost training jobs, ``--parallel`` at a time, from
  CreateHyperParameterTuningJob to Completed, against the same ``xgboost.train`` calls (the
  hyperparameters the tuning job chose, the same train and validation data, evaluated every round as
  the jobs are) run in a plain loop with a pool of ``--parallel`` threads, right after it; ``--repeat``
  rounds of both, each on a fresh localcloud, the ratio of their means.  Target: <= 1.3x.
* A batch transform of the validation set (in 4 CSV objects, MultiRecord, 6 MB payloads) in rows per
  second, from CreateTransformJob to Completed, against POSTing the same payloads to the serving
  container directly (its start-up measured apart).
"""

from __future__ import annotations

import argparse
import io
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import requests
import xgboost as xgb
from sklearn.datasets import make_classification

from benchmarks.common import localcloud_process, report, xgboost_serving_container
from benchmarks.sagemaker_runtime import BUCKET, IMAGE, ROLE, csv_bytes

PARTS = 4
PAYLOAD_BYTES = 6 * 1024 * 1024
RANGES = {
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "7"}],
    "ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.3", "ScalingType": "Logarithmic"},
        {"Name": "subsample", "MinValue": "0.6", "MaxValue": "1"},
        {"Name": "min_child_weight", "MinValue": "1", "MaxValue": "10"}],
}
STATIC = {"objective": "binary:logistic", "eval_metric": "auc", "tree_method": "hist", "seed": "0"}


def typed(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def tune(sagemaker, jobs: int, parallel: int, rounds: int) -> tuple[float, list[dict]]:
    """Seconds from create to Completed, and the hyperparameters of each training job."""
    channels = [{"ChannelName": name, "ContentType": "text/csv",
                 "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{name}/"}}}
                for name in ("train", "validation")]
    started = time.time()
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="benchmark",
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian", "RandomSeed": 0, "ParameterRanges": RANGES,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel},
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"}},
        TrainingJobDefinition={
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"}, "RoleArn": ROLE,
            "InputDataConfig": channels, "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tuning"},
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "StaticHyperParameters": {**STATIC, "num_round": str(rounds)}})
    while True:
        job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="benchmark")
        if job["HyperParameterTuningJobStatus"] != "InProgress":
            break
        # Polling costs CPU the jobs share (a Describe is a few ms in the client and in localcloud): rarely, and
        # the end is read from the job itself, so the interval does not count in the measurement.
        time.sleep(0.5)
    elapsed = job["HyperParameterTuningEndTime"].timestamp() - started
    if job["HyperParameterTuningJobStatus"] != "Completed" or job["TrainingJobStatusCounters"]["Completed"] != jobs:
        raise RuntimeError(f"tuning job ended {job['HyperParameterTuningJobStatus']}: {job.get('FailureReason')}")
    summaries = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="benchmark", MaxResults=100)["TrainingJobSummaries"]
    return elapsed, [sagemaker.describe_training_job(TrainingJobName=s["TrainingJobName"])["HyperParameters"]
                     for s in summaries]


def plain_loop(train_csv: bytes, validation_csv: bytes, configurations: list[dict], parallel: int,
               read_csv: bool) -> float:
    """The same xgboost.train calls, ``parallel`` at a time; with ``read_csv`` each call parses the CSV first."""
    arrays = [pd.read_csv(io.BytesIO(data), header=None).to_numpy(dtype=np.float32)
              for data in (train_csv, validation_csv)]

    def train(hyperparameters: dict) -> None:
        train_rows, validation_rows = ([pd.read_csv(io.BytesIO(data), header=None).to_numpy(dtype=np.float32)
                                        for data in (train_csv, validation_csv)] if read_csv else arrays)
        train_matrix = xgb.DMatrix(train_rows[:, 1:], label=train_rows[:, 0])
        validation_matrix = xgb.DMatrix(validation_rows[:, 1:], label=validation_rows[:, 0])
        params = {k: typed(v) for k, v in hyperparameters.items() if k not in ("num_round", "_tuning_objective_metric")}
        xgb.train(params, train_matrix, num_boost_round=int(hyperparameters["num_round"]),
                  evals=[(train_matrix, "train"), (validation_matrix, "validation")], verbose_eval=False)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(train, configurations))
    return time.perf_counter() - started


def payloads(rows: np.ndarray) -> list[bytes]:
    """The request bodies a MultiRecord transform makes of each object: whole lines up to 6 MB."""
    bodies = []
    for part in np.array_split(rows, PARTS):
        current = b""
        for line in csv_bytes(part).splitlines(keepends=True):
            if len(current) + len(line) > PAYLOAD_BYTES:
                bodies.append(current)
                current = b""
            current += line
        bodies.append(current)
    return bodies


def batch_transform(s3, sagemaker, artifact: str, rows: np.ndarray) -> float:
    for index, part in enumerate(np.array_split(rows, PARTS)):
        s3.put_object(Bucket=BUCKET, Key=f"transform-in/part-{index}.csv", Body=csv_bytes(part))
    sagemaker.create_model(ModelName="benchmark", ExecutionRoleArn=ROLE,
                           PrimaryContainer={"Image": IMAGE, "ModelDataUrl": artifact})
    started = time.perf_counter()
    sagemaker.create_transform_job(
        TransformJobName="benchmark", ModelName="benchmark", BatchStrategy="MultiRecord", MaxPayloadInMB=6,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": f"s3://{BUCKET}/transform-in/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/transform-out", "Accept": "text/csv", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    while (status := sagemaker.describe_transform_job(TransformJobName="benchmark")["TransformJobStatus"]) \
            == "InProgress":
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if status != "Completed":
        raise RuntimeError(sagemaker.describe_transform_job(TransformJobName="benchmark").get("FailureReason"))
    return elapsed


def direct_container(s3, artifact: str, bodies: list[bytes]) -> tuple[float, float]:
    """(seconds to start the serving container, seconds to POST every body to it)."""
    http = requests.Session()
    archive = s3.get_object(Bucket=BUCKET, Key=artifact.split(f"{BUCKET}/", 1)[1])["Body"].read()
    with xgboost_serving_container(archive) as (url, startup):
        started = time.perf_counter()
        for body in bodies:
            http.post(url, data=body, headers={"Content-Type": "text/csv", "Accept": "text/csv"},
                      timeout=600).raise_for_status()
        return startup, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=25_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of tuning job then loop, each on a fresh localcloud")
    args = parser.parse_args()

    features, labels = make_classification(n_samples=args.rows, n_features=args.features, n_informative=20,
                                           random_state=0)
    split = int(0.8 * args.rows)
    train_csv, validation_csv = csv_bytes(features[:split], labels[:split]), csv_bytes(features[split:], labels[split:])
    transform_rows = np.tile(features[split:], (5, 1))

    # The machine may be shared, and its load change within seconds: each round is a fresh localcloud (its
    # zygote imported anew, as for a workshop's first tuning job) whose tuning job is followed at once by the
    # loop; the ratio is of the rounds' sums.
    rounds = []
    for round_number in range(args.repeat):
        with localcloud_process() as (endpoint_url, session):
            s3 = session.client("s3", endpoint_url=endpoint_url)
            sagemaker = session.client("sagemaker", endpoint_url=endpoint_url)
            s3.create_bucket(Bucket=BUCKET)
            s3.put_object(Bucket=BUCKET, Key="train/train.csv", Body=train_csv)
            s3.put_object(Bucket=BUCKET, Key="validation/validation.csv", Body=validation_csv)
            tuning_seconds, configurations = tune(sagemaker, args.jobs, args.parallel, args.rounds)
            rounds.append((tuning_seconds,
                           plain_loop(train_csv, validation_csv, configurations, args.parallel, read_csv=False)))
            if round_number == args.repeat - 1:
                artifact = sagemaker.describe_training_job(TrainingJobName=sagemaker.describe_hyper_parameter_tuning_job(
                    HyperParameterTuningJobName="benchmark")["BestTrainingJob"]["TrainingJobName"])["ModelArtifacts"][
                    "S3ModelArtifacts"]
                transform_seconds = batch_transform(s3, sagemaker, artifact, transform_rows)
                container_startup, container_seconds = direct_container(s3, artifact, payloads(transform_rows))
    read_loop_seconds = plain_loop(train_csv, validation_csv, configurations, args.parallel, read_csv=True)

    tuning_seconds = sum(tuning for tuning, _ in rounds) / len(rounds)
    loop_seconds = sum(loop for _, loop in rounds) / len(rounds)
    ratio = tuning_seconds / loop_seconds
    report(f"Tuning, {args.jobs} XGBoost jobs {args.parallel} at a time, {split} x {args.features} CSV, "
           f"{args.rounds} rounds, mean of {len(rounds)} rounds", [
               *((f"round {number}: tuning job, then plain loop",
                  f"{tuning:.2f} s, {loop:.2f} s = {tuning / loop:.2f}x") for number, (tuning, loop) in
                 enumerate(rounds, 1)),
               ("same xgboost.train calls, plain loop", f"{loop_seconds:.2f} s"),
               ("same calls, each parsing the CSV first", f"{read_loop_seconds:.2f} s"),
               ("tuning job, create to Completed", f"{tuning_seconds:.2f} s"),
               ("tuning job / plain loop", f"{ratio:.2f}x   target <= 1.3x: {'met' if ratio <= 1.3 else 'MISSED'}"),
               ("tuning job / loop that parses the CSV", f"{tuning_seconds / read_loop_seconds:.2f}x"),
           ])
    rows = len(transform_rows)
    report(f"Batch transform, {rows} rows x {args.features} in {PARTS} CSV objects, MultiRecord, 6 MB payloads", [
        ("serving container direct (same payloads)", f"{rows / container_seconds:,.0f} rows/s"),
        ("serving container start-up", f"{container_startup:.2f} s"),
        ("transform job, create to Completed", f"{rows / transform_seconds:,.0f} rows/s ({transform_seconds:.2f} s)"),
        ("transform job minus container start-up",
         f"{rows / max(transform_seconds - container_startup, 1e-9):,.0f} rows/s"),
    ])


if __name__ == "__main__":
    main()
