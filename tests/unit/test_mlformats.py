"""The binary formats against their documented byte layouts, and against the real Linear Learner artifact."""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlformats import ndarray, recordio, recordio_protobuf
from mlformats.linear_learner import LinearLearnerModel

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "linear-learner-regressor-real"
MAGIC = struct.pack("<I", 0xCED7230A)


def test_a_record_is_magic_length_and_payload_padded_to_4_bytes():
    assert recordio.encode(b"abcde") == MAGIC + struct.pack("<I", 5) + b"abcde\x00\x00\x00"
    assert recordio.encode(b"") == MAGIC + struct.pack("<I", 0)


def test_a_payload_containing_the_magic_is_split_with_continuation_flags():
    payload = b"head" + MAGIC + b"middle!!" + MAGIC + b"tail"
    encoded = recordio.encode(payload)
    expected = (MAGIC + struct.pack("<I", (1 << 29) | 4) + b"head"
                + MAGIC + struct.pack("<I", (2 << 29) | 8) + b"middle!!"
                + MAGIC + struct.pack("<I", (3 << 29) | 4) + b"tail")
    assert encoded == expected
    assert list(recordio.read_records(encoded + recordio.encode(b"next"))) == [payload, b"next"]


def test_an_unaligned_magic_is_not_split():
    payload = b"ab" + MAGIC + b"cd"
    assert recordio.encode(payload)[4:8] == struct.pack("<I", len(payload))


def test_corrupt_recordio_is_reported():
    with pytest.raises(ValueError, match="not a RecordIO record"):
        list(recordio.read_records(b"\x00" * 8))
    with pytest.raises(ValueError, match="truncated"):
        list(recordio.read_records(recordio.encode(b"abcdefgh")[:-3]))


def test_a_dense_record_has_the_protobuf_layout_of_aialgs_data_record():
    record = recordio_protobuf.encode_record(np.array([1.0, 2.0], dtype=np.float32), 1.0)
    floats = struct.pack("<2f", 1.0, 2.0)
    tensor = b"\x0a\x08" + floats                      # Float32Tensor.values (field 1, packed)
    value = b"\x12" + bytes([len(tensor)]) + tensor     # Value.float32_tensor (field 2)
    entry = b"\x0a\x06values" + b"\x12" + bytes([len(value)]) + value  # map entry: key 1, value 2
    label_tensor = b"\x0a\x04" + struct.pack("<f", 1.0)
    label_value = b"\x12" + bytes([len(label_tensor)]) + label_tensor
    label_entry = b"\x0a\x06values" + b"\x12" + bytes([len(label_value)]) + label_value
    assert record == b"\x0a" + bytes([len(entry)]) + entry + b"\x12" + bytes([len(label_entry)]) + label_entry


def test_dense_and_sparse_records_round_trip():
    rows = np.random.default_rng(0).random((50, 7)).astype(np.float32)
    labels = np.arange(50, dtype=np.float32)
    features, read_labels = recordio_protobuf.read_dense(recordio_protobuf.to_bytes(rows, labels))
    np.testing.assert_array_equal(features, rows)
    np.testing.assert_array_equal(read_labels, labels)
    sparse = recordio.encode(recordio_protobuf.encode_record(np.array([5.0, 7.0]), 0.0, keys=np.array([1, 4]),
                                                             shape=(6,)))
    features, _ = recordio_protobuf.read_dense(sparse)
    np.testing.assert_array_equal(features, [[0, 5, 0, 0, 7, 0]])


def test_ndarray_lists_match_mxnets_bytes_in_the_real_artifact():
    with tarfile.open(FIXTURE / "model.tar.gz") as archive:
        member = archive.extractfile("model_algo-1").read()
    real = zipfile.ZipFile(io.BytesIO(member)).read("mx-mod-0000.params")
    arrays = ndarray.load(real)
    assert list(arrays) == ["arg:fc0_weight", "arg:fc0_bias"]
    assert arrays["arg:fc0_weight"].shape == (1, 1) and arrays["arg:fc0_weight"].dtype == np.float32
    assert ndarray.save(arrays) == real
    with pytest.raises(ValueError, match="not an MXNet NDArray list"):
        ndarray.load(b"\x00" * 32)


@pytest.mark.parametrize(("months", "expected"), [(32, 1144.408), (61, 1382.766), (37, 1185.504),
                                                   (59, 1366.327), (14, 996.462), (22, 1062.216)])
def test_the_real_linear_learner_artifact_predicts_its_readme_values(months, expected):
    model = LinearLearnerModel.load(FIXTURE / "model.tar.gz")
    assert model.predictor_type == "regressor"
    assert model.weights[0, 0] == np.float32(8.219234466552734)
    assert model.bias[0] == np.float32(881.392578125)
    assert model.predict(np.array([[months]]))[0]["score"] == pytest.approx(expected, abs=1e-3)


def test_a_written_artifact_has_the_services_layout_and_reads_back():
    model = LinearLearnerModel(np.array([[0.5], [-1.0]], dtype=np.float32), np.array([0.25], dtype=np.float32),
                               "binary_classifier", 0.4)
    data = model.to_tar_gz()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        assert archive.getnames() == ["model_algo-1"]
        names = zipfile.ZipFile(io.BytesIO(archive.extractfile("model_algo-1").read())).namelist()
    assert names == ["additional-params.json", "manifest.json", "mx-mod-0000.params", "mx-mod-symbol.json"]
    loaded = LinearLearnerModel.load(data)
    prediction = loaded.predict(np.array([[1.0, 0.0]]))[0]
    assert prediction["score"] == pytest.approx(1 / (1 + np.exp(-0.75)))
    assert prediction["predicted_label"] == 1.0 and isinstance(prediction["predicted_label"], float)


def test_image_records_carry_the_im2rec_header_and_the_encoded_image(tmp_path):
    from PIL import Image

    from mlformats import im2rec

    Image.new("RGB", (8, 8), (255, 0, 0)).save(tmp_path / "red.png")
    entries = [im2rec.ListEntry(7, (3.0,), "red.png")]
    im2rec.write_lst(entries, tmp_path / "images.lst")
    assert (tmp_path / "images.lst").read_text() == "7\t3.000000\tred.png\n"
    assert im2rec.read_lst((tmp_path / "images.lst").read_text()) == entries
    im2rec.write_rec(entries, tmp_path, tmp_path / "images.rec", tmp_path / "images.idx")
    data = (tmp_path / "images.rec").read_bytes()
    payload = next(recordio.read_records(data))
    assert payload[:24] == struct.pack("IfQQ", 0, 3.0, 7, 0)
    assert payload[24:27] == b"\xff\xd8\xff"  # a JPEG, as im2rec stores by default
    assert (tmp_path / "images.idx").read_text() == "7\t0\n"
    labels, index, image = next(im2rec.read_rec(data))
    assert (labels, index, image) == ((3.0,), 7, payload[24:])
    multi = im2rec.pack_header((1.0, 2.0), 9)
    assert im2rec.unpack(multi + b"img") == ((1.0, 2.0), 9, b"img")
