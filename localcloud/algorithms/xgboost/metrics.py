"""The metric definitions SageMaker applies to the XGBoost algorithm's log."""

from localcloud.algorithms.xgboost.hyperparameters import MAXIMIZE_METRICS, MINIMIZE_METRICS

_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def metric_definitions() -> list[dict[str, str]]:
    return [
        {"Name": f"{channel}:{metric}", "Regex": rf".*\[[0-9]+\].*#011{channel}-{metric}:{_NUMBER}.*"}
        for channel in ("train", "validation")
        for metric in MAXIMIZE_METRICS + MINIMIZE_METRICS
    ]


# The objective metrics the service documents for tuning XGBoost ("Tune an XGBoost Model"), with their
# optimisation direction.  validation:accuracy, validation:f1 and validation:mse are documented too, but
# the container computes those itself and localcloud's XGBoost emits xgboost's own metrics only.
TUNABLE_METRICS = {
    "validation:auc": "Maximize",
    "validation:aucpr": "Maximize",
    "validation:error": "Minimize",
    "validation:logloss": "Minimize",
    "validation:mae": "Minimize",
    "validation:map": "Maximize",
    "validation:merror": "Minimize",
    "validation:mlogloss": "Minimize",
    "validation:ndcg": "Maximize",
    "validation:rmse": "Minimize",
}
