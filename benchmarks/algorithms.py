"""Built-in algorithms against the libraries people would otherwise use, measured in one run.

    python -m benchmarks.algorithms [--rows 200000] [--features 50]

Linear Learner's training (the code a training job runs, on arrays) against scikit-learn's
LogisticRegression and SGDClassifier on a generated binary set, with held-out accuracy.
Target: within 2x SGDClassifier's time at equal or better accuracy.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.common import report
from localcloud.algorithms.linear_learner import hyperparameters, learner
from mlformats.linear_learner import LinearLearnerModel


def linear_learner_section(rows: int, features: int) -> None:
    x, y = make_classification(n_samples=rows, n_features=features, n_informative=features // 2, flip_y=0.05,
                               random_state=0)
    x_train, x_test, y_train, y_test = train_test_split(x.astype(np.float32), y.astype(np.float32), test_size=0.2,
                                                        random_state=0)
    results = []
    for name, estimator in [("scikit-learn LogisticRegression", LogisticRegression(max_iter=1000)),
                            ("scikit-learn SGDClassifier (log loss)", SGDClassifier(loss="log_loss", random_state=0))]:
        pipeline = make_pipeline(StandardScaler(), estimator)
        started = time.perf_counter()
        pipeline.fit(x_train, y_train)
        results.append((name, time.perf_counter() - started, pipeline.score(x_test, y_test)))

    params = hyperparameters.validate({"predictor_type": "binary_classifier"})
    started = time.perf_counter()
    fitted = learner.fit(x_train, y_train, None, params, log=lambda line: None)
    seconds = time.perf_counter() - started
    model = LinearLearnerModel(fitted.weights, fitted.bias, "binary_classifier", fitted.threshold)
    scores = 1.0 / (1.0 + np.exp(-np.clip(model.raw(x_test)[:, 0], -60, 60)))
    accuracy = float(np.mean((scores > model.threshold) == (y_test == 1)))
    results.append(("localcloud Linear Learner (defaults, 8 models)", seconds, accuracy))

    sgd_seconds, sgd_accuracy = results[1][1], results[1][2]
    rows_out = [(name, f"{seconds:6.2f} s   accuracy {acc:.4f}") for name, seconds, acc in results]
    rows_out.append(("Linear Learner / SGDClassifier time", f"{seconds / sgd_seconds:.2f}x   target <= 2x at "
                     f"accuracy >= SGD's: {'met' if seconds <= 2 * sgd_seconds and accuracy >= sgd_accuracy else 'MISSED'}"))
    report(f"Linear Learner, binary, {rows} x {features} generated, 80/20 split", rows_out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=50)
    args = parser.parse_args()
    linear_learner_section(args.rows, args.features)


if __name__ == "__main__":
    main()
