"""Which local algorithm a training or inference image URI stands for."""

from __future__ import annotations

import importlib.util
import re

_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+?)(?::(?P<tag>[A-Za-z0-9._-]+)|@sha256:[0-9a-f]{64})?$"
)
# ECR repository of each built-in algorithm -> localcloud algorithm package
REPOSITORIES = {
    "sagemaker-xgboost": "xgboost",
    "xgboost": "xgboost",
    "linear-learner": "linear_learner",
    "image-classification": "image_classification",
}
ALGORITHM_NAMES = {"xgboost": "xgboost", "linear-learner": "linear_learner", "image-classification": "image_classification"}


class UnknownImage(ValueError):
    pass


def available() -> list[str]:
    """Algorithm packages that exist in this localcloud."""
    return sorted({name for name in REPOSITORIES.values() if importlib.util.find_spec(f"localcloud.algorithms.{name}")})


def _supported_text() -> str:
    repositories = sorted(repo for repo, name in REPOSITORIES.items() if name in available())
    return (f"localcloud runs the SageMaker built-in algorithms {', '.join(repositories)} "
            "(any region, any version tag, as sagemaker.core.image_uris.retrieve returns them)")


def algorithm_for_image(image: str) -> str:
    match = _IMAGE.match(image or "")
    name = REPOSITORIES.get(match["repository"]) if match else None
    if name is None or name not in available():
        raise UnknownImage(f"Image {image} cannot be run: {_supported_text()}.")
    return name


def algorithm_for_name(algorithm_name: str) -> str:
    name = ALGORITHM_NAMES.get(algorithm_name.rsplit("/", 1)[-1])
    if name is None or name not in available():
        raise UnknownImage(f"Algorithm {algorithm_name} cannot be run: {_supported_text()}.")
    return name


def metric_definitions(algorithm: str) -> list[dict[str, str]]:
    """The MetricDefinitions the service applies to a built-in algorithm's log."""
    module = importlib.import_module(f"localcloud.algorithms.{algorithm}.metrics")
    return module.metric_definitions()
