"""Reading training channels and request payloads: CSV (label first, no header) and LIBSVM."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from localcloud.algorithms.container import UserError

CSV = "text/csv"
LIBSVM_TYPES = ("text/libsvm", "text/x-libsvm")
TRAINING_CONTENT_TYPES = (CSV, *LIBSVM_TYPES)


def channel_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith("."))


def load_channel(directory: Path, content_type: str, csv_weights: bool = False) -> xgb.DMatrix | None:
    """The channel as a DMatrix, or None if the channel was not given."""
    if not directory.exists():
        return None
    files = channel_files(directory)
    if not files or all(f.stat().st_size == 0 for f in files):
        raise UserError(f"No data in training channel path {directory}")
    if content_type == CSV:
        try:
            frame = pd.concat([pd.read_csv(f, header=None) for f in files if f.stat().st_size], ignore_index=True)
            values = frame.to_numpy(dtype=np.float32)
        except (ValueError, pd.errors.ParserError) as error:
            raise UserError(f"Loading csv data failed with Exception, please ensure data is in csv format: {error}") from None
        if csv_weights:
            return xgb.DMatrix(values[:, 2:], label=values[:, 0], weight=values[:, 1])
        return xgb.DMatrix(values[:, 1:], label=values[:, 0])
    if content_type in LIBSVM_TYPES:
        text = "\n".join(f.read_text().strip() for f in files)
        try:
            return libsvm_matrix(text)
        except ValueError as error:
            raise UserError(f"Loading libsvm data failed with Exception, please ensure data is in libsvm format: {error}") from None
    raise UserError(f"Content type {content_type} is not supported. Use one of {list(TRAINING_CONTENT_TYPES)}.")


def csv_matrix(text: str) -> xgb.DMatrix:
    """Request rows of features (no label); empty fields are missing values."""
    frame = pd.read_csv(io.StringIO(text), header=None)
    return xgb.DMatrix(frame.to_numpy(dtype=np.float32))


def libsvm_matrix(text: str) -> xgb.DMatrix:
    labels, rows, columns, values = [], [], [], []
    for row, line in enumerate(line for line in text.splitlines() if line.strip()):
        parts = line.split()
        start = 0
        if ":" not in parts[0]:
            labels.append(float(parts[0]))
            start = 1
        for item in parts[start:]:
            index, value = item.split(":", 1)
            rows.append(row)
            columns.append(int(index))
            values.append(float(value))
    from scipy.sparse import csr_matrix

    matrix = csr_matrix((values, (rows, columns)), shape=(row + 1, max(columns, default=-1) + 1))
    return xgb.DMatrix(matrix, label=labels or None)
