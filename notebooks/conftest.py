"""nbval runs the notebooks against a localcloud of its own, started for the test session.

The kernels inherit ``LOCALCLOUD_HOME``, so ``workshop.connect()`` in each notebook finds this
localcloud instead of starting or reusing one elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

_started: dict[str, str] = {}


def _localcloud(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localcloud", *args], capture_output=True, text=True, timeout=120)


def pytest_configure(config) -> None:
    if not getattr(config.option, "nbval", False) and not getattr(config.option, "nbval_lax", False):
        return
    home = tempfile.mkdtemp(prefix="localcloud-nbval-")
    _started["previous"] = os.environ.get("LOCALCLOUD_HOME", "")
    os.environ["LOCALCLOUD_HOME"] = home
    os.environ["WORKSHOP_TARGET"] = "local"
    result = _localcloud("start", "--port", "0")
    if result.returncode != 0:
        raise RuntimeError(f"could not start localcloud for the notebooks: {result.stderr}")
    _started["home"] = home


def pytest_unconfigure(config) -> None:
    if "home" in _started:
        _localcloud("stop")
        os.environ["LOCALCLOUD_HOME"] = _started.pop("previous")
        _started.pop("home")
