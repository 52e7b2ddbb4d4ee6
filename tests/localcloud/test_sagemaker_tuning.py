"""Hyperparameter tuning jobs: real training jobs chosen by Bayesian, Random and Grid search, at most
MaxParallelTrainingJobs at once, the best one judged against the xgboost library; early stopping,
completion criteria, Stop, the service's validation, Linear Learner, awscli and the SDK v3's tuner."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import threading
import time

import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError

from tests.localcloud.sagemaker_support import (
    BUCKET,
    ROLE,
    XGBOOST_IMAGE,
    breast_cancer_split,
    to_csv,
)

LINEAR_LEARNER_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
ROUNDS = 20
STATIC = {"objective": "binary:logistic", "num_round": str(ROUNDS), "seed": "7"}


@pytest.fixture(scope="module")
def data():
    return breast_cancer_split()


@pytest.fixture(scope="module")
def channels(aws, data):
    x_train, x_test, y_train, y_test = data
    s3 = aws("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="tuning/train/train.csv", Body=to_csv(x_train, y_train))
    s3.put_object(Bucket=BUCKET, Key="tuning/validation/validation.csv", Body=to_csv(x_test, y_test))
    return [{"ChannelName": name, "ContentType": "text/csv",
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/tuning/{name}/"}}}
            for name in ("train", "validation")]


def definition(channels, static=None, image=XGBOOST_IMAGE) -> dict:
    return {
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tuning-output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "StaticHyperParameters": dict(STATIC if static is None else static),
    }


def config(strategy: str, ranges: dict, max_jobs: int | None, parallel: int, metric="validation:auc",
           direction="Maximize", **extra) -> dict:
    limits = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    return {"Strategy": strategy, "ResourceLimits": limits, "ParameterRanges": ranges,
            "HyperParameterTuningJobObjective": {"Type": direction, "MetricName": metric}, **extra}


def wait_for_tuning(sagemaker, name: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if job["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        assert time.monotonic() < deadline, f"tuning job {name} still {job['HyperParameterTuningJobStatus']}"
        time.sleep(0.2)


def training_jobs(sagemaker, name: str, **kwargs) -> list[dict]:
    summaries, token = [], None
    while True:
        page = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, **kwargs, **({"NextToken": token} if token else {}))
        summaries += page["TrainingJobSummaries"]
        token = page.get("NextToken")
        if not token:
            return summaries


def _typed(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def final_validation_auc(data, hyperparameters: dict) -> float:
    """What xgboost.train reports for the last round, with the job's hyperparameters, on the bytes the job read."""
    x_train, x_test, y_train, y_test = data
    train = np.loadtxt(io.BytesIO(to_csv(x_train, y_train)), delimiter=",", dtype=np.float32)
    validation = np.loadtxt(io.BytesIO(to_csv(x_test, y_test)), delimiter=",", dtype=np.float32)
    params = {k: _typed(v) for k, v in hyperparameters.items() if k not in ("num_round", "_tuning_objective_metric")}
    params["eval_metric"] = "auc"
    history: dict = {}
    train_matrix = xgb.DMatrix(train[:, 1:], label=train[:, 0])
    xgb.train(params, train_matrix, num_boost_round=int(hyperparameters["num_round"]),
              evals=[(train_matrix, "train"), (xgb.DMatrix(validation[:, 1:], label=validation[:, 0]), "validation")],
              evals_result=history, verbose_eval=False)
    return history["validation"]["auc"][-1]


XGB_RANGES = {
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "6", "ScalingType": "Linear"}],
    "ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5", "ScalingType": "Logarithmic"},
        {"Name": "subsample", "MinValue": "0.5", "MaxValue": "1", "ScalingType": "Auto"},
        {"Name": "min_child_weight", "MinValue": "0.5", "MaxValue": "5"}],
}


