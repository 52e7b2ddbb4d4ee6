"""Hyperparameter tuning jobs: training jobs chosen by a search strategy, run through the same
``TrainingRunner`` as ``CreateTrainingJob``, never more than ``MaxParallelTrainingJobs`` at once.

Each training job is named as the service names it, ``<tuning job>-<NNN>-<8 hex digits>``, carries
the tuning job's ARN and gets the static hyperparameters, the tuned ones and
``_tuning_objective_metric`` (the service adds it; the XGBoost container adds that metric to
``eval_metric``).  Its objective is the objective metric's last value in its log, exactly as
``FinalMetricDataList`` reads it.

Early stopping (``TrainingJobEarlyStoppingType: Auto``) applies the rule the service documents in
"Stop Training Jobs Early" (docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-early-stopping.html),
the median stopping rule of Google Vizier (Golovin et al., KDD 2017): each time a job reports its
objective for an epoch (a boosting round for XGBoost), take, for every earlier job of the tuning job
that reached that epoch, the running average of its objective up to that epoch; if the value just
reported is worse than the median of those averages, stop the job.  It needs the objective every
epoch: XGBoost and Image Classification report it every round/epoch; Linear Learner every epoch for
``objective_loss`` only.  An early-stopped job ends ``Stopped`` and keeps its last objective.

Completion criteria ("Track and set completion criteria for your tuning job",
docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-progress.html): no job is started
once one is met, and those running finish; the tuning job then ends ``Completed``.  A finished job
"improves" only if it beats the best objective so far by more than 1% of it (the service counts
improvements of 1% or less as not improving, ``NumberOfTrainingJobsObjectiveNotImproving``), which
counts the jobs in a row that did not.  ``BestObjectiveNotImproving`` is met when that count reaches
``MaxNumberOfTrainingJobsNotImproving``.  ``ConvergenceDetected`` (``CompleteOnConvergence:
Enabled``): the service stops once "an internal algorithm" judges the best objective unlikely to
improve by more than 1%, without saying how; localcloud judges so when the last
``max(3, ceil(MaxNumberOfTrainingJobs / 10))`` finished jobs in a row did not improve it, and
reports that moment as ``ConvergenceDetectedTime``.
"""

from __future__ import annotations

import importlib
import logging
import math
import statistics
import threading
import time
import uuid
from typing import Any

from localcloud.sagemaker import images, search
from localcloud.sagemaker.models import (
    TERMINAL_TRAINING_STATUSES,
    TrainingJob,
    TuningJob,
    TuningTrial,
    ValidationException,
    arn,
    now,
)

logger = logging.getLogger("localcloud.sagemaker")

DEFAULT_MAX_RUNTIME_SECONDS = 30 * 24 * 3600
SIGNIFICANT_IMPROVEMENT = 0.01


def tunable_metrics(algorithm: str) -> dict[str, str]:
    """The objective metrics the service documents for a built-in algorithm: name -> Maximize/Minimize."""
    return importlib.import_module(f"localcloud.algorithms.{algorithm}.metrics").TUNABLE_METRICS


def _algorithm(specification: dict[str, Any]) -> str:
    try:
        if specification.get("TrainingImage"):
            return images.algorithm_for_image(specification["TrainingImage"])
        if specification.get("AlgorithmName"):
            return images.algorithm_for_name(specification["AlgorithmName"])
    except images.UnknownImage as error:
        raise ValidationException(str(error)) from None
    raise ValidationException("Either TrainingImage or AlgorithmName must be specified in AlgorithmSpecification.")


