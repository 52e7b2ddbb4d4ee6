"""Paths built from request data (S3 keys, manifest entries, archive members, resource names) stay
inside the folder they are meant for."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path, PurePosixPath


class PathEscape(ValueError):
    """A name from a request would place a file outside its folder."""


def relative_parts(relative: str, what: str) -> tuple[str, ...]:
    """The parts of ``relative``, refusing one that is empty, absolute or climbs with ``..``."""
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if not parts or parts[0] == "/" or ".." in parts or "\x00" in relative:
        raise PathEscape(f"{what} does not name a file inside its folder: it is empty, absolute or contains "
                         "'..'. Rename it to a relative path without '..'.")
    return parts


def confined(base: Path, relative: str, what: str) -> Path:
    """``base / relative``, refusing a ``relative`` that is empty, absolute, climbs with ``..`` or
    lands outside ``base`` through a link.  ``what`` names the offending input in the error
    (e.g. ``'S3 key "train/../../x"'``)."""
    target = Path(base, *relative_parts(relative, what))
    resolved_base = Path(os.path.realpath(base))
    if not Path(os.path.realpath(target)).is_relative_to(resolved_base):
        raise PathEscape(f"{what} leads outside its folder through a link.")
    return target


def extract_zip(data: bytes, target: Path, what: str) -> None:
    """Unpack a zip archive into ``target``, refusing (before writing anything) any member that would
    land outside it. ``what`` names the archive in errors; raises :class:`zipfile.BadZipFile` for a
    file that is not a zip."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        for member in members:
            confined(target, member.filename, f'{what}: member "{member.filename}"')
        archive.extractall(target, members)