@pytest.fixture(scope="module")
def bayesian(aws, channels):
    """A Bayesian tuning job of 6 XGBoost jobs, 2 at a time, watched by a poller."""
    sagemaker = aws("sagemaker")
    name = "xgb-bayesian"
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, TrainingJobDefinition=definition(channels),
        HyperParameterTuningJobConfig=config("Bayesian", XGB_RANGES, 6, 2, RandomSeed=11))
    in_progress_seen, done = [], threading.Event()

    def poll():
        while not done.is_set():
            counters = sagemaker.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name)["TrainingJobStatusCounters"]
            listed = sum(s["TrainingJobStatus"] == "InProgress" for s in training_jobs(sagemaker, name))
            in_progress_seen.append(max(counters["InProgress"], listed))
            time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        job = wait_for_tuning(sagemaker, name)
    finally:
        done.set()
        poller.join()
    return job, in_progress_seen


def test_a_bayesian_tuning_job_runs_six_jobs_never_more_than_two_at_once(bayesian):
    job, in_progress_seen = bayesian
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TrainingJobStatusCounters"] == {"Completed": 6, "InProgress": 0, "RetryableError": 0,
                                                "NonRetryableError": 0, "Stopped": 0}
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 6, "Pending": 0, "Failed": 0}
    # Forked training jobs take a fraction of a second here: the poller sees the tuning job a few times only.
    assert max(in_progress_seen) == 2 and len(in_progress_seen) >= 5
    assert job["HyperParameterTuningEndTime"] >= job["CreationTime"]
    # The tuning job's wall time, whole seconds (forked training jobs on small data take well under one).
    wall = (job["HyperParameterTuningEndTime"] - job["CreationTime"]).total_seconds()
    assert abs(job["ConsumedResources"]["RuntimeInSeconds"] - wall) < 1


def test_every_job_lies_in_the_ranges_and_the_best_is_the_best(aws, bayesian):
    job, _ = bayesian
    summaries = training_jobs(aws("sagemaker"), "xgb-bayesian")
    assert len(summaries) == 6
    for summary in summaries:
        tuned = summary["TunedHyperParameters"]
        assert set(tuned) == {"max_depth", "eta", "subsample", "min_child_weight"}
        assert 2 <= int(tuned["max_depth"]) <= 6
        assert 0.05 <= float(tuned["eta"]) <= 0.5
        assert 0.5 <= float(tuned["subsample"]) <= 1
        assert 0.5 <= float(tuned["min_child_weight"]) <= 5
        assert re.fullmatch(r"xgb-bayesian-00[1-6]-[0-9a-f]{8}", summary["TrainingJobName"])
    assert len({json.dumps(s["TunedHyperParameters"], sort_keys=True) for s in summaries}) == 6
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    best = job["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Maximize", "MetricName": "validation:auc", "Value": max(values)}
    ordered = training_jobs(aws("sagemaker"), "xgb-bayesian", SortBy="FinalObjectiveMetricValue",
                            SortOrder="Descending")
    assert ordered[0]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(values)


