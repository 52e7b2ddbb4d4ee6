"""The metric definitions SageMaker applies to the XGBoost algorithm's log."""

from localcloud.algorithms.xgboost.hyperparameters import MAXIMIZE_METRICS, MINIMIZE_METRICS

_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def metric_definitions() -> list[dict[str, str]]:
    return [
        {"Name": f"{channel}:{metric}", "Regex": rf".*\[[0-9]+\].*#011{channel}-{metric}:{_NUMBER}.*"}
        for channel in ("train", "validation")
        for metric in MAXIMIZE_METRICS + MINIMIZE_METRICS
    ]
