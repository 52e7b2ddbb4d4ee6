"""The main job: run every workshop notebook, in order, against localcloud.

    python -m workshop.run [--output output/] [notebooks ...]

Starts a localcloud in the background (unless one is running), executes each notebook with its
own kernel, writes the executed copy to the output folder and prints one line per notebook.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT_SECONDS = 1800


def localcloud(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "localcloud", *args], capture_output=True, text=True)


def run_notebook(path: Path, output_dir: Path) -> tuple[bool, float, str]:
    import nbformat
    from jupyter_core.paths import jupyter_runtime_dir
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from traitlets.config import Config

    notebook = nbformat.read(path, as_version=4)
    # Kernel sockets as files in the user's runtime directory rather than TCP ports: only this user
    # can reach them, and the kernel has no reason to warn that its traffic is unencrypted.  The
    # path is absolute because the kernel runs in the notebook's folder and this process may not.
    runtime = Path(jupyter_runtime_dir())
    runtime.mkdir(parents=True, exist_ok=True)
    sockets = Config({"KernelManager": {"transport": "ipc", "ip": str(runtime / f"kernel-{uuid.uuid4()}-ipc")}})
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3", config=sockets,
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.monotonic()
    try:
        client.execute()
        ok, detail = True, f"{len(notebook.cells)} cells"
    except CellExecutionError as error:
        ok, detail = False, str(error).strip().splitlines()[-1][:200]
    nbformat.write(notebook, output_dir / path.name)
    return ok, time.monotonic() - started, detail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the workshop notebooks against localcloud.")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/NN_*.ipynb in order")
    parser.add_argument("--output", type=Path, default=ROOT / "output")
    args = parser.parse_args(argv)

    notebooks = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        print("No workshop notebooks yet: nothing to run.")
        return 0
    args.output.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WORKSHOP_TARGET", "local")

    started_here = localcloud("status").returncode != 0
    if started_here:
        started = localcloud("start")
        if started.returncode != 0:
            print(started.stderr, file=sys.stderr)
            return 1
    failures = 0
    try:
        for path in notebooks:
            ok, seconds, detail = run_notebook(path, args.output)
            failures += not ok
            print(f"{'PASS' if ok else 'FAIL'}  {path.name:<32} {seconds:7.1f} s  {detail}", flush=True)
    finally:
        if started_here:
            localcloud("stop")
    print(f"{len(notebooks) - failures} of {len(notebooks)} notebooks ran; executed copies in {args.output}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
