"""The S3 reads and writes SageMaker does on a job's or endpoint's behalf (moto's store, in-process)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

from moto.s3.models import FakeKey, s3_backends

from localcloud.config import ACCOUNT_ID
from localcloud.paths import PathEscape, confined


class MissingData(Exception):
    pass


class UnsafeKey(MissingData):
    """An object or manifest entry would be written outside the channel's folder."""


def split_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise MissingData(f"{uri} is not an s3:// URI")
    return parsed.netloc, parsed.path.lstrip("/")


def _backend():
    return s3_backends[ACCOUNT_ID]["aws"]


def _objects(bucket_name: str, prefix: str) -> list[tuple[str, FakeKey]]:
    try:
        bucket = _backend().get_bucket(bucket_name)
    except Exception:
        return []
    found = []
    for name in sorted(bucket.keys.keys()):
        if name.startswith(prefix):
            key = bucket.keys[name]
            if isinstance(key, FakeKey):
                found.append((name, key))
    return found


def read(uri: str) -> bytes:
    bucket_name, key_name = split_uri(uri)
    objects = dict(_objects(bucket_name, key_name))
    if key_name not in objects:
        raise MissingData(f"Could not find model data at {uri}.")
    return objects[key_name].value


def write(uri: str, data: bytes) -> None:
    bucket_name, key_name = split_uri(uri)
    _backend().put_object(bucket_name, key_name, data)


def download_prefix(uri: str, destination: Path) -> int:
    """Copy every object under the S3 prefix into ``destination``, keeping the relative paths."""
    bucket_name, prefix = split_uri(uri)
    base = prefix if prefix.endswith("/") or not prefix else prefix.rsplit("/", 1)[0] + "/"
    targets = [(_confined(destination, name[len(base):], f'S3 object "s3://{bucket_name}/{name}"'), key)
               for name, key in _objects(bucket_name, prefix) if not name.endswith("/")]
    for target, key in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(key.value)
    return len(targets)


def download_manifest(uri: str, destination: Path) -> int:
    """Copy the objects a SageMaker manifest file lists: ``[{"prefix": "s3://b/p/"}, "rel/key", ...]``."""
    try:
        entries = json.loads(read(uri))
        prefix = entries[0]["prefix"]
    except (ValueError, TypeError, KeyError, IndexError):
        raise MissingData(f'The manifest {uri} is not a JSON list that starts with {{"prefix": "s3://..."}}.') from None
    if not all(isinstance(entry, str) for entry in entries[1:]):
        raise MissingData(f"The manifest {uri} lists something other than relative keys after its prefix.")
    targets = [(_confined(destination, relative, f'manifest {uri} entry "{relative}"'), relative)
               for relative in entries[1:]]
    for target, relative in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(read(prefix + relative))
    return len(targets)


def _confined(destination: Path, relative: str, source: str) -> Path:
    try:
        return confined(destination, relative, source)
    except PathEscape as error:
        raise UnsafeKey(f"{error} SageMaker copies it to the same relative path under the channel's folder "
                        "(/opt/ml/input/data/<channel>/).") from None
