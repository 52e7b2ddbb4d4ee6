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
    stop_requested: bool = False

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


class SageMakerBackend:
    """One region's SageMaker resources, and the runners that do their work."""

    def __init__(self, region: str, trainer, host):
        self.region = region
        self.trainer = trainer
        self.host = host
        self.training_jobs: dict[str, TrainingJob] = {}
        self.models: dict[str, Model] = {}
        self.endpoint_configs: dict[str, EndpointConfig] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.lock = threading.RLock()

    # -- training jobs ----------------------------------------------------------------------

    def create_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
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
            job = TrainingJob(name, arn(self.region, "training-job", name), self.region, request, algorithm)
            job.transition("Starting", "Launching requested ML instances")
            self.training_jobs[name] = job
        self.trainer.start(job)
        return {"TrainingJobArn": job.arn}

    def describe_training_job(self, name: str) -> dict[str, Any]:
        return self._training_job(name).describe()

    def list_training_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        jobs = sorted(self.training_jobs.values(), key=lambda job: job.creation_time, reverse=True)
        if "StatusEquals" in request:
            jobs = [job for job in jobs if job.status == request["StatusEquals"]]
        if "NameContains" in request:
            jobs = [job for job in jobs if request["NameContains"] in job.name]
        return {"TrainingJobSummaries": [job.summary() for job in jobs[: request.get("MaxResults", 100)]]}

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
        models = [m for m in self.models.values() if request.get("NameContains", "") in m.name]
        return {"Models": [m.summary() for m in sorted(models, key=lambda m: m.creation_time, reverse=True)]}

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
        configs = [c for c in self.endpoint_configs.values() if request.get("NameContains", "") in c.name]
        return {"EndpointConfigs": [c.summary() for c in sorted(configs, key=lambda c: c.creation_time, reverse=True)]}

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
        endpoints = [e for e in self.endpoints.values() if request.get("NameContains", "") in e.name]
        if "StatusEquals" in request:
            endpoints = [e for e in endpoints if e.status == request["StatusEquals"]]
        return {"Endpoints": [e.summary() for e in sorted(endpoints, key=lambda e: e.creation_time, reverse=True)]}

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
