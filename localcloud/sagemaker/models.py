"""SageMaker's state: training jobs, models, endpoint configurations and endpoints.

The API (``responses``) and CloudFormation (``cloudformation``) both go through
:class:`SageMakerBackend`, so they see one truth.  Work happens elsewhere: ``training`` runs jobs,
``hosting`` runs endpoints; this module records what they report.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localcloud.config import ACCOUNT_ID
from localcloud.sagemaker import images


def now() -> datetime:
    return datetime.now(UTC)


def arn(region: str, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:{kind}/{name.lower()}"


class SageMakerError(Exception):
    code = "ValidationException"
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationException(SageMakerError):
    pass


class ResourceNotFound(SageMakerError):
    code = "ResourceNotFound"


class ResourceInUse(SageMakerError):
    code = "ResourceInUse"


@dataclass
class TrainingJob:
    name: str
    arn: str
    region: str
    request: dict[str, Any]
    algorithm: str
    status: str = "InProgress"
    secondary_status: str = "Starting"
    transitions: list[dict[str, Any]] = field(default_factory=list)
    failure_reason: str | None = None
    creation_time: datetime = field(default_factory=now)
    last_modified_time: datetime = field(default_factory=now)
    training_start_time: datetime | None = None
    training_end_time: datetime | None = None
    model_artifact: str | None = None
    final_metrics: dict[str, tuple[float, datetime]] = field(default_factory=dict)
    # Every value each metric took, in log order: one per round or epoch (early stopping reads it).
    metric_history: dict[str, list[float]] = field(default_factory=dict)
    stop_requested: bool = False
    tuning_job_arn: str | None = None
    metric_listener: Any = None  # called as listener(job, metric_name) after each value

    def record_metric(self, name: str, value: float, stamp: datetime) -> None:
        self.final_metrics[name] = (value, stamp)
        self.metric_history.setdefault(name, []).append(value)
        if self.metric_listener is not None:
            self.metric_listener(self, name)

    def transition(self, secondary_status: str, message: str) -> None:
        stamp = now()
        if self.transitions and "EndTime" not in self.transitions[-1]:
            self.transitions[-1]["EndTime"] = stamp
        self.transitions.append({"Status": secondary_status, "StartTime": stamp, "StatusMessage": message})
        self.secondary_status = secondary_status
        self.last_modified_time = stamp

    def finish(self, status: str, secondary_status: str, message: str, failure_reason: str | None = None) -> None:
        self.transition(secondary_status, message)
        self.transitions[-1]["EndTime"] = self.transitions[-1]["StartTime"]
        self.status = status
        self.failure_reason = failure_reason
        self.training_end_time = self.training_end_time or now()

    def describe(self) -> dict[str, Any]:
        request = self.request
        specification = dict(request.get("AlgorithmSpecification", {}))
        specification["MetricDefinitions"] = specification.get("MetricDefinitions") or images.metric_definitions(self.algorithm)
        description: dict[str, Any] = {
            "TrainingJobName": self.name,
            "TrainingJobArn": self.arn,
            "ModelArtifacts": {"S3ModelArtifacts": self.model_artifact or ""},
            "TrainingJobStatus": self.status,
            "SecondaryStatus": self.secondary_status,
            "HyperParameters": request.get("HyperParameters", {}),
            "AlgorithmSpecification": specification,
            "RoleArn": request["RoleArn"],
            "InputDataConfig": request.get("InputDataConfig", []),
            "OutputDataConfig": request["OutputDataConfig"],
            "ResourceConfig": request.get("ResourceConfig", {}),
            "StoppingCondition": request.get("StoppingCondition", {"MaxRuntimeInSeconds": 86400}),
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "SecondaryStatusTransitions": self.transitions,
            "EnableNetworkIsolation": request.get("EnableNetworkIsolation", False),
            "EnableInterContainerTrafficEncryption": request.get("EnableInterContainerTrafficEncryption", False),
            "EnableManagedSpotTraining": request.get("EnableManagedSpotTraining", False),
        }
        if self.failure_reason:
            description["FailureReason"] = self.failure_reason
        if self.tuning_job_arn:
            description["TuningJobArn"] = self.tuning_job_arn
        if self.training_start_time:
            description["TrainingStartTime"] = self.training_start_time
        if self.training_end_time:
            description["TrainingEndTime"] = self.training_end_time
            if self.training_start_time:
                seconds = max(1, int((self.training_end_time - self.training_start_time).total_seconds()))
                description["TrainingTimeInSeconds"] = seconds
                description["BillableTimeInSeconds"] = seconds
        if self.final_metrics:
            description["FinalMetricDataList"] = [
                {"MetricName": name, "Value": value, "Timestamp": stamp}
                for name, (value, stamp) in sorted(self.final_metrics.items())
            ]
        for optional in ("Environment", "CheckpointConfig", "RetryStrategy", "ExperimentConfig"):
            if optional in request:
                description[optional] = request[optional]
        return description

    def summary(self) -> dict[str, Any]:
        summary = {"TrainingJobName": self.name, "TrainingJobArn": self.arn, "CreationTime": self.creation_time,
                   "LastModifiedTime": self.last_modified_time, "TrainingJobStatus": self.status,
                   "SecondaryStatus": self.secondary_status}
        if self.training_end_time:
            summary["TrainingEndTime"] = self.training_end_time
        return summary


@dataclass
class Model:
    name: str
    arn: str
    request: dict[str, Any]
    creation_time: datetime = field(default_factory=now)

    @property
    def containers(self) -> list[dict[str, Any]]:
        return [self.request["PrimaryContainer"]] if "PrimaryContainer" in self.request else self.request.get("Containers", [])

    def describe(self) -> dict[str, Any]:
        description = {"ModelName": self.name, "ModelArn": self.arn, "CreationTime": self.creation_time,
                       "EnableNetworkIsolation": self.request.get("EnableNetworkIsolation", False)}
        for key in ("PrimaryContainer", "Containers", "ExecutionRoleArn", "InferenceExecutionConfig"):
            if key in self.request:
                description[key] = self.request[key]
        return description

    def summary(self) -> dict[str, Any]:
        return {"ModelName": self.name, "ModelArn": self.arn, "CreationTime": self.creation_time}


@dataclass
class EndpointConfig:
    name: str
    arn: str
    request: dict[str, Any]
    creation_time: datetime = field(default_factory=now)

    def describe(self) -> dict[str, Any]:
        description = {"EndpointConfigName": self.name, "EndpointConfigArn": self.arn,
                       "ProductionVariants": self.request["ProductionVariants"], "CreationTime": self.creation_time}
        for key in ("DataCaptureConfig", "KmsKeyId", "AsyncInferenceConfig"):
            if key in self.request:
                description[key] = self.request[key]
        return description

    def summary(self) -> dict[str, Any]:
        return {"EndpointConfigName": self.name, "EndpointConfigArn": self.arn, "CreationTime": self.creation_time}


@dataclass
class Endpoint:
    name: str
    arn: str
    region: str
    config_name: str
    status: str = "Creating"
    failure_reason: str | None = None
    variants: list[dict[str, Any]] = field(default_factory=list)
    creation_time: datetime = field(default_factory=now)
    last_modified_time: datetime = field(default_factory=now)

    def describe(self) -> dict[str, Any]:
        description = {"EndpointName": self.name, "EndpointArn": self.arn, "EndpointConfigName": self.config_name,
                       "EndpointStatus": self.status, "CreationTime": self.creation_time,
                       "LastModifiedTime": self.last_modified_time}
        if self.variants:
            description["ProductionVariants"] = self.variants
        if self.failure_reason:
            description["FailureReason"] = self.failure_reason
        return description

    def summary(self) -> dict[str, Any]:
        return {"EndpointName": self.name, "EndpointArn": self.arn, "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time, "EndpointStatus": self.status}


TERMINAL_TRAINING_STATUSES = ("Completed", "Failed", "Stopped")


@dataclass
class TuningTrial:
    """One training job of a tuning job, with the hyperparameters the search chose for it."""

    job: TrainingJob
    tuned: dict[str, str]
    token: Any = None  # the search strategy's handle on this configuration
    told: bool = False  # whether the strategy has heard its result


@dataclass
class TuningJob:
    name: str
    arn: str
    region: str
    request: dict[str, Any]
    algorithm: str
    objective_type: str
    objective_metric: str
    max_jobs: int
    status: str = "InProgress"
    failure_reason: str | None = None
    trials: list[TuningTrial] = field(default_factory=list)
    creation_time: datetime = field(default_factory=now)
    last_modified_time: datetime = field(default_factory=now)
    end_time: datetime | None = None
    stop_requested: bool = False
    jobs_not_improving: int = 0
    convergence_detected_time: datetime | None = None

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.wake = threading.Event()  # the tuner has something to act on: a training job ended, a stop request

    @property
    def config(self) -> dict[str, Any]:
        return self.request["HyperParameterTuningJobConfig"]

    def objective_value(self, job: TrainingJob) -> float | None:
        """The job's objective, read as FinalMetricDataList reads it: the metric's last value in the log."""
        value = job.final_metrics.get(self.objective_metric)
        return None if value is None else value[0]

    def objective_status(self, job: TrainingJob) -> str:
        if job.status not in TERMINAL_TRAINING_STATUSES:
            return "Pending"
        return "Succeeded" if job.status != "Failed" and self.objective_value(job) is not None else "Failed"

    def best_trial(self) -> TuningTrial | None:
        scored = [t for t in self.trials if self.objective_status(t.job) == "Succeeded"]
        if not scored:
            return None
        sign = 1 if self.objective_type == "Maximize" else -1
        return max(scored, key=lambda t: sign * self.objective_value(t.job))

    def finish(self, status: str, failure_reason: str | None = None) -> None:
        self.status = status
        self.failure_reason = failure_reason
        self.end_time = self.last_modified_time = now()

    def training_summary(self, trial: TuningTrial) -> dict[str, Any]:
        job = trial.job
        summary: dict[str, Any] = {"TrainingJobName": job.name, "TrainingJobArn": job.arn, "TuningJobName": self.name,
                                   "CreationTime": job.creation_time, "TrainingJobStatus": job.status,
                                   "TunedHyperParameters": trial.tuned, "ObjectiveStatus": self.objective_status(job)}
        if self.request.get("TrainingJobDefinition", {}).get("DefinitionName"):
            summary["TrainingJobDefinitionName"] = self.request["TrainingJobDefinition"]["DefinitionName"]
        if job.training_start_time:
            summary["TrainingStartTime"] = job.training_start_time
        if job.training_end_time and job.status in TERMINAL_TRAINING_STATUSES:
            summary["TrainingEndTime"] = job.training_end_time
        if job.failure_reason:
            summary["FailureReason"] = job.failure_reason
        value = self.objective_value(job)
        if value is not None and job.status in TERMINAL_TRAINING_STATUSES and job.status != "Failed":
            summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": self.objective_type, "MetricName": self.objective_metric, "Value": value}
        return summary

    def counters(self) -> tuple[dict[str, int], dict[str, int]]:
        statuses = [t.job.status for t in self.trials]
        training = {"Completed": statuses.count("Completed"),
                    "InProgress": sum(s not in TERMINAL_TRAINING_STATUSES for s in statuses),
                    "RetryableError": 0, "NonRetryableError": statuses.count("Failed"),
                    "Stopped": statuses.count("Stopped")}
        objectives = [self.objective_status(t.job) for t in self.trials]
        objective = {name: objectives.count(name) for name in ("Succeeded", "Pending", "Failed")}
        return training, objective

    def describe(self) -> dict[str, Any]:
        training, objective = self.counters()
        config = dict(self.config)
        config.setdefault("TrainingJobEarlyStoppingType", "Off")
        description: dict[str, Any] = {
            "HyperParameterTuningJobName": self.name, "HyperParameterTuningJobArn": self.arn,
            "HyperParameterTuningJobConfig": config, "TrainingJobDefinition": self.request["TrainingJobDefinition"],
            "HyperParameterTuningJobStatus": self.status, "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time, "TrainingJobStatusCounters": training,
            "ObjectiveStatusCounters": objective,
            "TuningJobCompletionDetails": {"NumberOfTrainingJobsObjectiveNotImproving": self.jobs_not_improving},
            "ConsumedResources": {"RuntimeInSeconds": int(((self.end_time or now()) - self.creation_time)
                                                          .total_seconds())},
        }
        best = self.best_trial()
        if best is not None:
            description["BestTrainingJob"] = self.training_summary(best)
        if self.end_time:
            description["HyperParameterTuningEndTime"] = self.end_time
        if self.convergence_detected_time:
            description["TuningJobCompletionDetails"]["ConvergenceDetectedTime"] = self.convergence_detected_time
        if self.failure_reason:
            description["FailureReason"] = self.failure_reason
        return description

    def summary(self) -> dict[str, Any]:
        training, objective = self.counters()
        summary = {"HyperParameterTuningJobName": self.name, "HyperParameterTuningJobArn": self.arn,
                   "HyperParameterTuningJobStatus": self.status, "Strategy": self.config["Strategy"],
                   "CreationTime": self.creation_time, "LastModifiedTime": self.last_modified_time,
                   "TrainingJobStatusCounters": training, "ObjectiveStatusCounters": objective,
                   "ResourceLimits": self.config["ResourceLimits"]}
        if self.end_time:
            summary["HyperParameterTuningEndTime"] = self.end_time
        return summary


@dataclass
class TransformJob:
    name: str
    arn: str
    region: str
    request: dict[str, Any]
    status: str = "InProgress"
    failure_reason: str | None = None
    creation_time: datetime = field(default_factory=now)
    last_modified_time: datetime = field(default_factory=now)
    start_time: datetime | None = None
    end_time: datetime | None = None
    stop_requested: bool = False

    def finish(self, status: str, failure_reason: str | None = None) -> None:
        self.status = status
        self.failure_reason = failure_reason
        self.end_time = self.last_modified_time = now()

    def describe(self) -> dict[str, Any]:
        request = self.request
        description = {"TransformJobName": self.name, "TransformJobArn": self.arn, "TransformJobStatus": self.status,
                       "ModelName": request["ModelName"], "TransformInput": request["TransformInput"],
                       "TransformOutput": request["TransformOutput"],
                       "TransformResources": request["TransformResources"], "CreationTime": self.creation_time}
        for key in ("MaxConcurrentTransforms", "ModelClientConfig", "MaxPayloadInMB", "BatchStrategy", "Environment",
                    "DataCaptureConfig", "DataProcessing", "ExperimentConfig"):
            if key in request:
                description[key] = request[key]
        if self.failure_reason:
            description["FailureReason"] = self.failure_reason
        if self.start_time:
            description["TransformStartTime"] = self.start_time
        if self.end_time:
            description["TransformEndTime"] = self.end_time
        return description

    def summary(self) -> dict[str, Any]:
        summary = {"TransformJobName": self.name, "TransformJobArn": self.arn, "CreationTime": self.creation_time,
                   "LastModifiedTime": self.last_modified_time, "TransformJobStatus": self.status}
        if self.end_time:
            summary["TransformEndTime"] = self.end_time
        if self.failure_reason:
            summary["FailureReason"] = self.failure_reason
        return summary


DEFAULT_PAGE_SIZE = 10  # the MaxResults SageMaker's older List* operations use when none is given


def page(items: list, request: dict[str, Any], default_max: int = 100) -> tuple[list, dict[str, Any]]:
    """One page of ``items`` for a List* request, and the ``NextToken`` of the rest if any."""
    token = request.get("NextToken")
    try:
        start = int(token) if token else 0
        if start < 0:
            raise ValueError
    except ValueError:
        raise ValidationException(f"Invalid pagination token: {token}") from None
    end = start + request.get("MaxResults", default_max)
    return items[start:end], ({"NextToken": str(end)} if end < len(items) else {})


def _sorted(items: list, request: dict[str, Any], keys: dict[str, Any], default: str = "CreationTime",
            default_order: str = "Descending") -> list:
    """``items`` ordered by the request's SortBy/SortOrder (``keys`` maps each SortBy to a key function)."""
    key = keys[request.get("SortBy", default)]
    return sorted(items, key=key, reverse=request.get("SortOrder", default_order) == "Descending")


