"""The SageMaker container contract, shared by the built-in algorithms.

Training: ``{OPT_ML}/input/config/{hyperparameters,inputdataconfig,resourceconfig}.json`` and
``{OPT_ML}/input/data/<channel>/`` in; ``{OPT_ML}/model/`` out, or ``{OPT_ML}/output/failure`` with
the reason the job failed.  Serving: the unpacked model in ``{OPT_ML}/model/``, an HTTP server on
``SAGEMAKER_BIND_TO_PORT`` (8080 by default) with ``GET /ping`` and ``POST /invocations``.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from localcloud import lifetimes


class UserError(Exception):
    """A failure the user can fix (bad hyperparameter, empty channel, unparsable data)."""


def opt_ml() -> Path:
    return Path(os.environ.get("OPT_ML", "/opt/ml"))


def configure_logging() -> None:
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.INFO,
        format="[%(asctime)s:%(levelname)s] %(message)s",
        datefmt="%Y-%m-%d:%H:%M:%S",
    )
    logging.Formatter.converter = time.gmtime


@dataclass
class TrainingEnvironment:
    hyperparameters: dict[str, str]
    input_data_config: dict[str, dict]
    resource_config: dict
    root: Path

    @classmethod
    def load(cls) -> TrainingEnvironment:
        root = opt_ml()
        config = root / "input" / "config"

        def read(name: str, default):
            path = config / name
            return json.loads(path.read_text()) if path.exists() else default

        return cls(read("hyperparameters.json", {}), read("inputdataconfig.json", {}),
                   read("resourceconfig.json", {}), root)

    def channel_dir(self, channel: str) -> Path:
        return self.root / "input" / "data" / channel

    def content_type(self, channel: str, default: str) -> str:
        content_type = self.input_data_config.get(channel, {}).get("ContentType") or default
        return content_type.split(";")[0].strip().lower()

    @property
    def model_dir(self) -> Path:
        return self.root / "model"


def run_training(train: Callable[[TrainingEnvironment], None]) -> int:
    """Run ``train``; on failure write ``output/failure`` as the service reads it, and exit non-zero."""
    configure_logging()
    environment = TrainingEnvironment.load()
    failure = environment.root / "output" / "failure"
    try:
        train(environment)
        return 0
    except UserError as error:
        message = f"ClientError: {error}"
    except Exception as error:  # anything unforeseen is the algorithm's fault, not the user's
        logging.error(traceback.format_exc())
        message = f"AlgorithmError: {type(error).__name__}: {error}"
    logging.error(message)
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(message)
    return 1


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "text/plain"


Invocation = Callable[[bytes, str, str], Reply]
"""(body, content type, accept) -> Reply"""


def serve(load_model: Callable[[Path], Invocation]) -> None:
    """Load the model, then answer ``/ping`` and ``/invocations`` until killed."""
    configure_logging()
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    invoke = load_model(opt_ml() / "model")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle's algorithm the second waits for a delayed ACK.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            if self.path == "/ping":
                self._reply(Reply(HTTPStatus.OK, b""))
            else:
                self._reply(Reply(HTTPStatus.NOT_FOUND, b"not found"))

        def do_POST(self) -> None:
            if self.path != "/invocations":
                self._reply(Reply(HTTPStatus.NOT_FOUND, b"not found"))
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            accept = (self.headers.get("Accept") or "").split(";")[0].strip().lower()
            try:
                reply = invoke(body, content_type, accept)
            except Exception:
                logging.error(traceback.format_exc())
                reply = Reply(HTTPStatus.INTERNAL_SERVER_ERROR, b"Internal error while processing the request")
            self._reply(reply)

        def _reply(self, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args) -> None:
            logging.info("%s %s", self.address_string(), format % args)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    logging.info("Listening on 127.0.0.1:%d", port)
    server.serve_forever()


def entry_module(package: str, name: str):
    """``<package>.<name>`` (``train`` or ``serve``), imported for a container process.

    An algorithm package may list in ``UNUSED_MODULES`` optional modules its libraries import that its
    container never uses; they are made unimportable first (``sys.modules[name] = None``, which the
    libraries' ``except ImportError`` fallbacks expect), since importing them is most of a container's
    start-up.  Only container processes do this: localcloud and tests import the packages too.
    """
    for unused in getattr(importlib.import_module(package), "UNUSED_MODULES", ()):
        sys.modules.setdefault(unused, None)
    return importlib.import_module(f"{package}.{name}")


def main(package: str, argv: list[str]) -> int:
    """``python -m <package> train|serve``: the container's entry points, from ``<package>.train.train``
    and ``<package>.serve.load_model``.  Started by localcloud, the container ends with it."""
    parent_fd = os.environ.pop(lifetimes.PARENT_FD_VARIABLE, None)
    if parent_fd is not None:
        lifetimes.watch_parent(int(parent_fd))
    if argv[1:] == ["train"]:
        return run_training(entry_module(package, "train").train)
    if argv[1:] == ["serve"]:
        serve(entry_module(package, "serve").load_model)
        return 0
    print(f"usage: python -m {package} train|serve", file=sys.stderr)
    return 2
