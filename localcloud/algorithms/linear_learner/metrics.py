"""Linear Learner's evaluation metrics, its decision-threshold calibration and its log regexes."""

from __future__ import annotations

import numpy as np

BINARY = ["objective_loss", "binary_classification_accuracy", "binary_f_beta", "precision", "recall", "roc_auc_score"]
MULTICLASS = ["objective_loss", "multiclass_accuracy", "multiclass_top_k_accuracy", "dcg", "macro_precision",
              "macro_recall", "macro_f_beta"]
REGRESSION = ["objective_loss", "mse", "rmse", "absolute_loss"]
LOSS_LIKE = {"objective_loss", "mse", "rmse", "absolute_loss"}


def metric_definitions() -> list[dict[str, str]]:
    """What the service extracts from Linear Learner's log, by documented metric name."""
    definitions = [
        {"Name": "train:objective_loss", "Regex": r"#quality_metric: host=\S+, epoch=\S+, train \S+_objective <loss>=(\S+)"},
        {"Name": "train:progress", "Regex": r"#progress_metric: host=\S+, completed (\S+) % of epochs"},
        {"Name": "train:throughput", "Regex": r"#throughput_metric: host=\S+, train throughput=(\S+) records/second"},
        {"Name": "validation:objective_loss",
         "Regex": r"#quality_metric: host=\S+, (?:epoch=\S+, )?validation \S+_objective <loss>=(\S+)"},
        {"Name": "test:objective_loss", "Regex": r"#quality_metric: host=\S+, test \S+_objective <loss>=(\S+)"},
    ]
    for channel in ("validation", "test"):
        for name in sorted(set(BINARY + MULTICLASS + REGRESSION) - {"objective_loss"}):
            unit = "loss" if name in LOSS_LIKE else "score"
            definitions.append({"Name": f"{channel}:{name}",
                                "Regex": rf"#quality_metric: host=\S+, {channel} {name} <{unit}>=(\S+)"})
    return definitions


def _confusion_curve(scores: np.ndarray, labels: np.ndarray):
    """Counts at every candidate threshold (predict 1 when score > threshold)."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    true_positives = np.cumsum(sorted_labels)
    false_positives = np.cumsum(1 - sorted_labels)
    # Only the last index of each run of equal scores is a valid cut.
    last = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    positives = labels.sum()
    tp, fp = true_positives[last], false_positives[last]
    thresholds = sorted_scores[last]
    # Cutting below the lowest score predicts every example positive; add "predict none" too.
    tp, fp = np.r_[0.0, tp], np.r_[0.0, fp]
    thresholds = np.r_[1.0, thresholds]
    fn, tn = positives - tp, (len(labels) - positives) - fp
    return thresholds, tp, fp, fn, tn


def best_threshold(scores: np.ndarray, labels: np.ndarray, params: dict) -> tuple[float, float]:
    """(criterion value, threshold) maximising the binary model-selection criterion."""
    thresholds, tp, fp, fn, tn = _confusion_curve(scores.astype(np.float64), labels.astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        beta2 = params["f_beta"] ** 2
        f_beta = np.where(precision + recall > 0, (1 + beta2) * precision * recall / (beta2 * precision + recall), 0.0)
    accuracy = (tp + tn) / len(labels)
    criterion = params["binary_classifier_model_selection_criteria"]
    if criterion == "accuracy":
        values = accuracy
    elif criterion == "f_beta":
        values = f_beta
    elif criterion == "precision_at_target_recall":
        values = np.where(recall >= params["target_recall"], precision, -1.0)
    else:  # recall_at_target_precision
        values = np.where(precision >= params["target_precision"], recall, -1.0)
    # Cut i predicts positive for scores in thresholds[:i+1]: any threshold from the next lower score
    # up to (not including) this one gives the same predictions. Small selection sets tie often, and
    # the data cannot tell those thresholds apart: take the one nearest the uncalibrated 0.5.
    lower = np.r_[thresholds[1:], 0.0]
    upper = np.nextafter(thresholds, -np.inf)
    nearest = np.clip(0.5, lower, np.maximum(lower, upper))
    tied = np.flatnonzero(values >= values.max() - 1e-12)
    best = tied[np.argmin(np.abs(nearest[tied] - 0.5))]
    return float(values[best]), float(nearest[best])


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    positives, negatives = labels.sum(), len(labels) - labels.sum()
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = np.empty(len(scores))
    order = np.argsort(scores, kind="stable")
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # average the ranks of ties
        tied = scores == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def evaluate(predictor: str, outputs: np.ndarray, labels: np.ndarray, threshold: float, objective_loss: float,
             params: dict) -> dict[str, float]:
    """The documented metrics of a predictor type on one data set; ``outputs`` are scores."""
    result = {"objective_loss": objective_loss}
    if predictor == "binary_classifier":
        predicted = (outputs > threshold).astype(np.float64)
        tp = float(((predicted == 1) & (labels == 1)).sum())
        fp = float(((predicted == 1) & (labels == 0)).sum())
        fn = float(((predicted == 0) & (labels == 1)).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        beta2 = (params["f_beta"] or 1.0) ** 2
        f_beta = (1 + beta2) * precision * recall / (beta2 * precision + recall) if precision + recall else 0.0
        result.update(binary_classification_accuracy=float((predicted == labels).mean()), binary_f_beta=f_beta,
                      precision=precision, recall=recall, roc_auc_score=roc_auc(outputs, labels))
    elif predictor == "multiclass_classifier":
        classes = outputs.shape[1]
        predicted = outputs.argmax(axis=1)
        top_k = np.argsort(-outputs, axis=1)[:, : params["accuracy_top_k"]]
        rank_of_true = (np.argsort(-outputs, axis=1) == labels[:, None]).argmax(axis=1)
        precisions, recalls = [], []
        for cls in range(classes):
            tp = float(((predicted == cls) & (labels == cls)).sum())
            precisions.append(tp / max(1.0, float((predicted == cls).sum())))
            recalls.append(tp / max(1.0, float((labels == cls).sum())))
        precision, recall = float(np.mean(precisions)), float(np.mean(recalls))
        beta2 = (params["f_beta"] or 1.0) ** 2
        result.update(multiclass_accuracy=float((predicted == labels).mean()),
                      multiclass_top_k_accuracy=float((top_k == labels[:, None]).any(axis=1).mean()),
                      dcg=float(np.mean(1.0 / np.log2(rank_of_true + 2))),
                      macro_precision=precision, macro_recall=recall,
                      macro_f_beta=(1 + beta2) * precision * recall / (beta2 * precision + recall)
                      if precision + recall else 0.0)
    else:
        errors = outputs - labels
        mse = float(np.mean(errors**2))
        result.update(mse=mse, rmse=float(np.sqrt(mse)), absolute_loss=float(np.mean(np.abs(errors))))
    return result


def _direction(name: str) -> str:
    return "Minimize" if name in LOSS_LIKE else "Maximize"


# The objective metrics the service documents for tuning Linear Learner ("Tune a linear learner model"):
# each metric on the test and the validation channel.  Only objective_loss is reported every epoch, so
# only it supports early stopping, as the service documents.
TUNABLE_METRICS = {f"{channel}:{name}": _direction(name)
                   for channel in ("test", "validation")
                   for name in sorted(set(BINARY + MULTICLASS + REGRESSION))}
