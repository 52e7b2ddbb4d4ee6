"""Serving: images in, class probabilities out, as the Image Classification algorithm answers."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from pathlib import Path

import torch

from localcloud.algorithms.container import Invocation, Reply
from localcloud.algorithms.image_classification import data
from localcloud.algorithms.image_classification.network import ResNet
from localcloud.algorithms.image_classification.train import SYMBOL_FILE, normalise
from mlformats import ndarray

CONTENT_TYPES = ("image/jpeg", "image/png", "application/x-image")
JSON, JSONLINES = "application/json", "application/jsonlines"


def load_network(model_dir: Path) -> tuple[torch.nn.Module, dict]:
    config = json.loads((model_dir / SYMBOL_FILE).read_text())
    params_files = sorted(model_dir.glob("image-classification-*.params"))
    if not params_files:
        raise RuntimeError(f"No image-classification-NNNN.params file in {model_dir}")
    net = ResNet(config["num_layers"], config["num_classes"])
    arrays = ndarray.load(params_files[-1].read_bytes())
    state = {name.split(":", 1)[1]: torch.from_numpy(array.copy()) for name, array in arrays.items()}
    net.load_state_dict(state, strict=False)
    net.eval()
    return net, config


def load_model(model_dir: Path) -> Invocation:
    net, config = load_network(model_dir)
    shape, resize = tuple(config["image_shape"]), config.get("resize")
    logging.info("Loaded ResNet-%d with %d classes for %s images", config["num_layers"], config["num_classes"], shape)

    def invoke(body: bytes, content_type: str, accept: str) -> Reply:
        if content_type not in CONTENT_TYPES:
            return Reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                         f"Content type {content_type or '(none)'} is not supported; use one of {list(CONTENT_TYPES)}".encode())
        accept = JSON if accept in ("", "*/*") else accept
        if accept not in (JSON, JSONLINES):
            return Reply(HTTPStatus.NOT_ACCEPTABLE, f"Accept type {accept} is not supported; use {JSON} or {JSONLINES}".encode())
        try:
            image = torch.from_numpy(data.decode(body, shape, resize)).unsqueeze(0)
        except ValueError as error:
            return Reply(HTTPStatus.BAD_REQUEST, f"Unable to decode the request body as an image: {error}".encode())
        with torch.no_grad():
            probabilities = torch.softmax(net(normalise(image)), dim=1)[0].tolist()
        body_out = json.dumps(probabilities) if accept == JSON else json.dumps({"prediction": probabilities}) + "\n"
        return Reply(HTTPStatus.OK, body_out.encode(), accept)

    return invoke
