"""Starting and stopping a localcloud: one HTTP port in front of moto and the data planes."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import make_server

from localcloud import config, lifetimes, motoadapter
from localcloud.auth import Credentials, allowed_origins_from_environment
from localcloud.config import RAW_HEADERS

logger = logging.getLogger("localcloud")
_install_lock = threading.Lock()


class _RequestHandler(MotoRequestHandler):
    def make_environ(self):
        """WSGI keeps header names upper-cased; API Gateway passes them to a function as the client wrote them."""
        environ = super().make_environ()
        environ[RAW_HEADERS] = list(self.headers.items())
        return environ


class _QuietRequestHandler(_RequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        """Tests and notebooks need no access log; ``serve`` keeps it."""
_installed = False
_cloudformation_installed = False
_cloudformation_failure: Exception | None = None


def _cache_moto_module_list() -> None:
    """moto lists its own package directory on every request (~180 stat calls); the list never changes."""
    from moto import backends

    modules = tuple(motoadapter.require(backends, "list_of_moto_modules")())
    motoadapter.replace(backends, "list_of_moto_modules", lambda: modules)


def install_extensions(runtime, sagemaker_service) -> None:
    """Teach moto's services what localcloud adds.  moto's state is per process, so this is too."""
    global _installed
    from localcloud import logs
    from localcloud.apigateway import moto_patches as apigateway_moto_patches
    from localcloud.awslambda import models as lambda_models
    from localcloud.dynamodb import moto_patches as dynamodb_moto_patches
    from localcloud.iot import moto_patches as iot_moto_patches
    from localcloud.s3 import moto_patches as s3_moto_patches
    from localcloud.sagemaker import service as sagemaker
    from localcloud.sns import moto_patches as sns_moto_patches
    from localcloud.sqs import moto_patches as sqs_moto_patches

    with _install_lock:
        lambda_models.install(runtime)
        sagemaker.install(sagemaker_service)
        if _installed:
            return
        _cache_moto_module_list()
        logs.check_moto()
        apigateway_moto_patches.install()
        s3_moto_patches.install()
        sns_moto_patches.install()
        sqs_moto_patches.install()
        dynamodb_moto_patches.install()
        iot_moto_patches.install()
        _installed = True


def install_cloudformation() -> None:
    """Strict CloudFormation. moto's template engine imports every moto service (about 1 s), so
    :meth:`LocalCloud.start` installs it on a thread right after the port answers, and the first
    CloudFormation request waits for it; a moto that fails the adapter's checks is reported then (in
    the log and ``/_localcloud/health``) and every CloudFormation request is refused with the reason."""
    global _cloudformation_installed, _cloudformation_failure
    if _cloudformation_installed:
        return
    with _install_lock:
        if _cloudformation_failure is not None:
            raise _cloudformation_failure
        if not _cloudformation_installed:
            try:
                from localcloud.cloudformation import moto_patches as cloudformation_moto_patches

                cloudformation_moto_patches.install()
            except Exception as error:
                _cloudformation_failure = error
                logger.error("strict CloudFormation could not be installed: %s", error)
                raise
            _cloudformation_installed = True


def cloudformation_failure() -> str | None:
    """Why strict CloudFormation is unavailable, if it is."""
    return None if _cloudformation_failure is None else str(_cloudformation_failure)


def _install_cloudformation_quietly() -> None:
    try:
        install_cloudformation()
    except Exception:  # recorded; reported by health and by every CloudFormation request
        pass


class LocalCloud:
    """A running localcloud.

    ``LocalCloud(port=0)`` picks a free port.  Use it as a context manager, or call
    :meth:`start` and :meth:`stop`.  moto keeps its state in module globals, so one process hosts
    one localcloud at a time.
    """

    def __init__(self, host: str = config.DEFAULT_HOST, port: int = config.DEFAULT_PORT,
                 work_dir: Path | None = None, access_log: bool = False,
                 allowed_origins: frozenset[str] | None = None, moto_api: bool = False):
        self.host = host
        self.access_log = access_log
        self.port = port
        self.credentials = Credentials.generate()
        self.allowed_origins = allowed_origins_from_environment() | (allowed_origins or frozenset())
        self.moto_api = moto_api
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="localcloud-"))
        self._server = None
        self._thread: threading.Thread | None = None
        self._work_dir_lock = None
        self.runtime = None
        self.sagemaker = None

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Client environment variables (``AWS_ENDPOINT_URL``, credentials, region, SDK config)."""
        return config.client_env(self.endpoint_url, self.credentials.access_key_id,
                                 self.credentials.secret_access_key, self.sdk_config_path)

    @property
    def sdk_config_path(self) -> Path:
        return self.work_dir / "sagemaker-sdk-config.yaml"

    def start(self) -> LocalCloud:
        from localcloud.awslambda.runtime import LambdaRuntime
        from localcloud.logs import put_log_lines
        from localcloud.sagemaker.service import SageMakerService
        from localcloud.server import LocalCloudApp

        # AWS managed policies (AWSLambdaBasicExecutionRole, ...) exist in every real account.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        # Ends what an earlier localcloud of this folder left running, and clears its files.
        self._work_dir_lock = lifetimes.claim_work_dir(self.work_dir)
        self._server = make_server(
            self.host, self.port, LocalCloudApp(self.credentials, self.allowed_origins, self.moto_api), threaded=True,
            request_handler=_RequestHandler if self.access_log else _QuietRequestHandler,
        )
        self.port = self._server.server_address[1]
        config.write_sagemaker_sdk_config(self.work_dir)
        self.runtime = LambdaRuntime(self.work_dir / "lambda", self.env, put_log_lines)
        self.sagemaker = SageMakerService(self.work_dir / "sagemaker", put_log_lines)
        install_extensions(self.runtime, self.sagemaker)
        self._thread = threading.Thread(target=self._server.serve_forever, name="localcloud", daemon=True)
        self._thread.start()
        threading.Thread(target=_install_cloudformation_quietly, name="install-cloudformation", daemon=True).start()
        return self

    def serve_forever(self) -> None:
        """Block until interrupted (``python -m localcloud serve``)."""
        if self._thread is None:
            self.start()
        try:
            self._thread.join()
        finally:
            self.stop()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.runtime is not None:
            self.runtime.shutdown()
            self.runtime = None
        if self.sagemaker is not None:
            self.sagemaker.shutdown()
            self.sagemaker = None
        if self._work_dir_lock is not None:
            lifetimes.release_work_dir(self._work_dir_lock)
            self._work_dir_lock = None
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
