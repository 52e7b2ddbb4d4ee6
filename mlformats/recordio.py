"""MXNet / dmlc-core RecordIO framing.

Each record is a 4-byte magic ``0xced7230a``, a 4-byte word ``(cflag << 29) | length`` and the
payload padded with zeros to a multiple of 4 bytes.  dmlc's writer splits a payload wherever the
magic occurs at a 4-byte-aligned offset, dropping those 4 bytes: the pieces carry cflag 1 (start),
2 (middle) and 3 (end); a whole record has cflag 0.  The reader joins the pieces with the magic.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_LENGTH_MASK = (1 << 29) - 1


def _frame(cflag: int, piece: bytes) -> bytes:
    padding = (-len(piece)) % 4
    return _MAGIC_BYTES + struct.pack("<I", (cflag << 29) | len(piece)) + piece + b"\x00" * padding


def encode(payload: bytes) -> bytes:
    """One record, split on aligned occurrences of the magic as dmlc's writer does."""
    cuts = [i for i in range(0, len(payload) - 3, 4) if payload[i:i + 4] == _MAGIC_BYTES]
    if not cuts:
        return _frame(0, payload)
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(payload[start:cut])
        start = cut + 4
    pieces.append(payload[start:])
    frames = [_frame(1, pieces[0])]
    frames += [_frame(2, piece) for piece in pieces[1:-1]]
    frames.append(_frame(3, pieces[-1]))
    return b"".join(frames)


def write_records(stream: BinaryIO, payloads: Iterable[bytes]) -> list[int]:
    """Write each payload as a record; returns the byte offset of each (for ``.idx`` files)."""
    offsets = []
    for payload in payloads:
        offsets.append(stream.tell())
        stream.write(encode(payload))
    return offsets


def read_records(data: bytes) -> Iterator[bytes]:
    """Every record's payload, in order."""
    position, parts = 0, []
    while position < len(data):
        if len(data) - position < 8:
            raise ValueError(f"truncated RecordIO header at byte {position}")
        magic, word = struct.unpack_from("<II", data, position)
        if magic != MAGIC:
            raise ValueError(f"not a RecordIO record at byte {position} (magic {magic:#010x})")
        cflag, length = word >> 29, word & _LENGTH_MASK
        start = position + 8
        if start + length > len(data):
            raise ValueError(f"truncated RecordIO record at byte {position}")
        piece = data[start:start + length]
        position = start + length + (-length) % 4
        if cflag == 0:
            yield piece
        elif cflag == 1:
            parts = [piece]
        elif cflag == 2:
            parts.append(piece)
        else:
            parts.append(piece)
            yield _MAGIC_BYTES.join(parts)
            parts = []