def prepare(request: dict[str, Any], region: str) -> tuple[TuningJob, Any]:
    """The tuning job a CreateHyperParameterTuningJob request describes, and its search strategy;
    a ValidationException, worded as the service words it where it is known, if it cannot run."""
    for key, what in (("TrainingJobDefinitions", "several training job definitions"),
                      ("WarmStartConfig", "warm start"), ("Autotune", "Autotune")):
        if key in request:
            raise ValidationException(f"localcloud does not support {what} ({key}) in hyperparameter tuning jobs; "
                                      "use one TrainingJobDefinition with explicit ParameterRanges.")
    definition = request.get("TrainingJobDefinition")
    if definition is None:
        raise ValidationException("TrainingJobDefinition must be specified.")
    config = request["HyperParameterTuningJobConfig"]
    if config["Strategy"] == "Hyperband":
        raise ValidationException("The Hyperband strategy is not supported by localcloud; use Bayesian, Random or "
                                  "Grid (with TrainingJobEarlyStoppingType Auto for early stopping).")
    objective = config.get("HyperParameterTuningJobObjective") or definition.get("TuningObjective")
    if objective is None:
        raise ValidationException("A HyperParameterTuningJobObjective is required for the "
                                  f"{config['Strategy']} strategy.")
    algorithm = _algorithm(definition["AlgorithmSpecification"])
    if definition["AlgorithmSpecification"].get("TrainingInputMode") == "Pipe":
        raise ValidationException("TrainingInputMode Pipe is not supported by localcloud; use File or FastFile.")
    metric = objective["MetricName"]
    custom = {d["Name"] for d in definition["AlgorithmSpecification"].get("MetricDefinitions") or []}
    documented = tunable_metrics(algorithm)
    if metric not in documented and metric not in custom:
        raise ValidationException(
            "A metric is required for this hyperparameter tuning job objective. Provide a metric in the metric "
            f"definitions. (localcloud's {algorithm} reports these tunable metrics: {', '.join(sorted(documented))}.)")

    ranges = config.get("ParameterRanges") or definition.get("HyperParameterRanges") or {}
    try:
        space = search.parameter_space(ranges)
    except search.InvalidRanges as error:
        raise ValidationException(str(error)) from None
    both = sorted({p.name for p in space} & set(definition.get("StaticHyperParameters", {})))
    if both:
        raise ValidationException(f"Hyperparameter(s) {both} are given both as static hyperparameters and as "
                                  "parameter ranges; give each one only once.")

    limits = config["ResourceLimits"]
    if config["Strategy"] != "Grid" and "MaxNumberOfTrainingJobs" not in limits:
        raise ValidationException(f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {config['Strategy']} "
                                  "strategy.")
    max_jobs = limits.get("MaxNumberOfTrainingJobs", 0)
    try:
        strategy = search.strategy_for(config, space, objective["Type"], max_jobs)
    except search.InvalidRanges as error:
        raise ValidationException(str(error)) from None
    if isinstance(strategy, search.GridSearch):
        max_jobs = min(max_jobs or strategy.size, strategy.size)
    name = request["HyperParameterTuningJobName"]
    job = TuningJob(name, arn(region, "hyper-parameter-tuning-job", name), region, request, algorithm,
                    objective["Type"], metric, max_jobs)
    return job, strategy


def start(backend, job: TuningJob, strategy) -> None:
    threading.Thread(target=_run, args=(backend, job, strategy), name=f"tuning-{job.name}", daemon=True).start()


def _run(backend, job: TuningJob, strategy) -> None:
    try:
        _tune(backend, job, strategy)
    except Exception as error:  # the service never leaves a tuning job InProgress forever
        logger.exception("tuning job %s failed in localcloud", job.name)
        _stop_running(backend, job)
        job.finish("Failed", f"InternalServerError: {error}")


def _tune(backend, job: TuningJob, strategy) -> None:
    config = job.config
    limits = config["ResourceLimits"]
    parallel = limits["MaxParallelTrainingJobs"]
    deadline = time.monotonic() + limits.get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_SECONDS)
    criteria = config.get("TuningJobCompletionCriteria", {})
    best: float | None = None
    completion: str | None = None  # why no further job is started, once one of the criteria is met

    while True:
        job.wake.clear()  # before reading the jobs' statuses, so that no ending between the two is missed
        for trial in job.trials:
            if trial.job.status in TERMINAL_TRAINING_STATUSES and not trial.told:
                trial.told = True
                value = job.objective_value(trial.job) if job.objective_status(trial.job) == "Succeeded" else None
                strategy.tell(trial.token, value)
                if value is not None:
                    job.jobs_not_improving = 0 if _improves(job, value, best) else job.jobs_not_improving + 1
                    best = value if best is None or _better(job, value, best) else best
                    job.last_modified_time = trial.job.last_modified_time
        if completion is None:
            completion = _completion(job, criteria, best, deadline)
            if completion == "ConvergenceDetected":
                job.convergence_detected_time = now()
        running = [t for t in job.trials if t.job.status not in TERMINAL_TRAINING_STATUSES]
        if job.stop_requested or completion == "MaxRuntimeExceeded":
            _stop_running(backend, job)
            if not running:
                job.finish("Stopped")
                return
        elif completion is None:
            while (len(running) < parallel and len(job.trials) < job.max_jobs and strategy.has_next()
                   and not job.stop_requested):
                running.append(_launch(backend, job, strategy))
        if not running and not job.stop_requested:
            break
        # Woken by a training job's end or a stop request; with no criterion met, also by the runtime limit.
        job.wake.wait(timeout=max(0.0, deadline - time.monotonic()) if completion is None else None)

    if job.trials and all(t.job.status == "Failed" for t in job.trials):
        first = job.trials[0].job
        job.finish("Failed", f"All training jobs failed. The first, {first.name}, failed with: {first.failure_reason}")
    else:
        job.finish("Completed")


