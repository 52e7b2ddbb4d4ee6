"""What a Lambda function's interpreter may import, laid out as the Python runtime lays it out.

On AWS a Python function's ``sys.path`` is, in this order:

1. ``/var/task`` — its deployment package (``LAMBDA_TASK_ROOT``);
2. ``/opt/python/lib/python3.X/site-packages`` and ``/opt/python`` — its layers, extracted into
   ``/opt`` one after the other in the order the function lists them (a later layer's file
   replaces an earlier layer's file of the same path);
3. the runtime's own packages: boto3, botocore and what they depend on;
4. the standard library.

Nothing else: numpy, pandas or scikit-learn, installed in the project's environment, are not there,
and importing them fails with ``Runtime.ImportModuleError`` as it does on AWS.  The worker runs
with ``python -I -S`` (no site-packages, no ``.pth`` files, no ``PYTHON*`` variables) and gets
the list above through ``PYTHONPATH``, which Lambda also sets.  Instead of copying packages,
localcloud links the installed distributions into folders: ``runtime/`` once, and one merged
``opt/`` per distinct list of layers.

The **AWS SDK for pandas** layer that AWS publishes in every region from account 336392948345
(``arn:aws:lambda:<region>:336392948345:layer:AWSSDKPandas-Python312:<version>``, ``-Arm64``
for Graviton; see https://aws-sdk-pandas.readthedocs.io/en/stable/layers.html) is recognised by
its ARN, any version, and served from the numpy and pandas installed with localcloud (with their
dependencies), so the same template works on both targets.  The ``awswrangler`` package the real
layer also holds is not installed here: importing it offline fails.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import re
import shutil
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from localcloud.paths import relative_parts

# What the Python runtime itself provides, with everything these need (botocore, s3transfer,
# jmespath, python-dateutil, six, urllib3).
RUNTIME_DISTRIBUTIONS = ("boto3",)
# What localcloud serves for the AWS SDK for pandas layer.
PANDAS_LAYER_DISTRIBUTIONS = ("numpy", "pandas")
PANDAS_LAYER_ACCOUNT = "336392948345"
PANDAS_LAYER_ARN = re.compile(
    rf"^arn:aws:lambda:(?P<region>[a-z]{{2}}(-[a-z]+)+-\d):{PANDAS_LAYER_ACCOUNT}:layer:"
    r"(?P<name>AWSSDKPandas-Python3\d{1,2}(-Arm64)?):(?P<version>[1-9]\d*)$"
)
PANDAS_LAYER_SHA256 = "aws-sdk-pandas"


@dataclass(frozen=True)
class LayerContent:
    """One layer version a function uses: its ARN, content hash and zip (empty for AWS's own layers)."""

    arn: str
    code_sha256: str
    zip_bytes: bytes = field(default=b"", repr=False, compare=False)

    @property
    def managed(self) -> bool:
        return is_pandas_layer(self.arn)


def is_pandas_layer(arn: str) -> bool:
    """Whether ``arn`` names a version of AWS's public AWS SDK for pandas layer."""
    return PANDAS_LAYER_ARN.match(arn) is not None


def distribution_closure(names: tuple[str, ...]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``names`` and, recursively, what they require (extras left out)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # an optional or platform-specific dependency that is not installed
        key = distribution.metadata["Name"].lower().replace("_", "-")
        if key in found:
            continue
        found[key] = distribution
        for line in distribution.requires or []:
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return [found[key] for key in sorted(found)]


def top_level_entries(distribution: importlib.metadata.Distribution) -> set[Path]:
    """The files and folders a distribution puts directly in site-packages (packages, modules,
    ``numpy.libs``-style folders of bundled libraries, its ``.dist-info``)."""
    root = Path(distribution.locate_file(""))
    entries = set()
    for file in distribution.files or []:
        parts = Path(file).parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith(".pth"):
            continue
        entries.add(root / parts[0])
    return {entry for entry in entries if entry.exists()}


def link_distributions(distributions: list[importlib.metadata.Distribution], target: Path) -> None:
    """Symlink each distribution's top-level entries into ``target`` (replacing what is there)."""
    target.mkdir(parents=True, exist_ok=True)
    for distribution in distributions:
        for entry in sorted(top_level_entries(distribution)):
            link = target / entry.name
            _remove(link)
            link.symlink_to(entry, target_is_directory=entry.is_dir())


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _unfold(path: Path, root: Path) -> None:
    """Make every folder from ``root`` down to ``path`` a real folder, so that writing there never
    writes through a link into the installed packages: a linked folder becomes a folder of links
    to its entries."""
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        if current.is_symlink() and current.is_dir():
            source = current.resolve()
            current.unlink()
            current.mkdir()
            for child in source.iterdir():
                (current / child.name).symlink_to(child, target_is_directory=child.is_dir())


def _extract_layer(content: bytes, opt: Path, arn: str) -> None:
    """Extract a layer zip over ``opt``; its files replace those of earlier layers (through the links an
    earlier managed layer left, which :func:`_unfold` turns into folders first).  A member named outside
    ``opt`` refuses the whole layer (:class:`localcloud.paths.PathEscape`) before anything is written."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for member in archive.infolist():
            relative_parts(member.filename, f'layer {arn}: member "{member.filename}"')
        for member in archive.infolist():
            destination = opt / member.filename
            _unfold(destination if member.is_dir() else destination.parent, opt)
            if member.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            _remove(destination)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(destination, "wb") as sink:
                shutil.copyfileobj(source, sink)
            mode = member.external_attr >> 16
            if mode & 0o111:
                destination.chmod(0o755)


class Packaging:
    """Builds, once each, the runtime's package folder and the merged ``/opt`` of each list of layers."""

    def __init__(self, work_dir: Path):
        self.work_dir = Path(work_dir)
        self._lock = threading.Lock()

    def runtime_dir(self) -> Path:
        """The folder holding what the Python runtime provides (boto3, botocore, ...)."""
        target = self.work_dir / "runtime" / "site-packages"
        with self._lock:
            if not target.exists():
                staging = target.with_name(f"{target.name}.{uuid.uuid4().hex}")
                link_distributions(distribution_closure(RUNTIME_DISTRIBUTIONS), staging)
                staging.rename(target)
        return target

    def opt_dir(self, layers: tuple[LayerContent, ...]) -> Path | None:
        """The function's ``/opt``: its layers merged in order, or None when it has none."""
        if not layers:
            return None
        key = hashlib.sha256("\n".join(f"{layer.arn} {layer.code_sha256}" for layer in layers).encode()).hexdigest()
        target = self.work_dir / "opt" / key
        with self._lock:
            if not target.exists():
                staging = target.with_name(f"{key}.{uuid.uuid4().hex}")
                staging.mkdir(parents=True)
                try:
                    for layer in layers:
                        if layer.managed:
                            link_distributions(distribution_closure(PANDAS_LAYER_DISTRIBUTIONS), staging / "python")
                        else:
                            _extract_layer(layer.zip_bytes, staging, layer.arn)
                except BaseException:
                    shutil.rmtree(staging, ignore_errors=True)
                    raise
                staging.rename(target)
        return target

    def python_path(self, runtime: str, layers: tuple[LayerContent, ...]) -> list[str]:
        """What follows the deployment package on ``sys.path`` (Lambda's ``PYTHONPATH`` and /opt paths)."""
        paths = []
        opt = self.opt_dir(layers)
        if opt is not None:
            version = runtime if re.fullmatch(r"python3\.\d+", runtime) else "python3"
            paths += [str(opt / "python" / "lib" / version / "site-packages"), str(opt / "python")]
        paths.append(str(self.runtime_dir()))
        return paths
