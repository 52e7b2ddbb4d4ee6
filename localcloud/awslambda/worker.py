"""One Lambda execution environment: imports a Python handler once and serves invocations.

Started by :mod:`localcloud.awslambda.runtime` as ``python worker.py REQUEST_FD RESPONSE_FD``
with the current directory set to the unpacked deployment package (Lambda's ``/var/task``)
and the function's environment.  It imports only the standard library, so that it starts fast
and the function sees the same clean ``sys.modules`` it would see on AWS.

Messages on both pipes are a 4-byte big-endian length followed by a JSON document.  Anything
the handler prints goes to this process's stdout/stderr, which the parent reads as the
function's log.
"""

import json
import logging
import os
import resource
import signal
import struct
import sys
import threading
import time
import traceback

_HEADER = struct.Struct(">I")


def read_message(fd):
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    return json.loads(_read_exactly(fd, length))


def write_message(fd, message):
    data = json.dumps(message).encode("utf-8")
    os.write(fd, _HEADER.pack(len(data)) + data)


def _read_exactly(fd, size):
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class LambdaContext:
    """The attributes and method the Python runtime hands to a handler as ``context``."""

    def __init__(self, request):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.invoked_function_arn = request["invoked_function_arn"]
        self.aws_request_id = request["request_id"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = request["deadline_ms"]

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record):
        record.aws_request_id = self.request_id
        return True


def _configure_logging():
    """Give the root logger the handler and line format of the Lambda Python runtime."""
    request_filter = _RequestIdFilter()
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(request_filter)
    logging.getLogger().addHandler(handler)
    return request_filter


def _error(error_type, message, request_id="", stack=None):
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }


def _load_handler(handler_spec):
    module_path, _, function_name = handler_spec.rpartition(".")
    module_name = module_path.replace("/", ".")
    if not module_name or not function_name:
        return None, _error(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler_spec}': not enough values to unpack (expected 2, got 1)",
        )
    try:
        module = __import__(module_name, fromlist=["_"])
    except SyntaxError as exc:
        return None, _error(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {exc}",
        )
    except ImportError as exc:
        return None, _error(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        )
    except Exception as exc:  # the module's own top-level code failed
        tb = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        return None, _error(type(exc).__name__, str(exc), stack=tb)
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, _error(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return handler, None


def _invoke(handler, request, request_filter):
    request_id = request["request_id"]
    request_filter.request_id = request_id
    event = json.loads(request["event"])
    try:
        result = handler(event, LambdaContext(request))
    except Exception as exc:
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        error = _error(type(exc).__name__, str(exc), request_id, stack)
        sys.stdout.write(
            f"[ERROR] {error['errorType']}: {error['errorMessage']}\n"
            "Traceback (most recent call last):\n" + "".join(stack)
        )
        return {"error": error}
    try:
        return {"payload": json.dumps(result)}
    except (TypeError, ValueError) as exc:
        return {
            "error": _error(
                "Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id
            )
        }


def _peak_memory_kb():
    """Peak resident memory of this process in KiB.

    Linux's ``VmHWM`` is this process's own; ``ru_maxrss`` survives exec there and may be the
    parent's, so it is only the fallback where there is no ``/proc`` (macOS reports it in bytes).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def watch_parent(fd):
    """End this process and its group when localcloud ends, however it ends.

    ``fd`` is the read end of a pipe whose only write end is in localcloud's process: nothing is
    ever written, so the read returns (EOF) exactly when that process is gone.  Also used by the
    SageMaker containers (:mod:`localcloud.lifetimes`).
    """

    def wait_for_eof():
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=wait_for_eof, name="parent-watchdog", daemon=True).start()


def main():
    request_fd, response_fd = int(sys.argv[1]), int(sys.argv[2])
    watch_parent(int(os.environ.pop("LOCALCLOUD_PARENT_FD")))
    sys.stdout.reconfigure(line_buffering=True)
    # Started with -I -S: sys.path holds the standard library only. Lambda's order follows.
    sys.path[:0] = [os.getcwd(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    request_filter = _configure_logging()

    handler, init_error = _load_handler(os.environ["_HANDLER"])
    sys.stdout.flush()
    sys.stderr.flush()
    write_message(response_fd, {"init_error": init_error})
    if init_error:
        return

    while True:
        request = read_message(request_fd)
        if request is None:
            return
        reply = _invoke(handler, request, request_filter)
        sys.stdout.flush()
        sys.stderr.flush()
        reply["max_rss_kb"] = _peak_memory_kb()
        write_message(response_fd, reply)


if __name__ == "__main__":
    main()
