"""Packaging a ``lambda_src/<function>/`` folder as the zip Lambda deploys.

    python -m workshop.lambdas upload predict_breast_cancer s3://bucket/prefix/   # prints the key
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

from workshop.target import ROOT

SOURCES = ROOT / "lambda_src"
# Folders and files that belong to the function's repository, not to its deployment package.
EXCLUDED = {"tests", "events", "__pycache__", "README.md"}
# Shared modules a function may import; copied in when its handler names them.
SHARED_PACKAGES = {"mlformats": ROOT / "mlformats"}


def package_lambda(function: str) -> bytes:
    """The deployment zip of ``lambda_src/<function>``: its code, plus shared packages it imports."""
    folder = SOURCES / function
    if not (folder / "handler.py").exists():
        raise FileNotFoundError(f"{folder}/handler.py not found; functions live in lambda_src/<name>/handler.py")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_file() and not EXCLUDED & set(relative.parts) and path.suffix != ".pyc":
                archive.write(path, str(relative))
        code = "\n".join(p.read_text() for p in folder.glob("*.py"))
        for package, location in SHARED_PACKAGES.items():
            if f"import {package}" in code or f"from {package}" in code:
                for path in sorted(location.rglob("*.py")):
                    archive.write(path, str(Path(package) / path.relative_to(location)))
    return buffer.getvalue()


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[1] != "upload" or not argv[3].startswith("s3://"):
        print("usage: python -m workshop.lambdas upload <function> s3://bucket/prefix/", file=sys.stderr)
        return 2
    import boto3

    function, destination = argv[2], argv[3][len("s3://"):]
    bucket, _, prefix = destination.partition("/")
    key = f"{prefix.rstrip('/') + '/' if prefix else ''}{function}.zip"
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=package_lambda(function))
    print(key)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
