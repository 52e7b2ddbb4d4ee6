"""Training: channels and hyperparameters in, the service's ``Epoch[N] ...`` log and artifact names out."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from localcloud.algorithms.container import TrainingEnvironment, UserError
from localcloud.algorithms.image_classification import data, hyperparameters
from localcloud.algorithms.image_classification.network import ResNet
from mlformats import ndarray

SYMBOL_FILE = "image-classification-symbol.json"
SHAPES_FILE = "model-shapes.json"
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
CHANNELS = ("train", "validation", "train_lst", "validation_lst", "model")


def pretrained_dir() -> Path:
    """Where pre-trained weights are looked for: nothing can be downloaded offline."""
    return Path(os.environ.get("LOCALCLOUD_PRETRAINED_DIR", "/opt/ml/pretrained"))


def normalise(images: torch.Tensor) -> torch.Tensor:
    images = images.float() / 255.0
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return (images - MEAN) / STD


def augment(images: torch.Tensor, kind: str, generator: torch.Generator) -> torch.Tensor:
    """``crop``: random crop (4-pixel padding) and horizontal flip; ``color``: brightness and contrast;
    ``transform``: a small random rotation."""
    if not kind:
        return images
    batch, _, height, width = images.shape
    padded = F.pad(images, (4, 4, 4, 4), mode="reflect")
    dy, dx = torch.randint(0, 9, (2,), generator=generator).tolist()
    images = padded[:, :, dy:dy + height, dx:dx + width]
    flip = torch.rand(batch, generator=generator) < 0.5
    images = torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images)
    if "color" in kind:
        brightness = 1 + (torch.rand(batch, 1, 1, 1, generator=generator) - 0.5) * 0.4
        contrast = 1 + (torch.rand(batch, 1, 1, 1, generator=generator) - 0.5) * 0.4
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = (images - mean) * contrast + mean * brightness
    if "transform" in kind:
        angle = (torch.rand(batch, generator=generator) - 0.5) * 0.35
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack([torch.stack([cos, -sin, torch.zeros_like(cos)], 1),
                             torch.stack([sin, cos, torch.zeros_like(cos)], 1)], 1)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        images = F.grid_sample(images, grid, padding_mode="reflection", align_corners=False)
    return images


def _optimizer(net: torch.nn.Module, params: dict) -> torch.optim.Optimizer:
    kind, rate, decay = params["optimizer"], params["learning_rate"], params["weight_decay"]
    if kind == "adam":
        return torch.optim.Adam(net.parameters(), rate, betas=(params["beta_1"], params["beta_2"]),
                                eps=params["eps"], weight_decay=decay)
    if kind == "rmsprop":
        return torch.optim.RMSprop(net.parameters(), rate, alpha=params["gamma"], eps=params["eps"],
                                   weight_decay=decay)
    return torch.optim.SGD(net.parameters(), rate, momentum=params["momentum"], weight_decay=decay,
                           nesterov=kind == "nag" and params["momentum"] > 0)


def _accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int) -> tuple[int, int]:
    top = logits.topk(min(k, logits.shape[1]), dim=1).indices
    return int((top[:, 0] == labels).sum()), int((top == labels[:, None]).any(dim=1).sum())


def evaluate(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, k: int, batch: int) -> tuple[float, float]:
    net.eval()
    correct = top_k = 0
    with torch.no_grad():
        for start in range(0, len(images), batch):
            logits = net(normalise(images[start:start + batch]))
            c, t = _accuracy(logits, labels[start:start + batch], k)
            correct, top_k = correct + c, top_k + t
    return correct / len(images), top_k / len(images)


def save(net: torch.nn.Module, model_dir: Path, epoch: int, params: dict) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    trainable = {name for name, _ in net.named_parameters()}
    arrays = {(f"arg:{name}" if name in trainable else f"aux:{name}"): tensor.detach().float().numpy()
              for name, tensor in net.state_dict().items() if tensor.dtype.is_floating_point}
    (model_dir / f"image-classification-{epoch:04d}.params").write_bytes(ndarray.save(arrays))
    channels, height, width = params["image_shape"]
    (model_dir / SHAPES_FILE).write_text(json.dumps([{"shape": [params["mini_batch_size"], channels, height, width],
                                                      "name": "data"}]))
    (model_dir / SYMBOL_FILE).write_text(json.dumps({
        "framework": "localcloud-pytorch-resnet", "num_layers": params["num_layers"],
        "num_classes": params["num_classes"], "image_shape": list(params["image_shape"]),
        "resize": params["resize"], "mean": MEAN.flatten().tolist(), "std": STD.flatten().tolist(),
    }, indent=2))


def train(environment: TrainingEnvironment) -> None:
    params = hyperparameters.validate(environment.hyperparameters)
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    generator = torch.Generator().manual_seed(0)
    logging.info("Final configuration: %s", json.dumps(params, sort_keys=True, default=list))
    unknown = sorted(set(environment.input_data_config) - set(CHANNELS))
    if unknown:
        raise UserError(f"Unexpected channel(s) {unknown}: Image Classification accepts {list(CHANNELS[:4])}")
    if "train" not in environment.input_data_config:
        raise UserError("Missing required channel: train")
    if params["precision_dtype"] == "float16":
        logging.info("precision_dtype float16: localcloud trains in float32 on the CPU")

    root = environment.root / "input" / "data"
    content_type = environment.content_type("train", data.RECORDIO)
    shape, resize = params["image_shape"], params["resize"]
    train_images, train_labels = data.load_channel(root, "train", content_type, shape, resize)
    validation = data.load_channel(root, "validation", environment.content_type("validation", content_type), shape,
                                   resize) if "validation" in environment.input_data_config else None
    classes = params["num_classes"]
    for name, labels in [("train", train_labels)] + ([("validation", validation[1])] if validation else []):
        if int(labels.min()) < 0 or int(labels.max()) >= classes:
            raise UserError(f"Labels in channel {name} must be from 0 to num_classes - 1 = {classes - 1}")
    if params["num_training_samples"] != len(train_labels):
        logging.info("num_training_samples is %d; the train channel holds %d images",
                     params["num_training_samples"], len(train_labels))

    net = ResNet(params["num_layers"], classes)
    if params["use_pretrained_model"]:
        weights = pretrained_dir() / f"resnet-{params['num_layers']}.pt"
        if not weights.exists():
            raise UserError(f"use_pretrained_model=1 needs pre-trained ResNet-{params['num_layers']} weights, which "
                            f"cannot be downloaded offline: put a state dict of this network at {weights} "
                            "(the folder is LOCALCLOUD_PRETRAINED_DIR), or train from scratch with use_pretrained_model=0")
        state = {k: v for k, v in torch.load(weights, map_location="cpu").items() if not k.startswith("fc.")}
        net.load_state_dict(state, strict=False)

    optimizer = _optimizer(net, params)
    batch, k = params["mini_batch_size"], params["top_k"]
    steps, factor = set(params["lr_scheduler_step"]), params["lr_scheduler_factor"]
    best, stale = -1.0, 0
    epoch = 0
    for epoch in range(params["epochs"]):
        if epoch in steps:
            for group in optimizer.param_groups:
                group["lr"] *= factor
        net.train()
        started = time.perf_counter()
        order = torch.randperm(len(train_images), generator=generator)
        correct = top_k = seen = 0
        for number, start in enumerate(range(0, len(order), batch)):
            index = order[start:start + batch]
            images = augment(normalise(train_images[index]), params["augmentation_type"], generator)
            logits = net(images)
            loss = F.cross_entropy(logits, train_labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            c, t = _accuracy(logits.detach(), train_labels[index], k)
            correct, top_k, seen = correct + c, top_k + t, seen + len(index)
            if number % 20 == 19:
                speed = seen / (time.perf_counter() - started)
                logging.info("Epoch[%d] Batch [%d]\tSpeed: %.2f samples/sec\taccuracy=%f", epoch, number + 1, speed,
                             correct / seen)
        elapsed = time.perf_counter() - started
        logging.info("Epoch[%d] Train-accuracy=%f", epoch, correct / seen)
        logging.info("Epoch[%d] Train-top_k_accuracy_%d=%f", epoch, k, top_k / seen)
        logging.info("Epoch[%d] Time cost=%.3f", epoch, elapsed)
        if validation is not None:
            accuracy, top_k_accuracy = evaluate(net, *validation, k, batch)
            logging.info("Epoch[%d] Validation-accuracy=%f", epoch, accuracy)
            logging.info("Epoch[%d] Validation-top_k_accuracy_%d=%f", epoch, k, top_k_accuracy)
            if params["early_stopping"]:
                if accuracy > best + params["early_stopping_tolerance"]:
                    best, stale = accuracy, 0
                else:
                    stale += 1
                if epoch + 1 >= params["early_stopping_min_epochs"] and stale >= params["early_stopping_patience"]:
                    logging.info("Early stopping: validation accuracy has not improved for %d epochs", stale)
                    break
        if params["checkpoint_frequency"] and (epoch + 1) % params["checkpoint_frequency"] == 0:
            save(net, environment.model_dir, epoch + 1, params)
    save(net, environment.model_dir, epoch + 1, params)