def _better(job: TuningJob, value: float, than: float) -> bool:
    return value > than if job.objective_type == "Maximize" else value < than


def _improves(job: TuningJob, value: float, best: float | None) -> bool:
    """Whether ``value`` improves the best objective so far by more than 1% of it (the first one does)."""
    return best is None or (_better(job, value, best) and abs(value - best) > SIGNIFICANT_IMPROVEMENT * abs(best))


def convergence_window(max_jobs: int) -> int:
    """How many finished jobs in a row improving the best objective by 1% or less mean convergence."""
    return max(3, math.ceil(max_jobs / 10))


def _completion(job: TuningJob, criteria: dict, best: float | None, deadline: float) -> str | None:
    if time.monotonic() > deadline:
        return "MaxRuntimeExceeded"
    target = criteria.get("TargetObjectiveMetricValue")
    if target is not None and best is not None and (best >= target if job.objective_type == "Maximize"
                                                     else best <= target):
        return "TargetObjectiveMetricValue"
    not_improving_limit = criteria.get("BestObjectiveNotImproving", {}).get("MaxNumberOfTrainingJobsNotImproving")
    if not_improving_limit and job.jobs_not_improving >= not_improving_limit:
        return "BestObjectiveNotImproving"
    if (criteria.get("ConvergenceDetected", {}).get("CompleteOnConvergence") == "Enabled"
            and job.jobs_not_improving >= convergence_window(job.max_jobs)):
        return "ConvergenceDetected"
    return None


def _launch(backend, job: TuningJob, strategy) -> TuningTrial:
    tuned, token = strategy.ask()
    definition = job.request["TrainingJobDefinition"]
    name = f"{job.name}-{len(job.trials) + 1:03d}-{uuid.uuid4().hex[:8]}"
    specification = {key: value for key, value in definition["AlgorithmSpecification"].items()}
    specification.setdefault("TrainingInputMode", "File")
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": specification,
        "RoleArn": definition["RoleArn"],
        "OutputDataConfig": definition["OutputDataConfig"],
        "ResourceConfig": definition.get("ResourceConfig", {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                                            "VolumeSizeInGB": 30}),
        "StoppingCondition": definition["StoppingCondition"],
        "HyperParameters": {**definition.get("StaticHyperParameters", {}), **tuned,
                            "_tuning_objective_metric": job.objective_metric},
    }
    for key in ("InputDataConfig", "VpcConfig", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption",
                "EnableManagedSpotTraining", "CheckpointConfig", "RetryStrategy", "Environment"):
        if key in definition:
            request[key] = definition[key]
    early_stopping = job.config.get("TrainingJobEarlyStoppingType", "Off") == "Auto"
    listener = (lambda training_job, metric: _median_rule(backend, job, training_job, metric)) if early_stopping \
        else None
    backend.create_training_job(request, tuning_job_arn=job.arn, metric_listener=listener)
    trial = TuningTrial(backend.training_jobs[name], tuned, token)
    with job.lock:
        job.trials.append(trial)
    backend.trainer.when_finished(trial.job, job.wake.set)
    job.last_modified_time = trial.job.creation_time
    return trial


def _median_rule(backend, job: TuningJob, training_job: TrainingJob, metric: str) -> None:
    """Stop ``training_job`` if its objective at this epoch is worse than the median of the earlier
    jobs' running averages up to the same epoch (see the module's docstring)."""
    if metric != job.objective_metric or training_job.stop_requested:
        return
    history = training_job.metric_history[metric]
    epoch, value = len(history) - 1, history[-1]
    with job.lock:
        earlier = []
        for trial in job.trials:
            if trial.job is training_job:
                break
            earlier.append(trial.job.metric_history.get(metric, []))
    averages = [sum(values[: epoch + 1]) / (epoch + 1) for values in earlier if len(values) > epoch]
    if not averages:
        return
    median = statistics.median(averages)
    if value < median if job.objective_type == "Maximize" else value > median:
        logger.info("tuning job %s: early stopping %s at epoch %d (%s %g, median of running averages %g)",
                    job.name, training_job.name, epoch, metric, value, median)
        try:
            backend.stop_training_job(training_job.name)
        except ValidationException:
            pass  # it ended meanwhile


def _stop_running(backend, job: TuningJob) -> None:
    for trial in job.trials:
        if trial.job.status == "InProgress" and not trial.job.stop_requested:
            try:
                backend.stop_training_job(trial.job.name)
            except ValidationException:
                pass  # it ended meanwhile