def test_the_best_jobs_metric_equals_xgboost_train_on_the_same_data(aws, data, bayesian):
    job, _ = bayesian
    described = aws("sagemaker").describe_training_job(TrainingJobName=job["BestTrainingJob"]["TrainingJobName"])
    assert described["TuningJobArn"] == job["HyperParameterTuningJobArn"]
    assert described["HyperParameters"]["_tuning_objective_metric"] == "validation:auc"
    final = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert final["validation:auc"] == job["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    expected = final_validation_auc(data, described["HyperParameters"])
    assert final["validation:auc"] == pytest.approx(expected, abs=1e-5)


def test_tuning_jobs_training_jobs_are_ordinary_training_jobs(aws, bayesian):
    names = {s["TrainingJobName"] for s in aws("sagemaker").list_training_jobs(
        NameContains="xgb-bayesian", MaxResults=100)["TrainingJobSummaries"]}
    assert len(names) == 6
    job = aws("sagemaker").describe_training_job(TrainingJobName=sorted(names)[0])
    assert job["TrainingJobStatus"] == "Completed" and job["ModelArtifacts"]["S3ModelArtifacts"].endswith(
        f"/{sorted(names)[0]}/output/model.tar.gz")


def test_random_search_with_a_seed_is_reproducible(aws, channels):
    sagemaker = aws("sagemaker")
    chosen = []
    for name in ("xgb-random-a", "xgb-random-b"):
        sagemaker.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, TrainingJobDefinition=definition(channels, {**STATIC, "num_round": "3"}),
            HyperParameterTuningJobConfig=config("Random", XGB_RANGES, 2, 2, RandomSeed=5))
        assert wait_for_tuning(sagemaker, name)["HyperParameterTuningJobStatus"] == "Completed"
        chosen.append([s["TunedHyperParameters"] for s in training_jobs(sagemaker, name)])
    assert chosen[0] == chosen[1]
    assert chosen[0][0] != chosen[0][1]


def test_auto_scaling_searches_a_range_spanning_orders_of_magnitude_on_a_log_scale(aws, channels):
    """``ScalingType: Auto`` lets the service choose the scale (API reference, ContinuousParameterRange);
    its guidance ("Define Hyperparameter Ranges") is a logarithmic scale for a range spanning several
    orders of magnitude, and reverse-logarithmic for one close to 1.  localcloud's rule (search.py):
    eta in [0.0001, 1] is drawn like the same range on a Logarithmic scale, and unlike it on a Linear
    one (whose median draw is about 0.5); subsample in [0.5, 1] stays linear."""
    sagemaker = aws("sagemaker")
    ranges = {"ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Auto"},
        {"Name": "subsample", "MinValue": "0.5", "MaxValue": "1", "ScalingType": "Auto"}]}
    drawn = {}
    for scaling in ("Auto", "Logarithmic", "Linear"):
        name = f"xgb-auto-scale-{scaling.lower()}"
        ranges["ContinuousParameterRanges"][0]["ScalingType"] = scaling
        sagemaker.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, TrainingJobDefinition=definition(channels, {**STATIC, "num_round": "1"}),
            HyperParameterTuningJobConfig=config("Random", ranges, 6, 3, RandomSeed=3))
        assert wait_for_tuning(sagemaker, name)["HyperParameterTuningJobStatus"] == "Completed"
        described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        assert described["HyperParameterTuningJobConfig"]["ParameterRanges"] == ranges  # echoed as given
        drawn[scaling] = sorted((s["TunedHyperParameters"] for s in training_jobs(sagemaker, name)),
                                key=lambda tuned: tuned["subsample"])
    assert drawn["Auto"] == drawn["Logarithmic"]
    assert drawn["Auto"] != drawn["Linear"]
    assert sorted(float(t["eta"]) for t in drawn["Auto"])[3] < 0.1 < sorted(float(t["eta"]) for t in drawn["Linear"])[3]


def test_grid_search_runs_every_combination_of_categorical_ranges_once(aws, channels):
    sagemaker = aws("sagemaker")
    ranges = {"CategoricalParameterRanges": [{"Name": "max_depth", "Values": ["2", "4"]},
                                             {"Name": "booster", "Values": ["gbtree", "dart"]}]}
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="xgb-grid", TrainingJobDefinition=definition(channels, {**STATIC, "num_round": "3"}),
        HyperParameterTuningJobConfig=config("Grid", ranges, None, 2))
    job = wait_for_tuning(sagemaker, "xgb-grid")
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    combinations = sorted((s["TunedHyperParameters"]["max_depth"], s["TunedHyperParameters"]["booster"])
                          for s in training_jobs(sagemaker, "xgb-grid"))
    assert combinations == [("2", "dart"), ("2", "gbtree"), ("4", "dart"), ("4", "gbtree")]


