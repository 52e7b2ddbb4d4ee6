"""Training jobs: lay out ``/opt/ml``, run the algorithm's ``train``, ship logs, metrics and the model.

Each job runs in its own thread and its own process, through the secondary statuses the service
reports: Starting, Downloading, Training, Uploading, then Completed, Failed or Stopped.  The process
is forked from the algorithm's pre-imported zygote (:mod:`localcloud.sagemaker.zygotes`), or spawned
when the algorithm cannot be forked safely.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from pathlib import Path

from localcloud import config, lifetimes
from localcloud.paths import confined
from localcloud.sagemaker import images, storage
from localcloud.sagemaker.models import TrainingJob, now
from localcloud.sagemaker.zygotes import Zygotes

logger = logging.getLogger("localcloud.sagemaker")

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
STOP_GRACE_SECONDS = 10
DEFAULT_MAX_RUNTIME_SECONDS = 86400


class TrainingRunner:
    def __init__(self, work_dir: Path, log_sink):
        self.work_dir = Path(work_dir)
        self.log_sink = log_sink
        self._processes: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._zygotes = Zygotes()
        self._finished: set[str] = set()
        self._on_finish: dict[str, list] = {}

    def start(self, job: TrainingJob) -> None:
        threading.Thread(target=self._run, args=(job,), name=f"training-{job.name}", daemon=True).start()

    def when_finished(self, job: TrainingJob, callback) -> None:
        """Call ``callback()`` once ``job`` has ended (at once if it has); how a tuning job learns without polling."""
        with self._lock:
            if job.name not in self._finished:
                self._on_finish.setdefault(job.name, []).append(callback)
                return
        callback()

    def stop(self, job: TrainingJob) -> None:
        with self._lock:
            process = self._processes.get(job.name)
        if process is not None:
            terminate(process)

    def shutdown(self) -> None:
        with self._lock:
            processes = list(self._processes.values())
        for process in processes:
            if process.poll() is None:
                signal_group(process, signal.SIGKILL)
        self._zygotes.shutdown()

    # -- one job ----------------------------------------------------------------------------

    def _run(self, job: TrainingJob) -> None:
        # A fresh folder for each run: a job never sees the files of an earlier job of the same name.
        run_dir = confined(self.work_dir, f"{job.name}-{uuid.uuid4().hex[:8]}", f'training job name "{job.name}"')
        try:
            self._train(job, run_dir / "opt_ml")
        except Exception as error:  # the service never leaves a job InProgress forever
            logger.exception("training job %s failed in localcloud", job.name)
            job.finish("Failed", "Failed", "Training job failed", f"InternalServerError: {error}")
        finally:
            with self._lock:
                self._finished.add(job.name)
                callbacks = self._on_finish.pop(job.name, [])
            for callback in callbacks:
                callback()
            shutil.rmtree(run_dir, ignore_errors=True)

    def _train(self, job: TrainingJob, root: Path) -> None:
        stream = f"{job.name}/algo-1-{int(time.time())}"
        job.transition("Downloading", "Downloading input data")
        problem = self._prepare(job, root)
        if problem:
            job.finish("Failed", "Failed", "Training job failed", problem)
            return
        if job.stop_requested:
            job.finish("Stopped", "Stopped", "The training job was stopped")
            return

        job.training_start_time = now()
        job.transition("Training", "Training image download completed. Training in progress.")
        exit_code, timed_out = self._execute(job, root, stream)
        job.training_end_time = now()

        failure = root / "output" / "failure"
        stopped = job.stop_requested or timed_out
        if exit_code != 0 and not stopped:
            reason = failure.read_text().strip() if failure.exists() else \
                f"AlgorithmError: the algorithm exited with status {exit_code} and wrote no failure reason"
            job.finish("Failed", "Failed", "Training job failed", reason)
            return
        job.transition("Uploading", "Uploading generated training model")
        self._upload(job, root)
        if timed_out:
            job.finish("Stopped", "MaxRuntimeExceeded", "Job stopped: it exceeded the maximum runtime")
        elif stopped:
            job.finish("Stopped", "Stopped", "The training job was stopped")
        else:
            job.finish("Completed", "Completed", "Training job completed")

    def _prepare(self, job: TrainingJob, root: Path) -> str | None:
        """Write the input configuration and copy the channels; the failure reason if a channel is empty."""
        request = job.request
        config = root / "input" / "config"
        config.mkdir(parents=True, exist_ok=True)
        (root / "model").mkdir(exist_ok=True)
        (root / "output" / "data").mkdir(parents=True, exist_ok=True)
        channels = request.get("InputDataConfig", [])
        (config / "hyperparameters.json").write_text(json.dumps(request.get("HyperParameters", {})))
        (config / "inputdataconfig.json").write_text(json.dumps({
            channel["ChannelName"]: {
                "ContentType": channel.get("ContentType", ""),
                "TrainingInputMode": channel.get("InputMode", request["AlgorithmSpecification"].get("TrainingInputMode", "File")),
                "S3DistributionType": channel["DataSource"].get("S3DataSource", {}).get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
            } for channel in channels}))
        (config / "resourceconfig.json").write_text(json.dumps(
            {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "lo"}))
        for channel in channels:
            source = channel["DataSource"].get("S3DataSource")
            if source is None:
                return f"ClientError: channel {channel['ChannelName']}: only S3DataSource is supported by localcloud"
            destination = root / "input" / "data" / channel["ChannelName"]
            destination.mkdir(parents=True, exist_ok=True)
            try:
                if source["S3DataType"] == "ManifestFile":
                    count = storage.download_manifest(source["S3Uri"], destination)
                else:
                    count = storage.download_prefix(source["S3Uri"], destination)
            except storage.MissingData as error:
                return f"ClientError: {error}"
            if count == 0:
                bucket = storage.split_uri(source["S3Uri"])[0]
                return (f'ClientError: No S3 objects found under S3 URL "{source["S3Uri"]}" given in input data source. '
                        f"Please ensure that the bucket exists in the selected region ({job.region}), that objects "
                        f'exist under that S3 prefix, and that the role "{request["RoleArn"]}" has "s3:ListBucket" '
                        f'permissions on bucket "{bucket}".')
        return None

    def _execute(self, job: TrainingJob, root: Path, stream: str) -> tuple[int, bool]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OPT_ML": str(root), "PYTHONUNBUFFERED": "1",
               "OMP_NUM_THREADS": str(os.cpu_count() or 1),
               **openmp_waiting(job),
               # Weights cannot be downloaded offline; algorithms that can start from them look here.
               "LOCALCLOUD_PRETRAINED_DIR": os.environ.get("LOCALCLOUD_PRETRAINED_DIR",
                                                           str(config.home() / "pretrained"))}
        env.update(job.request.get("Environment", {}))
        process = self._zygotes.start_training(job.algorithm, str(root), env) or lifetimes.spawn(
            [sys.executable, "-m", f"localcloud.algorithms.{job.algorithm}", "train"],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        with self._lock:
            self._processes[job.name] = process
        # A StopTrainingJob that came after the status turned Training but before the process was
        # registered found nothing to signal; the flag it set is still here.
        if job.stop_requested:
            terminate(process)
        max_runtime = job.request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_SECONDS)
        timer = threading.Timer(max_runtime, self._time_out, args=(process,))
        timer.start()
        metrics = [(d["Name"], re.compile(d["Regex"])) for d in
                   job.request["AlgorithmSpecification"].get("MetricDefinitions") or images.metric_definitions(job.algorithm)]
        try:
            for raw in process.stdout:
                # The service's log agent escapes tabs the way syslog does; metric regexes expect it.
                line = raw.decode("utf-8", errors="replace").rstrip("\n").replace("\t", "#011")
                stamp = now()
                self.log_sink(job.region, LOG_GROUP, stream, [(int(stamp.timestamp() * 1000), line)])
                for name, pattern in metrics:
                    match = pattern.search(line)
                    if match:
                        try:
                            job.record_metric(name, float(match.group(1)), stamp)
                        except (ValueError, IndexError):
                            pass
            exit_code = process.wait()
        finally:
            timer.cancel()
            with self._lock:
                self._processes.pop(job.name, None)
            if process.poll() is None:  # the log shipping failed: the job is over, its process too
                signal_group(process, signal.SIGKILL)
                process.wait()
            lifetimes.forget(process)
        return exit_code, getattr(process, "timed_out", False)

    @staticmethod
    def _time_out(process: subprocess.Popen) -> None:
        process.timed_out = True
        terminate(process)

    def _upload(self, job: TrainingJob, root: Path) -> None:
        output_path = job.request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        job.model_artifact = f"{output_path}/{job.name}/output/model.tar.gz"
        storage.write(job.model_artifact, pack(root / "model"))
        data = root / "output" / "data"
        if any(data.iterdir()):
            storage.write(f"{output_path}/{job.name}/output/output.tar.gz", pack(data))


def terminate(process: subprocess.Popen) -> None:
    """SIGTERM, as the service sends, then SIGKILL if the algorithm has not exited after a grace period."""
    if process.poll() is not None:
        return
    signal_group(process, signal.SIGTERM)

    def kill() -> None:
        if process.poll() is None:
            signal_group(process, signal.SIGKILL)

    threading.Timer(STOP_GRACE_SECONDS, kill).start()


def openmp_waiting(job: TrainingJob) -> dict[str, str]:
    """How the job's OpenMP threads wait for work: on AWS each job has its instance's cores to itself,
    here jobs share the machine's.  OpenMP's default spinning makes jobs side by side ~10x slower, and
    not spinning at all costs a lone job a third of its boosting (XGBoost, 50k x 50, 200 rounds, 2 cores:
    alone 1.34 s spinning, 1.76 s passive, 1.38 s with a short spin; two at once 12.9 s, 2.5 s, 2.9 s).
    A tuning job runs its jobs side by side by design, so they never spin; any other job spins briefly."""
    if job.tuning_job_arn:
        return {"OMP_WAIT_POLICY": "PASSIVE"}
    return {"GOMP_SPINCOUNT": "1000"}


def signal_group(process, signum: int) -> None:
    """Signal the process's group, which may be gone already: a forked process is reaped by its zygote,
    which reports its status just after."""
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def pack(directory: Path) -> bytes:
    """``directory``'s contents as a gzipped tar, paths relative to it (as SageMaker packs model/)."""
    buffer = io.BytesIO()
    # The fastest level: the archive never leaves this machine, and packing is on every job's way to Completed
    # (a 1.1 MB XGBoost model: level 9, tarfile's default, 0.65 s; level 6 0.17 s; level 1 0.04 s, 20% larger).
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        for path in sorted(directory.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    return buffer.getvalue()
