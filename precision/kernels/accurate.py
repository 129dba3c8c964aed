"""A log-softmax that does not saturate early: the log1p form, on torch tensors and NumPy arrays.

`torch.log_softmax` computes log p_i = (u_i − max) − log Σ_j e^{u_j − max}. Once Σ rounds to 1 (float32: from a
gap of 16.64 over one rival), the top token's log-probability reads exactly 0 although it is −e^{−gap}, a
number float32 holds down to 1.4·10⁻⁴⁵. Taking the top term out of the sum keeps it (pytorch/pytorch#113708):

    s = Σ_{i ≠ top} e^{u_i − u_top},   log p_top = −log1p(s),   log p_i = (u_i − u_top) − log1p(s).

This is the same function as u − logsumexp(u) for any choice of `top` (so its gradient is exact), and it reads
exactly 0 only where s itself underflows (float32: from a gap of 103.97; bfloat16: 92.5). 16-bit inputs are
computed in float32 and rounded once, as torch does for its own kernels.
"""
from __future__ import annotations

import numpy as np

from precision.common.errors import InputError

_WIDENED = ("float16", "bfloat16")


def log_softmax(x, dim: int = -1):
    """Log-probabilities of x along `dim` in the log1p form: a torch tensor for a tensor, else a NumPy array."""
    if type(x).__module__.startswith("torch"):
        return _torch_log_softmax(x, dim)
    return _numpy_log_softmax(np.asarray(x), dim)


def _torch_log_softmax(x, dim: int):
    import torch
    if not torch.is_floating_point(x):
        raise InputError("x", f"expected a floating-point tensor, got {x.dtype}")
    if x.numel() == 0 or x.shape[dim] == 0:
        raise InputError("x", f"expected at least one class along dim {dim}, got shape {tuple(x.shape)}")
    u = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    top = u.argmax(dim=dim, keepdim=True)
    shifted = u - u.gather(dim, top)  # u_top, not amax: the same function everywhere, ties included
    rest = torch.exp(shifted).scatter(dim, top, 0.0).sum(dim=dim, keepdim=True)
    return (shifted - torch.log1p(rest)).to(x.dtype)


def _numpy_log_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    name = x.dtype.name
    if x.dtype.kind != "f" and name not in _WIDENED:
        raise InputError("x", f"expected a floating-point array, got dtype {x.dtype}")
    if x.size == 0 or x.shape[dim] == 0:
        raise InputError("x", f"expected at least one class along axis {dim}, got shape {x.shape}")
    u = x.astype(np.float32) if name in _WIDENED else x
    top = np.expand_dims(np.argmax(u, axis=dim), dim)
    with np.errstate(all="ignore"):
        shifted = u - np.take_along_axis(u, top, axis=dim)
        e = np.exp(shifted)
        np.put_along_axis(e, top, 0, axis=dim)
        out = shifted - np.log1p(e.sum(axis=dim, keepdims=True))
    return out.astype(x.dtype)
