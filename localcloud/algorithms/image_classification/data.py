"""Image Classification's channels: RecordIO (``train``, ``validation``) or images with ``.lst`` files
(``train`` + ``train_lst``, ``validation`` + ``validation_lst``), decoded once into tensors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from localcloud.algorithms.container import UserError
from mlformats import im2rec

RECORDIO = "application/x-recordio"
IMAGE = "application/x-image"
IMAGE_TYPES = (IMAGE, "image/jpeg", "image/png")


def prepare(image: Image.Image, shape: tuple[int, int, int], resize: int | None) -> np.ndarray:
    """Resize (shorter side to ``resize`` if given, else to fit the shape) and centre-crop to CxHxW uint8."""
    channels, height, width = shape
    image = image.convert("RGB" if channels == 3 else "L")
    shorter = resize or max(height, width)
    scale = shorter / min(image.size)
    if scale != 1:
        image = image.resize((max(width, round(image.size[0] * scale)), max(height, round(image.size[1] * scale))),
                             Image.BILINEAR)
    left, top = (image.size[0] - width) // 2, (image.size[1] - height) // 2
    array = np.asarray(image.crop((left, top, left + width, top + height)), dtype=np.uint8)
    return array.reshape(height, width, channels).transpose(2, 0, 1)


def decode(data: bytes, shape, resize) -> np.ndarray:
    try:
        return prepare(Image.open(io.BytesIO(data)), shape, resize)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"not a decodable image ({error})") from None


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith("."))


def load_channel(root: Path, channel: str, content_type: str, shape, resize) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(images uint8 NxCxHxW, labels int64), or None if the channel was not given."""
    directory = root / channel
    if not directory.exists():
        return None
    images, labels = [], []
    if content_type == RECORDIO:
        records = [p for p in _files(directory) if p.suffix != ".idx"]
        if not records:
            raise UserError(f"No .rec file in channel {channel}")
        for path in records:
            try:
                for record_labels, _, encoded in im2rec.read_rec(path.read_bytes()):
                    images.append(decode(encoded, shape, resize))
                    labels.append(record_labels[0])
            except ValueError as error:
                raise UserError(f"{path.name} in channel {channel} is not valid image RecordIO: {error}") from None
    elif content_type in IMAGE_TYPES:
        lst_directory = root / f"{channel}_lst"
        lists = _files(lst_directory) if lst_directory.exists() else []
        if not lists:
            raise UserError(f"Channel {channel} holds images: it needs a {channel}_lst channel with a .lst file")
        for lst in lists:
            for entry in im2rec.read_lst(lst.read_text()):
                path = directory / entry.path
                if not path.exists():
                    raise UserError(f"{lst.name} names {entry.path}, which is not in channel {channel}")
                try:
                    images.append(decode(path.read_bytes(), shape, resize))
                except ValueError as error:
                    raise UserError(f"{entry.path} in channel {channel}: {error}") from None
                labels.append(entry.labels[0])
    else:
        raise UserError(f"Content type {content_type} is not supported for channel {channel}; use {RECORDIO} or {IMAGE}")
    if not images:
        raise UserError(f"Channel {channel} holds no images")
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)
