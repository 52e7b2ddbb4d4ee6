"""Data and helpers shared by the SageMaker tests (breast-cancer data that scikit-learn ships)."""

from __future__ import annotations

import io

import numpy as np
from botocore.exceptions import WaiterError
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "sagemaker-tests"
XGBOOST_PARAMS = {"objective": "binary:logistic", "eval_metric": "auc", "max_depth": 3, "eta": 0.2, "seed": 7}
ROUNDS = 60


def breast_cancer_split():
    features, labels = load_breast_cancer(return_X_y=True)
    return train_test_split(features, labels, test_size=0.25, random_state=42, stratify=labels)


def to_csv(features: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    rows = features if labels is None else np.column_stack([labels, features])
    buffer = io.StringIO()
    np.savetxt(buffer, rows, delimiter=",", fmt="%.10g")
    return buffer.getvalue().encode()


def training_request(name: str, train_uri: str, validation_uri: str | None = None,
                     hyperparameters: dict | None = None, image: str = XGBOOST_IMAGE, **overrides) -> dict:
    channels = [{"ChannelName": "train", "ContentType": "text/csv",
                 "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": train_uri}}}]
    if validation_uri:
        channels.append({"ChannelName": "validation", "ContentType": "text/csv",
                         "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": validation_uri}}})
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "HyperParameters": {k: str(v) for k, v in (hyperparameters or {}).items()},
    }
    request.update(overrides)
    return request


def wait_for_job(sagemaker, name: str) -> dict:
    """The job's description once it has ended, whether it completed, stopped or failed."""
    try:
        sagemaker.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 600})
    except WaiterError as error:  # the waiter treats Failed as an error; the tests look at why
        if error.last_response.get("TrainingJobStatus") != "Failed":
            raise
    return sagemaker.describe_training_job(TrainingJobName=name)


def deploy(sagemaker, name: str, model_data_url: str, image: str = XGBOOST_IMAGE, environment: dict | None = None,
           variants: list[tuple[str, float]] = (("AllTraffic", 1.0),), wait: bool = True) -> None:
    container = {"Image": image, "ModelDataUrl": model_data_url, "Environment": environment or {}}
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": variant, "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large",
         "InitialVariantWeight": weight} for variant, weight in variants])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    if wait:
        sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 0.5,
                                                                                         "MaxAttempts": 240})
