"""Starting and stopping a localcloud: one HTTP port in front of moto and the data planes.

What localcloud adds to each moto service (its patches, the Lambda runtime, the SageMaker service)
is installed by the first request signed for that service, not at start: importing it all takes
half a second and 40 MB that a session using two services never needs, and CloudFormation's
template engine imports every moto service (a second, 130 MB).  A request waits for its service's
extensions; one whose extensions failed to install is refused with the reason, which
``/_localcloud/health`` shows too, and never reaches moto un-patched.
"""

from __future__ import annotations

import functools
import gc
import importlib
import inspect
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


class _RequestHandler(MotoRequestHandler):
    def make_environ(self):
        """WSGI keeps header names upper-cased; API Gateway passes them to a function as the client wrote them."""
        environ = super().make_environ()
        environ[RAW_HEADERS] = list(self.headers.items())
        return environ


class _QuietRequestHandler(_RequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        """Tests and notebooks need no access log; ``serve`` keeps it."""


# Modules whose install() changes moto for a service; moto's state is per process, so this is too.
_MOTO_PATCHES = {
    "sqs": "localcloud.sqs.moto_patches",
    "dynamodb": "localcloud.dynamodb.moto_patches",
    "sns": "localcloud.sns.moto_patches",
    "s3": "localcloud.s3.moto_patches",
    "iot": "localcloud.iot.moto_patches",
    "apigateway": "localcloud.apigateway.moto_patches",
    "cloudformation": "localcloud.cloudformation.moto_patches",
}
# What each service's extensions reach into (deliveries, event sources, rule actions), installed first.
# CloudFormation creates resources of every service, so it needs them all.
_NEEDS = {
    "lambda": ("logs", "sqs", "dynamodb"),
    "sns": ("lambda", "sqs"),
    "s3": ("lambda", "sqs", "sns"),
    "iot": ("lambda", "s3", "sns", "sqs", "dynamodb"),
    "iotdata": ("iot",),
    "apigateway": ("lambda", "sqs", "dynamodb", "sns", "s3"),  # AWS integrations call these in-process
    "sagemaker": ("s3", "logs"),
    "cloudformation": ("lambda", "sqs", "dynamodb", "sns", "s3", "iot", "apigateway", "sagemaker", "logs"),
}
EXTENDED_SERVICES = frozenset(_NEEDS) | frozenset(_MOTO_PATCHES) | {"logs"}
"""Signing names of the services localcloud extends; requests for any other go to moto as they are."""

_patch_lock = threading.RLock()
_patched: set[str] = set()
_patch_failures: dict[str, Exception] = {}
_moto_core_mended = False


def _patch_moto(service: str) -> None:
    """Install ``service``'s changes to moto once per process; a failure stays, and is raised again."""
    if service in _patched:
        return
    with _patch_lock:
        if service in _patch_failures:
            raise _patch_failures[service]
        if service in _patched:
            return
        try:
            if service == "logs":
                importlib.import_module("localcloud.logs").check_moto()
            else:
                importlib.import_module(_MOTO_PATCHES[service]).install()
        except Exception as error:
            _patch_failures[service] = error
            logger.exception("localcloud's %s extensions could not be installed", service)
            raise
        _patched.add(service)


def _mend_moto_core() -> None:
    """What every moto service does that costs each request or keeps memory: moto lists its own package
    directory (~180 stat calls) and inspects the answering class's members (0.2 ms) on every request,
    though neither changes between the installs of localcloud's extensions; and it keeps every model
    object it ever made (:mod:`localcloud.moto_instances`)."""
    from moto import backends
    from moto.core import responses

    from localcloud import moto_instances

    global _moto_core_mended
    with _patch_lock:
        if _moto_core_mended:
            return
        modules = tuple(motoadapter.require(backends, "list_of_moto_modules")())
        motoadapter.replace(backends, "list_of_moto_modules", lambda: modules)
        motoadapter.replace(responses, "method_names_from_class", _method_names, ("clazz",))
        moto_instances.install()
        _moto_core_mended = True


@functools.cache
def _method_names(clazz: type) -> frozenset[str]:
    """The functions of a moto response class (the actions it answers), as moto computes them; cleared
    whenever an extension installs, as one may add actions."""
    return frozenset(name for name, _ in inspect.getmembers(clazz, inspect.isfunction))


def _settle_garbage_collector() -> None:
    """Exempt what is loaded so far (modules, moto's models and tables: 150,000 objects once S3 is in use)
    from the collector's full passes, which otherwise walk it all every few seconds under load and stop
    every thread for 70 ms each time."""
    gc.freeze()


class ExtensionUnavailable(Exception):
    """A service's extensions failed to install: its requests are refused with this reason."""

    def __init__(self, service: str, reason: str):
        super().__init__(f"localcloud's {service} is unavailable: {reason}")
        self.service, self.reason = service, reason


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
        self._prepare_lock = threading.RLock()
        self._prepared: set[str] = set()
        self._failures: dict[str, str] = {}
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
        from localcloud.server import LocalCloudApp

        # AWS managed policies (AWSLambdaBasicExecutionRole, ...) exist in every real account.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        # Ends what an earlier localcloud of this folder left running, and clears its files.
        self._work_dir_lock = lifetimes.claim_work_dir(self.work_dir)
        _mend_moto_core()
        self._server = make_server(
            self.host, self.port, LocalCloudApp(self, self.credentials, self.allowed_origins, self.moto_api),
            threaded=True, request_handler=_RequestHandler if self.access_log else _QuietRequestHandler,
        )
        self.port = self._server.server_address[1]
        config.write_sagemaker_sdk_config(self.work_dir)
        _settle_garbage_collector()
        self._thread = threading.Thread(target=self._server.serve_forever, name="localcloud", daemon=True)
        self._thread.start()
        return self

    def prepare(self, service: str) -> None:
        """Install what localcloud adds to ``service`` (signing name), and what that reaches into, before
        the service's first request is answered; raises :class:`ExtensionUnavailable` if it cannot be."""
        if service in self._prepared or service not in EXTENDED_SERVICES:
            return
        with self._prepare_lock:
            if service in self._prepared:
                return
            if service in self._failures:
                raise ExtensionUnavailable(service, self._failures[service])
            try:
                for needed in _NEEDS.get(service, ()):
                    self.prepare(needed)
                self._install(service)
                _method_names.cache_clear()
                _settle_garbage_collector()
            except ExtensionUnavailable as error:
                self._failures[service] = error.reason
                raise ExtensionUnavailable(service, error.reason) from error
            except Exception as error:
                self._failures[service] = str(error)
                raise ExtensionUnavailable(service, str(error)) from error
            self._prepared.add(service)

    def _install(self, service: str) -> None:
        if service in _MOTO_PATCHES or service == "logs":
            _patch_moto(service)
        if service == "lambda":
            from localcloud.awslambda import models as lambda_models
            from localcloud.awslambda.runtime import LambdaRuntime
            from localcloud.logs import put_log_lines

            self.runtime = LambdaRuntime(self.work_dir / "lambda", self.env, put_log_lines)
            lambda_models.install(self.runtime)
        elif service == "sagemaker":
            from localcloud.logs import put_log_lines
            from localcloud.sagemaker import service as sagemaker

            self.sagemaker = sagemaker.SageMakerService(self.work_dir / "sagemaker", put_log_lines)
            sagemaker.install(self.sagemaker)

    def unavailable(self) -> dict[str, str]:
        """Services whose extensions failed to install, by signing name, with the reason."""
        return dict(self._failures)

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
