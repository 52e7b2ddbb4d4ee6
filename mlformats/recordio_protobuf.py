"""``application/x-recordio-protobuf``: RecordIO records each holding an ``aialgs.data.Record``.

The proto2 messages, encoded here by hand (no protobuf runtime needed)::

    message Float32Tensor { repeated float values = 1 [packed]; repeated uint64 keys = 2 [packed];
                            repeated uint64 shape = 3 [packed]; }
    message Float64Tensor { repeated double values = 1 [packed]; keys = 2; shape = 3; }
    message Int32Tensor   { repeated int32 values = 1 [packed]; keys = 2; shape = 3; }
    message Value  { oneof value { Float32Tensor float32_tensor = 2; Float64Tensor float64_tensor = 3;
                                   Int32Tensor int32_tensor = 7; Bytes bytes = 9; } }
    message Record { map<string, Value> features = 1; map<string, Value> label = 2; ... }

Dense rows are stored as ``features["values"]`` and labels as ``label["values"]``, as the
SageMaker SDK's ``write_numpy_to_dense_tensor`` does; sparse rows carry ``keys`` and ``shape``.
"""

from __future__ import annotations

import io
from typing import BinaryIO

import numpy as np

from mlformats import recordio

_TENSOR_FIELDS = {2: "<f4", 3: "<f8", 7: "int32"}


# -- protobuf wire primitives ----------------------------------------------------------------

def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _fields(data: bytes):
    """(field number, wire type, value) of every field in a message."""
    position = 0
    while position < len(data):
        key, position = _read_varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _read_varint(data, position)
        elif wire_type == 2:
            length, position = _read_varint(data, position)
            value, position = data[position:position + length], position + length
        elif wire_type == 5:
            value, position = data[position:position + 4], position + 4
        elif wire_type == 1:
            value, position = data[position:position + 8], position + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
        yield number, wire_type, value


# -- tensors and records ---------------------------------------------------------------------

def _tensor(values: np.ndarray, keys: np.ndarray | None = None, shape: tuple[int, ...] | None = None) -> bytes:
    message = _field(1, np.ascontiguousarray(values, dtype="<f4").tobytes()) if len(values) else b""
    if keys is not None:
        message += _field(2, b"".join(_varint(int(k)) for k in keys))
    if shape is not None:
        message += _field(3, b"".join(_varint(int(s)) for s in shape))
    return _field(2, message)  # Value.float32_tensor


def _map_entry(key: str, value: bytes) -> bytes:
    return _field(1, key.encode()) + _field(2, value)


def encode_record(features: np.ndarray | None = None, label: np.ndarray | float | None = None,
                  keys: np.ndarray | None = None, shape: tuple[int, ...] | None = None,
                  label_tensors: dict[str, np.ndarray] | None = None) -> bytes:
    """One ``Record``: dense (or, with ``keys`` and ``shape``, sparse) features and a label."""
    message = b""
    if features is not None:
        message += _field(1, _map_entry("values", _tensor(np.ravel(features), keys, shape)))
    if label is not None:
        message += _field(2, _map_entry("values", _tensor(np.ravel(np.asarray(label, dtype=np.float32)))))
    for name, values in (label_tensors or {}).items():
        message += _field(2, _map_entry(name, _tensor(np.ravel(np.asarray(values, dtype=np.float32)))))
    return message


def _unpack_varints(content: bytes) -> list[int]:
    numbers, position = [], 0
    while position < len(content):
        value, position = _read_varint(content, position)
        numbers.append(value)
    return numbers


def _decode_tensor(value_message: bytes) -> dict:
    for number, _, payload in _fields(value_message):
        if number == 9:
            raise ValueError("Bytes values are not supported")
        if number not in _TENSOR_FIELDS:
            continue
        dtype = _TENSOR_FIELDS[number]
        pieces, keys, shape = [], None, None
        for field, wire_type, content in _fields(payload):
            if field == 1 and number == 7:  # int32 values are varints, packed or not
                ints = _unpack_varints(content) if wire_type == 2 else [content]
                pieces.append(np.array([v - (1 << 32) if v >= 1 << 31 else v for v in ints], dtype=np.int32))
            elif field == 1:  # packed (wire type 2) or one fixed-width value per field
                pieces.append(np.frombuffer(content, dtype=dtype))
            elif field == 2:
                keys = (keys or []) + (_unpack_varints(content) if wire_type == 2 else [content])
            elif field == 3:
                shape = (shape or []) + (_unpack_varints(content) if wire_type == 2 else [content])
        values = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        return {"values": values, "keys": keys, "shape": shape}
    raise ValueError("the Value holds no tensor")


def decode_record(message: bytes) -> tuple[dict[str, dict], dict[str, dict]]:
    """(features, label): each a map from name to ``{"values", "keys", "shape"}``."""
    features, label = {}, {}
    for number, _, entry in _fields(message):
        if number not in (1, 2):
            continue
        key, value = "", b""
        for field, _, content in _fields(entry):
            if field == 1:
                key = content.decode()
            elif field == 2:
                value = content
        (features if number == 1 else label)[key] = _decode_tensor(value)
    return features, label


def dense(tensor: dict, width: int | None = None) -> np.ndarray:
    """A tensor as a dense float32 row (sparse tensors are expanded with their shape)."""
    if tensor["keys"] is None:
        return np.asarray(tensor["values"], dtype=np.float32)
    size = width or (tensor["shape"][0] if tensor["shape"] else max(tensor["keys"]) + 1)
    row = np.zeros(size, dtype=np.float32)
    row[np.asarray(tensor["keys"], dtype=np.int64)] = tensor["values"]
    return row


# -- files -----------------------------------------------------------------------------------

def write_numpy_to_dense_tensor(stream: BinaryIO, array: np.ndarray, labels: np.ndarray | None = None) -> None:
    """Write each row of ``array`` (and its label) as a record, like the SageMaker SDK v2 did."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-dimensional array, got shape {array.shape}")
    if labels is not None and len(labels) != len(array):
        raise ValueError(f"{len(labels)} labels for {len(array)} rows")
    recordio.write_records(stream, (
        encode_record(row, None if labels is None else labels[index]) for index, row in enumerate(array)))


def to_bytes(array: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    buffer = io.BytesIO()
    write_numpy_to_dense_tensor(buffer, array, labels)
    return buffer.getvalue()


def read_dense(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """(features, labels) of every record in ``data``; labels is None when no record has one."""
    rows, labels = [], []
    for payload in recordio.read_records(data):
        features, label = decode_record(payload)
        if "values" not in features:
            raise ValueError("a record has no features['values'] tensor")
        rows.append(features["values"])
        if "values" in label:
            labels.append(float(dense(label["values"])[0]))
    width = max((t["shape"][0] if t["shape"] else len(t["values"]) if t["keys"] is None else max(t["keys"]) + 1)
                for t in rows) if rows else 0
    matrix = np.vstack([dense(t, width) for t in rows]) if rows else np.zeros((0, 0), dtype=np.float32)
    return matrix, (np.asarray(labels, dtype=np.float32) if labels else None)


def read_label_records(data: bytes) -> list[dict[str, np.ndarray]]:
    """Every record's label map as arrays (how algorithms answer in this format)."""
    return [{name: dense(tensor) for name, tensor in decode_record(payload)[1].items()}
            for payload in recordio.read_records(data)]

