"""Linear Learner's ``model.tar.gz``, read and written with numpy alone (no MXNet).

Layout, as the SageMaker service writes it::

    model.tar.gz
    └── model_algo-1                 a zip archive (entries stored, not compressed)
        ├── additional-params.json   predictor_type, loss_type, threshold, metrics_params ...
        ├── manifest.json            {"mx-mod": "mxnet_module", "additional-params.json": "json", "version": 1}
        ├── mx-mod-symbol.json       dot(data, fc0_weight) + fc0_bias -> <output op>
        └── mx-mod-0000.params       NDArray list: "arg:fc0_weight" (features x outputs), "arg:fc0_bias" (1 x outputs)

A Lambda function can package this module with ``mlformats/ndarray.py`` to predict from an
artifact in S3 without an endpoint.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlformats import ndarray

ARCHIVE_MEMBER = "model_algo-1"
MANIFEST = {"mx-mod": "mxnet_module", "additional-params.json": "json", "version": 1}
OUTPUT_OPS = {"binary_classifier": "LogisticRegressionOutput", "multiclass_classifier": "SoftmaxOutput",
              "regressor": "LinearRegressionOutput"}


@dataclass
class LinearLearnerModel:
    weights: np.ndarray  # (features, outputs): one output, or one per class
    bias: np.ndarray  # (outputs,)
    predictor_type: str
    threshold: float = 0.5
    additional_params: dict = field(default_factory=dict)

    @property
    def feature_dim(self) -> int:
        return self.weights.shape[0]

    # -- reading ----------------------------------------------------------------------------

    @classmethod
    def load(cls, source: str | Path | bytes) -> LinearLearnerModel:
        """From a ``model.tar.gz`` (path or bytes), a ``model_algo-1`` zip, or a folder holding either."""
        if isinstance(source, (str, Path)):
            path = Path(source)
            if path.is_dir():
                inner = path / ARCHIVE_MEMBER
                return cls.load(inner if inner.exists() else path / "model.tar.gz")
            source = path.read_bytes()
        if source[:2] == b"\x1f\x8b":
            with tarfile.open(fileobj=io.BytesIO(source), mode="r:gz") as archive:
                member = archive.extractfile(ARCHIVE_MEMBER)
                if member is None:
                    raise ValueError(f"model.tar.gz holds no {ARCHIVE_MEMBER}")
                source = member.read()
        with zipfile.ZipFile(io.BytesIO(source)) as archive:
            params = json.loads(archive.read("additional-params.json"))
            arrays = ndarray.load(archive.read("mx-mod-0000.params"))
        weights = np.asarray(arrays["arg:fc0_weight"], dtype=np.float32)
        bias = np.asarray(arrays.get("arg:fc0_bias", np.zeros((1, weights.shape[1]))), dtype=np.float32).reshape(-1)
        return cls(weights, bias, params["predictor_type"], float(params.get("threshold", 0.5)), params)

    # -- writing ----------------------------------------------------------------------------

    def archive_member(self) -> bytes:
        """The ``model_algo-1`` zip."""
        params = {"threshold": self.threshold, "predictor_type": self.predictor_type, **self.additional_params}
        params["threshold"], params["predictor_type"] = self.threshold, self.predictor_type
        arrays = {"arg:fc0_weight": self.weights.astype(np.float32),
                  "arg:fc0_bias": self.bias.reshape(1, -1).astype(np.float32)}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr("additional-params.json", json.dumps(params))
            archive.writestr("manifest.json", json.dumps(MANIFEST))
            archive.writestr("mx-mod-0000.params", ndarray.save(arrays))
            archive.writestr("mx-mod-symbol.json", json.dumps(self._symbol(), indent=2))
        return buffer.getvalue()

    def to_tar_gz(self) -> bytes:
        member = self.archive_member()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            info = tarfile.TarInfo(ARCHIVE_MEMBER)
            info.size = len(member)
            archive.addfile(info, io.BytesIO(member))
        return buffer.getvalue()

    def _symbol(self) -> dict:
        outputs = self.weights.shape[1]
        return {
            "nodes": [
                {"op": "null", "name": "data", "inputs": []},
                {"op": "null", "name": "fc0_weight", "attrs": {"__shape__": str(tuple(self.weights.shape))},
                 "inputs": []},
                {"op": "dot", "name": "dot0", "inputs": [[0, 0, 0], [1, 0, 0]]},
                {"op": "null", "name": "fc0_bias", "attrs": {"__lr_mult__": "10.0", "__shape__": f"(1, {outputs})"},
                 "inputs": []},
                {"op": "broadcast_add", "name": "broadcast_plus0", "inputs": [[2, 0, 0], [3, 0, 0]]},
                {"op": "null", "name": "out_label", "inputs": []},
                {"op": OUTPUT_OPS[self.predictor_type], "name": "output0", "inputs": [[4, 0, 0], [5, 0, 0]]},
            ],
            "arg_nodes": [0, 1, 3, 5],
            "node_row_ptr": [0, 1, 2, 3, 4, 5, 6, 7],
            "heads": [[6, 0, 0]],
            "attrs": {"mxnet_version": ["int", 10301]},
        }

    # -- predicting -------------------------------------------------------------------------

    def raw(self, features: np.ndarray) -> np.ndarray:
        """``features @ weights + bias`` — the linear part before the output layer."""
        features = np.asarray(features, dtype=np.float32)
        if features.ndim == 1:
            features = features.reshape(1, -1)
        if features.shape[1] != self.feature_dim:
            raise ValueError(f"the model expects {self.feature_dim} features, the request has {features.shape[1]}")
        return features @ self.weights + self.bias

    def predict(self, features: np.ndarray) -> list[dict]:
        """Predictions shaped as the service returns them (labels are floats)."""
        raw = self.raw(features)
        if self.predictor_type == "regressor":
            return [{"score": float(value)} for value in raw[:, 0]]
        if self.predictor_type == "binary_classifier":
            scores = 1.0 / (1.0 + np.exp(-np.clip(raw[:, 0], -60, 60)))
            return [{"score": float(s), "predicted_label": float(s > self.threshold)} for s in scores]
        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        return [{"score": [float(p) for p in row], "predicted_label": float(np.argmax(row))} for row in probabilities]
