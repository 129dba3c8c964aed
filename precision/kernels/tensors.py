"""A dtype's NumPy storage arrays as torch tensors and back, bit for bit (torch knows no ml_dtypes type)."""
from __future__ import annotations

import functools

import numpy as np

from precision.formats.dtypes import Dtype

_SIGNED = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}


@functools.cache
def torch_dtypes() -> dict:
    """Our dtype names, and the signed integers of each width, as torch dtypes."""
    import torch
    return {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64,
            1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def to_torch(x: np.ndarray, d: Dtype, device: str):
    """A storage array of the dtype as a torch tensor of that dtype on `device`, bit for bit."""
    import torch
    if not x.flags.writeable:  # e.g. Arrow's buffers: torch takes no read-only arrays (it warns, and may write)
        x = x.copy()
    # through the bits: torch.from_numpy knows no ml_dtypes type
    return torch.from_numpy(x.view(_SIGNED[x.itemsize])).view(torch_dtypes()[d.name]).to(device)


def from_torch(t, d: Dtype) -> np.ndarray:
    """A torch tensor of the dtype back as its NumPy storage array, bit for bit."""
    return t.cpu().view(torch_dtypes()[t.element_size()]).numpy().view(d.storage)
