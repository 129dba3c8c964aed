"""Devices by name: the torch device a name means here, and a device described in words for reports."""
from __future__ import annotations

import platform

from precision.common.errors import InputError


def torch_device(name: str) -> str:
    """A torch device name that exists here (`auto`: CUDA when present)."""
    import torch
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("device", f"{name!r}: no CUDA device here")
    if name != "cpu" and not name.startswith("cuda"):
        raise InputError("device", f"expected cpu, cuda, cuda:N or auto, got {name!r}")
    return name


def device_description(device: str) -> str:
    """What a device is, in words (the GPU's name on CUDA)."""
    if device.startswith("cuda"):
        import torch
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU ({platform.machine()})"
