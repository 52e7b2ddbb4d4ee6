"""Linear Learner's channels: ``text/csv`` (label in the first column) and recordio-protobuf."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from localcloud.algorithms.container import UserError
from mlformats import recordio_protobuf

CSV = "text/csv"
RECORDIO_PROTOBUF = "application/x-recordio-protobuf"
CONTENT_TYPES = (CSV, RECORDIO_PROTOBUF)


def load_channel(directory: Path, content_type: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(features, labels) of every file in the channel, or None if the channel was not given."""
    if not directory.exists():
        return None
    files = sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith(".") and p.stat().st_size)
    if not files:
        raise UserError(f"No training data found in channel {directory.name} (path {directory})")
    if content_type not in CONTENT_TYPES:
        raise UserError(f"Content type {content_type} is not supported for channel {directory.name}; "
                        f"use one of {list(CONTENT_TYPES)}")
    parts = [_read(path, content_type) for path in files]
    widths = {features.shape[1] for features, _ in parts}
    if len(widths) > 1:
        raise UserError(f"Channel {directory.name} has rows with different numbers of features: {sorted(widths)}")
    return np.vstack([f for f, _ in parts]), np.concatenate([labels for _, labels in parts])


def _read(path: Path, content_type: str) -> tuple[np.ndarray, np.ndarray]:
    if content_type == CSV:
        try:
            values = pd.read_csv(path, header=None).to_numpy(dtype=np.float32)
        except (ValueError, pd.errors.ParserError) as error:
            raise UserError(f"Unable to read {path.name} as CSV with the label in the first column: {error}") from None
        if values.shape[1] < 2:
            raise UserError(f"{path.name}: CSV rows need a label and at least one feature")
        return values[:, 1:], values[:, 0]
    try:
        features, labels = recordio_protobuf.read_dense(path.read_bytes())
    except (ValueError, IndexError) as error:
        raise UserError(f"Unable to read {path.name} as recordio-protobuf: {error}") from None
    if labels is None or len(labels) != len(features):
        raise UserError(f"{path.name}: every record needs a label['values'] tensor for training")
    return features, labels
