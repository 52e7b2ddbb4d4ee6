"""The running SageMaker service: one backend per region, sharing the training and hosting runners."""

from __future__ import annotations

import threading
from pathlib import Path

from localcloud.sagemaker.hosting import EndpointHost
from localcloud.sagemaker.models import SageMakerBackend
from localcloud.sagemaker.training import TrainingRunner
from localcloud.sagemaker.transform import TransformRunner


class SageMakerService:
    def __init__(self, work_dir: Path, log_sink):
        self.trainer = TrainingRunner(Path(work_dir) / "training", log_sink)
        self.host = EndpointHost(Path(work_dir) / "endpoints", log_sink)
        self.transformer = TransformRunner(Path(work_dir) / "transform", log_sink)
        self._backends: dict[str, SageMakerBackend] = {}
        self._lock = threading.Lock()

    def backend(self, region: str) -> SageMakerBackend:
        with self._lock:
            if region not in self._backends:
                self._backends[region] = SageMakerBackend(region, self.trainer, self.host, self.transformer)
            return self._backends[region]

    def shutdown(self) -> None:
        self.trainer.shutdown()
        self.host.shutdown()
        self.transformer.shutdown()


_service: SageMakerService | None = None


def install(service: SageMakerService) -> None:
    global _service
    _service = service


def current() -> SageMakerService:
    if _service is None:
        raise RuntimeError("localcloud's SageMaker service is not started")
    return _service
