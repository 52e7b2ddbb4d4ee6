"""Image RecordIO and ``.lst`` files, as MXNet's ``im2rec`` tool writes them (no MXNet needed).

A ``.lst`` line is ``index<TAB>label[<TAB>label...]<TAB>relative/path``.  Each ``.rec`` record is
the header ``struct.pack("IfQQ", flag, label, id, id2)`` followed by the encoded image; when
``flag > 0``, ``flag`` float32 labels follow the header and the header's own label is 0.  The
``.idx`` file has a line ``index<TAB>byte offset`` per record.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlformats import recordio

HEADER = struct.Struct("IfQQ")


@dataclass(frozen=True)
class ListEntry:
    index: int
    labels: tuple[float, ...]
    path: str


def write_lst(entries: Iterable[ListEntry], path: Path) -> None:
    lines = [f"{e.index}\t" + "\t".join(f"{label:f}" for label in e.labels) + f"\t{e.path}\n" for e in entries]
    Path(path).write_text("".join(lines))


def read_lst(text: str) -> list[ListEntry]:
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3:
            raise ValueError(f".lst line {number}: expected index<TAB>label<TAB>path, got {line!r}")
        entries.append(ListEntry(int(float(parts[0])), tuple(float(v) for v in parts[1:-1]), parts[-1]))
    return entries


def pack_header(labels: tuple[float, ...], index: int) -> bytes:
    if len(labels) == 1:
        return HEADER.pack(0, labels[0], index, 0)
    return HEADER.pack(len(labels), 0.0, index, 0) + np.asarray(labels, dtype=np.float32).tobytes()


def unpack(record: bytes) -> tuple[tuple[float, ...], int, bytes]:
    """(labels, index, encoded image) of one record."""
    flag, label, index, _ = HEADER.unpack_from(record)
    offset = HEADER.size
    if flag > 0:
        labels = tuple(float(v) for v in np.frombuffer(record, dtype=np.float32, count=flag, offset=offset))
        offset += 4 * flag
    else:
        labels = (float(label),)
    return labels, int(index), record[offset:]


def encode_image(image, image_format: str = "JPEG", quality: int = 95) -> bytes:
    """A PIL image (or HxWx3 uint8 array) encoded as im2rec stores it."""
    from PIL import Image

    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format=image_format, **({"quality": quality} if image_format == "JPEG" else {}))
    return buffer.getvalue()


def write_rec(entries: Iterable[ListEntry], root: Path, rec_path: Path, idx_path: Path | None = None,
              quality: int = 95) -> int:
    """Pack the images an ``.lst`` names (relative to ``root``) into ``rec_path`` and its ``.idx``."""
    from PIL import Image

    entries = list(entries)
    with open(rec_path, "wb") as stream:
        offsets = recordio.write_records(stream, (
            pack_header(e.labels, e.index) + encode_image(Image.open(Path(root) / e.path), quality=quality)
            for e in entries))
    if idx_path is not None:
        Path(idx_path).write_text("".join(f"{e.index}\t{offset}\n" for e, offset in zip(entries, offsets, strict=True)))
    return len(entries)


def read_rec(data: bytes) -> Iterator[tuple[tuple[float, ...], int, bytes]]:
    for record in recordio.read_records(data):
        yield unpack(record)
