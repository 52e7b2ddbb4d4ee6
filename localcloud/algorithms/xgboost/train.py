"""Training: the container's channels, hyperparameters and log format around ``xgboost.train``."""

from __future__ import annotations

import logging
import warnings

import xgboost as xgb

from localcloud.algorithms.container import TrainingEnvironment, UserError
from localcloud.algorithms.xgboost import data, hyperparameters

MODEL_FILE = "xgboost-model"
DEFAULT_CONTENT_TYPE = "text/libsvm"  # the container's default when a channel names none
NOT_XGBOOST_PARAMETERS = ("num_round", "early_stopping_rounds", "csv_weights", "save_model_on_termination")


def train(environment: TrainingEnvironment) -> None:
    params = hyperparameters.validate(environment.hyperparameters)
    objective_metric = environment.hyperparameters.get("_tuning_objective_metric")
    if objective_metric:
        # As the container does for a tuning job's training jobs: the objective joins eval_metric, last,
        # so that the log reports it every round and early_stopping_rounds watches it.
        metric = objective_metric.split(":", 1)[-1]
        params["eval_metric"] = [m for m in params.get("eval_metric", []) if m != metric] + [metric]
    custom = [m for m in params.get("eval_metric", []) if m in hyperparameters.CUSTOM_METRICS]
    if custom:
        raise UserError(f"eval_metric {custom} is computed by the SageMaker container itself; localcloud's "
                        "XGBoost supports the metrics of the xgboost library only")
    unknown = sorted(set(environment.input_data_config) - {"train", "validation"})
    if unknown:
        raise UserError(f"Unexpected channel(s) {unknown}: XGBoost accepts 'train' and 'validation'")
    if "train" not in environment.input_data_config:
        raise UserError("Missing required channel: train")

    csv_weights = bool(params.get("csv_weights"))
    train_matrix = data.load_channel(environment.channel_dir("train"),
                                     environment.content_type("train", DEFAULT_CONTENT_TYPE), csv_weights)
    validation_matrix = data.load_channel(environment.channel_dir("validation"),
                                          environment.content_type("validation", DEFAULT_CONTENT_TYPE), csv_weights)
    evals = [(train_matrix, "train")] + ([(validation_matrix, "validation")] if validation_matrix else [])
    if "early_stopping_rounds" in params and validation_matrix is None:
        raise UserError("early_stopping_rounds needs a validation channel")
    logging.info("Train matrix has %d rows and %d columns", train_matrix.num_row(), train_matrix.num_col())
    if validation_matrix is not None:
        logging.info("Validation matrix has %d rows", validation_matrix.num_row())

    booster_params = {k: v for k, v in params.items() if k not in NOT_XGBOOST_PARAMETERS}
    if "eval_metric" in booster_params and len(booster_params["eval_metric"]) == 1:
        booster_params["eval_metric"] = booster_params["eval_metric"][0]
    try:
        booster = xgb.train(
            booster_params, train_matrix, num_boost_round=params["num_round"], evals=evals,
            early_stopping_rounds=params.get("early_stopping_rounds"), verbose_eval=True,
        )
    except xgb.core.XGBoostError as error:
        raise UserError(str(error).splitlines()[0]) from None
    environment.model_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The container's file name has no extension; xgboost then writes UBJSON (readable since xgboost 1.6)
        # and says so on every save.
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(environment.model_dir / MODEL_FILE))