def test_early_stopping_stops_a_job_worse_than_the_median_of_earlier_ones(aws, channels):
    sagemaker = aws("sagemaker")
    # Grid order makes the good learning rate run first; the tiny one is then worse from the first round.
    ranges = {"CategoricalParameterRanges": [{"Name": "eta", "Values": ["0.3", "0.001"]}]}
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="xgb-early-stop",
        TrainingJobDefinition=definition(channels, {**STATIC, "num_round": "300"}),
        HyperParameterTuningJobConfig=config("Grid", ranges, None, 1, metric="validation:logloss",
                                             direction="Minimize", TrainingJobEarlyStoppingType="Auto"))
    job = wait_for_tuning(sagemaker, "xgb-early-stop")
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Auto"
    assert job["TrainingJobStatusCounters"]["Completed"] == 1 and job["TrainingJobStatusCounters"]["Stopped"] == 1
    by_eta = {s["TunedHyperParameters"]["eta"]: s for s in training_jobs(sagemaker, "xgb-early-stop")}
    assert by_eta["0.3"]["TrainingJobStatus"] == "Completed"
    stopped = by_eta["0.001"]
    assert stopped["TrainingJobStatus"] == "Stopped" and stopped["ObjectiveStatus"] == "Succeeded"
    assert job["BestTrainingJob"]["TrainingJobName"] == by_eta["0.3"]["TrainingJobName"]
    logs = aws("logs")
    stream, = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                        logStreamNamePrefix=f"{stopped['TrainingJobName']}/")["logStreams"]
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                 logStreamName=stream["logStreamName"])["events"]
    rounds = [e["message"] for e in events if "#011validation-logloss:" in e["message"]]
    assert 0 < len(rounds) < 300


def test_target_objective_value_ends_the_tuning_job(aws, channels):
    sagemaker = aws("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="xgb-target",
        TrainingJobDefinition=definition(channels, {**STATIC, "num_round": "3"}),
        HyperParameterTuningJobConfig=config("Random", XGB_RANGES, 5, 1,
                                             TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 0.5}))
    job = wait_for_tuning(sagemaker, "xgb-target")
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["TrainingJobStatusCounters"]["Completed"] == 1


# Without row or column sampling, XGBoost's hist method gives the same model whatever the seed: a grid over
# seeds makes jobs whose objectives are all equal, so none after the first improves the best.
SAME_OBJECTIVE_GRID = {"CategoricalParameterRanges": [{"Name": "seed", "Values": [str(s) for s in range(10)]}]}


