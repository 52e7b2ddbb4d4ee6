"""Built-in algorithms against the libraries people would otherwise use, measured in one run.

    python -m benchmarks.algorithms [--rows 200000] [--features 50]

Linear Learner's training (the code a training job runs, on arrays) against scikit-learn's
LogisticRegression and SGDClassifier on a generated binary set, with held-out accuracy.
Target: within 2x SGDClassifier's time at equal or better accuracy.

Image Classification's training epoch (the algorithm's own loop: decoding done, normalisation,
augmentation, accuracy bookkeeping) against a bare PyTorch loop on the same ResNet and images.
"""

from __future__ import annotations

import argparse
import logging
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.common import report
from localcloud.algorithms.container import TrainingEnvironment
from localcloud.algorithms.image_classification.network import ResNet
from localcloud.algorithms.image_classification.train import train as train_image_classification
from localcloud.algorithms.linear_learner import hyperparameters, learner
from mlformats import im2rec
from mlformats.linear_learner import LinearLearnerModel
from tests.localcloud.images import image_set


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


def image_classification_section(count: int, size: int, epochs: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        channel, folder = root / "input" / "data" / "train", root / "images"
        channel.mkdir(parents=True)
        folder.mkdir()
        entries = []
        for index, (image, label) in enumerate(image_set(count, size, seed=1)):
            image.save(folder / f"{index}.png")
            entries.append(im2rec.ListEntry(index, (float(label),), f"{index}.png"))
        im2rec.write_rec(entries, folder, channel / "train.rec")
        lines: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: lines.append(record.getMessage())
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
        try:
            train_image_classification(TrainingEnvironment(
                {"num_classes": "4", "num_training_samples": str(count), "image_shape": f"3,{size},{size}",
                 "num_layers": "18", "epochs": str(epochs), "mini_batch_size": "32", "learning_rate": "0.05"},
                {"train": {"ContentType": "application/x-recordio"}}, {}, root))
        finally:
            logging.getLogger().removeHandler(handler)
        costs = [float(m.group(1)) for line in lines if (m := re.search(r"Time cost=(\S+)", line))]
    ours = count / min(costs)

    torch.manual_seed(0)
    net = ResNet(18, 4)
    optimizer = torch.optim.SGD(net.parameters(), 0.05, momentum=0.9, weight_decay=1e-4)
    images = torch.randn(count, 3, size, size)
    labels = torch.randint(0, 4, (count,))
    best = float("inf")
    for _ in range(epochs):
        started = time.perf_counter()
        for start in range(0, count, 32):
            loss = F.cross_entropy(net(images[start:start + 32]), labels[start:start + 32])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        best = min(best, time.perf_counter() - started)
    bare = count / best
    report(f"Image Classification, ResNet-18, {count} images at 3x{size}x{size}, batch 32 (best of {epochs} epochs)", [
        ("bare PyTorch loop", f"{bare:7.1f} images/s"),
        ("localcloud Image Classification", f"{ours:7.1f} images/s"),
        ("algorithm / bare loop", f"{ours / bare:.2f}x"),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--images", type=int, default=640)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    linear_learner_section(args.rows, args.features)
    image_classification_section(args.images, args.image_size, args.epochs)


if __name__ == "__main__":
    main()