def _filtered(items: list, request: dict[str, Any], status) -> list:
    """The items that pass the request's NameContains, StatusEquals and time filters."""
    def keep(item) -> bool:
        name_contains = request.get("NameContains")
        if name_contains and name_contains.lower() not in item.name.lower():
            return False
        if "StatusEquals" in request and status(item) != request["StatusEquals"]:
            return False
        for field_name, attribute in (("CreationTime", "creation_time"), ("LastModifiedTime", "last_modified_time")):
            if f"{field_name}After" in request and not getattr(item, attribute) > _time(request[f"{field_name}After"]):
                return False
            if f"{field_name}Before" in request and not getattr(item, attribute) < _time(request[f"{field_name}Before"]):
                return False
        return True

    return [item for item in items if keep(item)]


def _time(value: Any) -> datetime:
    """A timestamp of a JSON request: epoch seconds or ISO 8601."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


class SageMakerBackend:
    """One region's SageMaker resources, and the runners that do their work."""

    def __init__(self, region: str, trainer, host, transformer=None):
        self.region = region
        self.trainer = trainer
        self.host = host
        self.transformer = transformer
        self.tuning_jobs: dict[str, TuningJob] = {}
        self.transform_jobs: dict[str, TransformJob] = {}
        self.training_jobs: dict[str, TrainingJob] = {}
        self.models: dict[str, Model] = {}
        self.endpoint_configs: dict[str, EndpointConfig] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.tags: dict[str, dict[str, str]] = {}  # resource ARN -> key -> value
        self.lock = threading.RLock()

    # -- training jobs ----------------------------------------------------------------------

    def create_training_job(self, request: dict[str, Any], tuning_job_arn: str | None = None,
                            metric_listener=None) -> dict[str, Any]:
        name = request["TrainingJobName"]
        specification = request.get("AlgorithmSpecification") or {}
        try:
            if specification.get("TrainingImage"):
                algorithm = images.algorithm_for_image(specification["TrainingImage"])
            elif specification.get("AlgorithmName"):
                algorithm = images.algorithm_for_name(specification["AlgorithmName"])
            else:
                raise ValidationException("Either TrainingImage or AlgorithmName must be specified in AlgorithmSpecification.")
        except images.UnknownImage as error:
            raise ValidationException(str(error)) from None
        if specification.get("TrainingInputMode") == "Pipe":
            raise ValidationException("TrainingInputMode Pipe is not supported by localcloud; use File or FastFile.")
        with self.lock:
            if name in self.training_jobs:
                raise ResourceInUse(
                    "Training job names must be unique within an AWS account and region, and a training job with "
                    f"this name already exists ({self.training_jobs[name].arn})")
            job = TrainingJob(name, arn(self.region, "training-job", name), self.region, request, algorithm,
                              tuning_job_arn=tuning_job_arn, metric_listener=metric_listener)
            job.transition("Starting", "Launching requested ML instances")
            self.training_jobs[name] = job
        self.trainer.start(job)
        return {"TrainingJobArn": job.arn}

    def describe_training_job(self, name: str) -> dict[str, Any]:
        return self._training_job(name).describe()

    def list_training_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        jobs = _filtered(list(self.training_jobs.values()), request, lambda job: job.status)
        jobs = _sorted(jobs, request, {"Name": lambda j: j.name, "Status": lambda j: j.status,
                                       "CreationTime": lambda j: j.creation_time})
        selected, more = page(jobs, request, DEFAULT_PAGE_SIZE)
        return {"TrainingJobSummaries": [job.summary() for job in selected], **more}

    def stop_training_job(self, name: str) -> dict[str, Any]:
        job = self._training_job(name)
        if job.status != "InProgress":
            raise ValidationException(f"The request was rejected because the training job is in status {job.status}.")
        job.stop_requested = True
        job.status = "Stopping"
        job.transition("Stopping", "Stopping the training job")
        self.trainer.stop(job)
        return {}

    def _training_job(self, name: str) -> TrainingJob:
        job = self.training_jobs.get(name)
        if job is None:
            raise ResourceNotFound("Requested resource not found.")
        return job

    # -- models and endpoint configurations -------------------------------------------------

    def create_model(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["ModelName"]
        model = Model(name, arn(self.region, "model", name), request)
        if not model.containers:
            raise ValidationException("Either PrimaryContainer or Containers must be specified.")
        for container in model.containers:
            try:
                images.algorithm_for_image(container.get("Image", ""))
            except images.UnknownImage as error:
                raise ValidationException(str(error)) from None
        with self.lock:
            if name in self.models:
                raise ValidationException(f'Cannot create already existing model "{model.arn}".')
            self.models[name] = model
        return {"ModelArn": model.arn}

    def describe_model(self, name: str) -> dict[str, Any]:
        return self._model(name).describe()

    def list_models(self, request: dict[str, Any]) -> dict[str, Any]:
        models = _filtered(list(self.models.values()), request, lambda model: None)
        models = _sorted(models, request, {"Name": lambda m: m.name, "CreationTime": lambda m: m.creation_time})
        selected, more = page(models, request, DEFAULT_PAGE_SIZE)
        return {"Models": [m.summary() for m in selected], **more}

    def delete_model(self, name: str) -> dict[str, Any]:
        with self.lock:
            self._model(name)
            del self.models[name]
        return {}

    def _model(self, name: str) -> Model:
        model = self.models.get(name)
        if model is None:
            raise ValidationException(f'Could not find model "{arn(self.region, "model", name)}".')
        return model

    def create_endpoint_config(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["EndpointConfigName"]
        config = EndpointConfig(name, arn(self.region, "endpoint-config", name), request)
        for variant in request["ProductionVariants"]:
            self._model(variant["ModelName"])
        with self.lock:
            if name in self.endpoint_configs:
                raise ValidationException(f'Cannot create already existing endpoint configuration "{config.arn}".')
            self.endpoint_configs[name] = config
        return {"EndpointConfigArn": config.arn}

    def describe_endpoint_config(self, name: str) -> dict[str, Any]:
        return self._endpoint_config(name).describe()

    def list_endpoint_configs(self, request: dict[str, Any]) -> dict[str, Any]:
        configs = _filtered(list(self.endpoint_configs.values()), request, lambda config: None)
        configs = _sorted(configs, request, {"Name": lambda c: c.name, "CreationTime": lambda c: c.creation_time})
        selected, more = page(configs, request, DEFAULT_PAGE_SIZE)
        return {"EndpointConfigs": [c.summary() for c in selected], **more}

    def delete_endpoint_config(self, name: str) -> dict[str, Any]:
        with self.lock:
            self._endpoint_config(name)
            del self.endpoint_configs[name]
        return {}

    def _endpoint_config(self, name: str) -> EndpointConfig:
        config = self.endpoint_configs.get(name)
        if config is None:
            raise ValidationException(f'Could not find endpoint configuration "{arn(self.region, "endpoint-config", name)}".')
        return config

    # -- endpoints --------------------------------------------------------------------------

    def create_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["EndpointName"]
        config = self._endpoint_config(request["EndpointConfigName"])
        with self.lock:
            if name in self.endpoints:
                raise ValidationException(
                    f'Cannot create already existing endpoint "{arn(self.region, "endpoint", name)}".')
            endpoint = Endpoint(name, arn(self.region, "endpoint", name), self.region, config.name)
            self.endpoints[name] = endpoint
        self.host.deploy(endpoint, self._variant_plan(config))
        return {"EndpointArn": endpoint.arn}

    def update_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(request["EndpointName"])
        config = self._endpoint_config(request["EndpointConfigName"])
        if endpoint.status not in ("InService", "Failed"):
            raise ValidationException(f'Cannot update in-progress endpoint "{endpoint.arn}".')
        endpoint.status = "Updating"
        endpoint.last_modified_time = now()
        self.host.deploy(endpoint, self._variant_plan(config), new_config_name=config.name)
        return {"EndpointArn": endpoint.arn}

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        return self._endpoint(name).describe()

    def list_endpoints(self, request: dict[str, Any]) -> dict[str, Any]:
        endpoints = _filtered(list(self.endpoints.values()), request, lambda endpoint: endpoint.status)
        endpoints = _sorted(endpoints, request, {"Name": lambda e: e.name, "Status": lambda e: e.status,
                                                 "CreationTime": lambda e: e.creation_time})
        selected, more = page(endpoints, request, DEFAULT_PAGE_SIZE)
        return {"Endpoints": [e.summary() for e in selected], **more}

    def delete_endpoint(self, name: str) -> dict[str, Any]:
        with self.lock:
            endpoint = self._endpoint(name)
            del self.endpoints[name]
        self.host.undeploy(endpoint)
        return {}

    def _endpoint(self, name: str) -> Endpoint:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise ValidationException(f'Could not find endpoint "{arn(self.region, "endpoint", name)}".')
        return endpoint

    def _variant_plan(self, config: EndpointConfig) -> list[dict[str, Any]]:
        """Each production variant with the model containers it serves."""
        return [dict(variant, Containers=self._model(variant["ModelName"]).containers)
                for variant in config.request["ProductionVariants"]]

    # -- hyperparameter tuning jobs ---------------------------------------------------------

    def create_hyper_parameter_tuning_job(self, request: dict[str, Any]) -> dict[str, Any]:
        from localcloud.sagemaker import tuning

        job, strategy = tuning.prepare(request, self.region)
        with self.lock:
            if job.name in self.tuning_jobs:
                raise ResourceInUse(f"Hyperparameter tuning job {job.name} already exists ({job.arn}); tuning job "
                                    "names must be unique within an AWS account and region.")
            self.tuning_jobs[job.name] = job
        tuning.start(self, job, strategy)
        return {"HyperParameterTuningJobArn": job.arn}

    def describe_hyper_parameter_tuning_job(self, name: str) -> dict[str, Any]:
        return self._tuning_job(name).describe()

    def list_hyper_parameter_tuning_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        jobs = _filtered(list(self.tuning_jobs.values()), request, lambda job: job.status)
        jobs = _sorted(jobs, request, {"Name": lambda j: j.name, "Status": lambda j: j.status,
                                       "CreationTime": lambda j: j.creation_time}, "Name", "Ascending")
        selected, more = page(jobs, request)
        return {"HyperParameterTuningJobSummaries": [job.summary() for job in selected], **more}

    def list_training_jobs_for_hyper_parameter_tuning_job(self, request: dict[str, Any]) -> dict[str, Any]:
        job = self._tuning_job(request["HyperParameterTuningJobName"])
        trials = [t for t in job.trials if request.get("StatusEquals", t.job.status) == t.job.status]
        sort_by = request.get("SortBy", "Name")
        if sort_by == "FinalObjectiveMetricValue":
            # As the service does, jobs without a final objective are left out of this order.
            trials = [t for t in trials if "FinalHyperParameterTuningJobObjectiveMetric" in job.training_summary(t)]
        trials = _sorted(trials, request, {"Name": lambda t: t.job.name, "Status": lambda t: t.job.status,
                                           "CreationTime": lambda t: t.job.creation_time,
                                           "FinalObjectiveMetricValue": lambda t: job.objective_value(t.job)},
                         "Name", "Ascending")
        selected, more = page(trials, request)
        return {"TrainingJobSummaries": [job.training_summary(t) for t in selected], **more}

    def stop_hyper_parameter_tuning_job(self, name: str) -> dict[str, Any]:
        job = self._tuning_job(name)
        if job.status != "InProgress":
            raise ValidationException(f"The request was rejected because the hyperparameter tuning job is in status "
                                      f"{job.status}.")
        job.stop_requested = True
        job.status = "Stopping"
        job.last_modified_time = now()
        job.wake.set()
        return {}

    def _tuning_job(self, name: str) -> TuningJob:
        job = self.tuning_jobs.get(name)
        if job is None:
            raise ResourceNotFound(f"Amazon SageMaker can't find a tuning job with name {name}")
        return job

    # -- batch transform jobs ---------------------------------------------------------------

    def create_transform_job(self, request: dict[str, Any]) -> dict[str, Any]:
        from localcloud.sagemaker import transform

        name = request["TransformJobName"]
        model = self._model(request["ModelName"])
        transform.check(request, model)
        with self.lock:
            if name in self.transform_jobs:
                raise ResourceInUse(f"Job name must be unique within an AWS account and region, and a job with this "
                                    f"name already exists ({self.transform_jobs[name].arn})")
            job = TransformJob(name, arn(self.region, "transform-job", name), self.region, request)
            self.transform_jobs[name] = job
        self.transformer.start(job, model)
        return {"TransformJobArn": job.arn}

    def describe_transform_job(self, name: str) -> dict[str, Any]:
        return self._transform_job(name).describe()

    def list_transform_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        jobs = _filtered(list(self.transform_jobs.values()), request, lambda job: job.status)
        jobs = _sorted(jobs, request, {"Name": lambda j: j.name, "Status": lambda j: j.status,
                                       "CreationTime": lambda j: j.creation_time})
        selected, more = page(jobs, request)
        return {"TransformJobSummaries": [job.summary() for job in selected], **more}

    def stop_transform_job(self, name: str) -> dict[str, Any]:
        job = self._transform_job(name)
        if job.status != "InProgress":
            raise ValidationException(f"The request was rejected because the transform job is in status {job.status}.")
        job.stop_requested = True
        job.status = "Stopping"
        job.last_modified_time = now()
        return {}

    def _transform_job(self, name: str) -> TransformJob:
        job = self.transform_jobs.get(name)
        if job is None:
            raise ValidationException(f"Could not find job to update with name {name}")
        return job

    # -- tags -------------------------------------------------------------------------------

    def record_tags(self, resource_arn: str, tags: list[dict[str, str]]) -> None:
        """The ``Tags`` a Create* request gave its resource."""
        with self.lock:
            self.tags.setdefault(resource_arn, {}).update({tag["Key"]: tag.get("Value", "") for tag in tags})

    def add_tags(self, request: dict[str, Any]) -> dict[str, Any]:
        self._require_resource(request["ResourceArn"])
        self.record_tags(request["ResourceArn"], request["Tags"])
        return {"Tags": request["Tags"]}

    def list_tags(self, request: dict[str, Any]) -> dict[str, Any]:
        self._require_resource(request["ResourceArn"])
        tags = [{"Key": key, "Value": value} for key, value in self.tags.get(request["ResourceArn"], {}).items()]
        selected, more = page(tags, request, 50)
        return {"Tags": selected, **more}

    def delete_tags(self, request: dict[str, Any]) -> dict[str, Any]:
        self._require_resource(request["ResourceArn"])
        with self.lock:
            for key in request["TagKeys"]:
                self.tags.get(request["ResourceArn"], {}).pop(key, None)
        return {}

    def _require_resource(self, resource_arn: str) -> None:
        resources = (self.training_jobs, self.models, self.endpoint_configs, self.endpoints, self.tuning_jobs,
                     self.transform_jobs)
        if not any(resource.arn == resource_arn for kind in resources for resource in kind.values()):
            raise ValidationException(f"Resource {resource_arn} does not exist, or is not a resource localcloud keeps "
                                      "tags for (training, tuning and transform jobs, models, endpoint configurations "
                                      "and endpoints).")