@pytest.mark.parametrize("criterion", [
    {"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}},
    {"ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}},
], ids=["best-objective-not-improving", "convergence-detected"])
def test_a_tuning_job_whose_objective_stops_improving_completes_early(aws, channels, criterion):
    """``TuningJobCompletionCriteria`` ("Track and set completion criteria for your tuning job"): with
    ``MaxNumberOfTrainingJobsNotImproving`` N, the tuning job completes once N jobs in a row have not
    improved the best objective (by more than 1%: ``NumberOfTrainingJobsObjectiveNotImproving``);
    with ``CompleteOnConvergence: Enabled``, once the service judges it converged, at
    ``ConvergenceDetectedTime`` (localcloud: 3 such jobs in a row for a 10-job tuning job, see tuning.py)."""
    sagemaker = aws("sagemaker")
    name = f"xgb-{next(iter(criterion)).lower()}"
    static = {key: value for key, value in STATIC.items() if key != "seed"}
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, TrainingJobDefinition=definition(channels, {**static, "num_round": "3"}),
        HyperParameterTuningJobConfig=config("Grid", SAME_OBJECTIVE_GRID, None, 1,
                                             TuningJobCompletionCriteria=criterion))
    job = wait_for_tuning(sagemaker, name)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["TrainingJobStatusCounters"]["Completed"] == 4  # the first improves on nothing, then 3 do not
    assert len({s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in training_jobs(sagemaker, name)}) == 1
    details = job["TuningJobCompletionDetails"]
    assert details["NumberOfTrainingJobsObjectiveNotImproving"] == 3
    if "ConvergenceDetected" in criterion:
        assert job["CreationTime"] <= details["ConvergenceDetectedTime"] <= job["HyperParameterTuningEndTime"]
    else:
        assert "ConvergenceDetectedTime" not in details


def test_stop_stops_the_tuning_job_and_its_running_jobs(aws, channels):
    sagemaker = aws("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="xgb-stop-me",
        TrainingJobDefinition=definition(channels, {**STATIC, "num_round": "1000000"}),
        HyperParameterTuningJobConfig=config("Random", XGB_RANGES, 4, 2))
    deadline = time.monotonic() + 60
    while sum(s["TrainingJobStatus"] == "InProgress" for s in training_jobs(sagemaker, "xgb-stop-me")) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="xgb-stop-me")
    assert sagemaker.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="xgb-stop-me")["HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")
    job = wait_for_tuning(sagemaker, "xgb-stop-me", timeout=60)
    assert job["HyperParameterTuningJobStatus"] == "Stopped"
    assert [s["TrainingJobStatus"] for s in training_jobs(sagemaker, "xgb-stop-me")] == ["Stopped", "Stopped"]
    with pytest.raises(ClientError) as raised:
        sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="xgb-stop-me")
    assert raised.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize(("change", "message"), [
    (lambda c, d: c["HyperParameterTuningJobObjective"].update(MetricName="validation:banana"),
     "A metric is required for this hyperparameter tuning job objective. Provide a metric in the metric definitions."),
    (lambda c, d: c.update(Strategy="Hyperband"), "The Hyperband strategy is not supported by localcloud"),
    (lambda c, d: c["ParameterRanges"]["ContinuousParameterRanges"][0].update(MinValue="0"),
     "Logarithmic scaling of parameter range eta needs a MinValue greater than 0"),
    (lambda c, d: c.update(Strategy="Grid"), "The Grid strategy searches categorical parameter ranges only"),
    (lambda c, d: d["StaticHyperParameters"].update(eta="0.1"), "given both as static hyperparameters and as"),
    (lambda c, d: c["ResourceLimits"].pop("MaxNumberOfTrainingJobs"), "MaxNumberOfTrainingJobs is required"),
])
def test_bad_tuning_requests_are_refused_with_the_reason(aws, channels, change, message):
    tuning_config, training = config("Bayesian", json.loads(json.dumps(XGB_RANGES)), 2, 1), definition(channels)
    change(tuning_config, training)
    with pytest.raises(ClientError) as raised:
        aws("sagemaker").create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="refused", TrainingJobDefinition=training,
            HyperParameterTuningJobConfig=tuning_config)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert message in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as raised:
        aws("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="refused")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"


def test_list_tuning_jobs_pages_sorts_and_filters(aws, bayesian):
    sagemaker = aws("sagemaker")
    names = [s["HyperParameterTuningJobName"] for s in sagemaker.list_hyper_parameter_tuning_jobs(
        SortBy="Name", SortOrder="Ascending", MaxResults=100)["HyperParameterTuningJobSummaries"]]
    assert names == sorted(names) and "xgb-bayesian" in names
    first = sagemaker.list_hyper_parameter_tuning_jobs(SortBy="Name", MaxResults=1)
    assert len(first["HyperParameterTuningJobSummaries"]) == 1 and first["NextToken"]
    rest = sagemaker.list_hyper_parameter_tuning_jobs(SortBy="Name", MaxResults=100, NextToken=first["NextToken"])
    assert [s["HyperParameterTuningJobName"] for s in first["HyperParameterTuningJobSummaries"]
            + rest["HyperParameterTuningJobSummaries"]] == names
    summary, = sagemaker.list_hyper_parameter_tuning_jobs(NameContains="bayes")["HyperParameterTuningJobSummaries"]
    assert summary["Strategy"] == "Bayesian" and summary["TrainingJobStatusCounters"]["Completed"] == 6
    paged = sagemaker.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
        HyperParameterTuningJobName="xgb-bayesian", PaginationConfig={"PageSize": 4})
    assert [len(p["TrainingJobSummaries"]) for p in paged] == [4, 2]


