"""MXNet's NDArray list format (``.params`` files), dense arrays only.

Layout, little-endian: ``uint64 0x112`` (list magic), ``uint64 0`` (reserved), ``uint64 count``,
then each array: ``uint32 0xF993FAC9`` (NDArray V2 magic), ``int32 storage type`` (0: dense),
``uint32 ndim``, ``int64 dims[ndim]``, ``int32 device type`` (1: CPU), ``int32 device id``,
``int32 dtype`` (0 float32, 1 float64, 2 float16, 3 uint8, 4 int32, 5 int8, 6 int64) and the
values; then ``uint64 count`` names, each ``uint64 length`` and the bytes (``arg:`` / ``aux:``).
"""

from __future__ import annotations

import struct

import numpy as np

LIST_MAGIC = 0x112
ARRAY_MAGIC_V2 = 0xF993FAC9
DTYPES = {0: "<f4", 1: "<f8", 2: "<f2", 3: "u1", 4: "<i4", 5: "i1", 6: "<i8"}
CODES = {np.dtype(v).str: k for k, v in DTYPES.items()}


def save(arrays: dict[str, np.ndarray]) -> bytes:
    out = [struct.pack("<QQQ", LIST_MAGIC, 0, len(arrays))]
    for array in arrays.values():
        array = np.ascontiguousarray(array)
        code = CODES.get(array.dtype.newbyteorder("<").str if array.dtype.byteorder == ">" else array.dtype.str)
        if code is None:
            raise ValueError(f"dtype {array.dtype} has no MXNet code")
        out.append(struct.pack("<IiI", ARRAY_MAGIC_V2, 0, array.ndim))
        out.append(struct.pack(f"<{array.ndim}q", *array.shape))
        out.append(struct.pack("<iii", 1, 0, code))
        out.append(array.astype(DTYPES[code], copy=False).tobytes())
    out.append(struct.pack("<Q", len(arrays)))
    for name in arrays:
        encoded = name.encode()
        out.append(struct.pack("<Q", len(encoded)) + encoded)
    return b"".join(out)


def load(data: bytes) -> dict[str, np.ndarray]:
    magic, _, count = struct.unpack_from("<QQQ", data, 0)
    if magic != LIST_MAGIC:
        raise ValueError(f"not an MXNet NDArray list (magic {magic:#x})")
    position, arrays = 24, []
    for _ in range(count):
        array_magic, storage, ndim = struct.unpack_from("<IiI", data, position)
        if array_magic != ARRAY_MAGIC_V2:
            raise ValueError(f"unsupported NDArray version (magic {array_magic:#x})")
        if storage != 0:
            raise ValueError("only dense NDArrays are supported")
        position += 12
        shape = struct.unpack_from(f"<{ndim}q", data, position)
        position += 8 * ndim
        _, _, code = struct.unpack_from("<iii", data, position)
        position += 12
        dtype = np.dtype(DTYPES[code])
        size = int(np.prod(shape)) * dtype.itemsize
        arrays.append(np.frombuffer(data, dtype=dtype, count=int(np.prod(shape)), offset=position).reshape(shape))
        position += size
    (name_count,) = struct.unpack_from("<Q", data, position)
    position += 8
    names = []
    for _ in range(name_count):
        (length,) = struct.unpack_from("<Q", data, position)
        names.append(data[position + 8:position + 8 + length].decode())
        position += 8 + length
    return dict(zip(names, arrays, strict=True))