def test_a_linear_learner_tuning_job_on_its_documented_objective(aws, channels):
    sagemaker = aws("sagemaker")
    ranges = {"ContinuousParameterRanges": [
        {"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "0.5", "ScalingType": "Logarithmic"},
        {"Name": "wd", "MinValue": "0.0000001", "MaxValue": "0.01", "ScalingType": "Logarithmic"}]}
    static = {"predictor_type": "binary_classifier", "epochs": "5", "mini_batch_size": "100"}
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="ll-tuning",
        TrainingJobDefinition=definition(channels, static, image=LINEAR_LEARNER_IMAGE),
        HyperParameterTuningJobConfig=config("Random", ranges, 3, 2, metric="validation:objective_loss",
                                             direction="Minimize", RandomSeed=3))
    job = wait_for_tuning(sagemaker, "ll-tuning")
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    summaries = training_jobs(sagemaker, "ll-tuning")
    assert [s["ObjectiveStatus"] for s in summaries] == ["Succeeded"] * 3
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    assert job["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == min(values)
    best = sagemaker.describe_training_job(TrainingJobName=job["BestTrainingJob"]["TrainingJobName"])
    final = {m["MetricName"]: m["Value"] for m in best["FinalMetricDataList"]}
    assert final["validation:objective_loss"] == min(values)


def test_the_aws_cli_reads_tuning_jobs(cloud, bayesian):
    output = subprocess.run(
        ["aws", "sagemaker", "describe-hyper-parameter-tuning-job", "--hyper-parameter-tuning-job-name",
         "xgb-bayesian", "--query", "BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric.MetricName",
         "--output", "text"], env={**os.environ, **cloud.env},
        capture_output=True, text=True, check=True).stdout
    assert output.strip() == "validation:auc"


def test_the_sdk_v3_tuner_tunes_a_model_trainer(cloud, aws, channels, monkeypatch):
    for name, value in cloud.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")
    from sagemaker.core.parameter import ContinuousParameter, IntegerParameter
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.train import ModelTrainer
    from sagemaker.train.tuner import HyperparameterTuner

    trainer = ModelTrainer(training_image=XGBOOST_IMAGE, role=ROLE, base_job_name="sdk-tuned",
                           hyperparameters={**STATIC, "num_round": "5"},
                           compute=Compute(instance_type="ml.m5.large", instance_count=1),
                           output_data_config=OutputDataConfig(s3_output_path=f"s3://{BUCKET}/sdk-tuning"))
    tuner = HyperparameterTuner(trainer, "validation:auc",
                                {"eta": ContinuousParameter(0.05, 0.5), "max_depth": IntegerParameter(2, 5)},
                                strategy="Bayesian", max_jobs=3, max_parallel_jobs=2, random_seed=1)
    inputs = [InputData(channel_name=c["ChannelName"], data_source=c["DataSource"]["S3DataSource"]["S3Uri"],
                        content_type="text/csv") for c in channels]
    tuner.tune(inputs=inputs, wait=False)
    tuner.latest_tuning_job.wait(poll=1)
    described = tuner.describe()
    assert described.hyper_parameter_tuning_job_status == "Completed"
    assert described.training_job_status_counters.completed == 3
    best = tuner.best_training_job()
    assert best == described.best_training_job.training_job_name
    job = aws("sagemaker").describe_training_job(TrainingJobName=best)
    assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/sdk-tuning"
