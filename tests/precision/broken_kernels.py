"""Softmax kernels written for the tests, as a user would hand them in (`tests.precision.broken_kernels:NAME`):
three that are broken in the ways real kernels are, and two that are right. Each takes a (B, M) NumPy array of a
dtype and returns outputs of the same shape and dtype."""
from __future__ import annotations

import numpy as np


def _wide(x: np.ndarray) -> np.ndarray:
    """A dtype's values as float32 (float64 stays float64): exact."""
    return x.astype(np.float64 if x.dtype == np.float64 else np.float32)


def naive(x: np.ndarray) -> np.ndarray:
    """exp(x) / Σ exp(x), no max shift: overflows to inf / inf = NaN once the top logit passes ln(largest)."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x)
        return (e / e.sum(axis=1, keepdims=True)).astype(x.dtype)


def low_precision_sum(x: np.ndarray) -> np.ndarray:
    """exp(x − max) in the dtype, summed left to right in the dtype: each small rival is absorbed by the running
    sum on its own, so the top output is 1 while the rivals together still hold far more than an ulp."""
    e = np.exp(x - x.max(axis=1, keepdims=True)).astype(x.dtype)
    total = e[:, 0].copy()
    for j in range(1, x.shape[1]):
        total = (total + e[:, j]).astype(x.dtype)
    return (e / total[:, None]).astype(x.dtype)


def _fast_exp(t: np.ndarray) -> np.ndarray:
    """Schraudolph's exp through the float32 bit pattern, with no range check: far below −88 the integer wraps
    around (modulo the finite patterns) and the 'exponential' of a very negative number turns huge, as an
    unclamped fast-math exp does."""
    with np.errstate(invalid="ignore"):
        bits = np.floor(np.maximum(t.astype(np.float64), -1e15) * 12102203.0 + 1065353216.0).astype(np.int64)
    return (bits % 0x7F800000).astype(np.uint32).view(np.float32)


def leaves_one(x: np.ndarray) -> np.ndarray:
    """A max-shifted softmax on an unclamped fast exp: its top output is exactly 1 from a moderate gap, then
    leaves 1 once the shifted rivals pass the exp's range (no NaN: every output stays finite)."""
    e = _fast_exp(_wide(x) - _wide(x).max(axis=1, keepdims=True))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return (e / e.sum(axis=1, keepdims=True)).astype(x.dtype)


def snaps_to_one(x: np.ndarray) -> np.ndarray:
    """A right softmax that reports a one-hot row once the top output passes 0.999 ('confident enough'): monotone,
    sums to 1, stays 1 — and saturates long before the dtype makes it."""
    p = stable(x).astype(np.float64)
    top = p.argmax(axis=1)
    snap = p.max(axis=1) > 0.999
    p[snap] = 0.0
    p[np.flatnonzero(snap), top[snap]] = 1.0
    return p.astype(x.dtype)


def factored(x: np.ndarray) -> np.ndarray:
    """exp(x − max) computed as exp(x) · exp(−max) in float32: right for logits near 0, but adding a constant to
    every logit pushes exp(x) towards its underflow or overflow and the outputs drift."""
    w = _wide(x)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(w) * np.exp(-w.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(x.dtype)


def bfloat16_inside(x: np.ndarray) -> np.ndarray:
    """A right softmax on the logits rounded to bfloat16 first (a kernel that computes in bfloat16 whatever it is
    given): adding a constant to every logit changes that rounding, so the outputs move with the shift."""
    import ml_dtypes
    return stable(x.astype(ml_dtypes.bfloat16).astype(np.float32)).astype(x.dtype)


def stable(x: np.ndarray) -> np.ndarray:
    """exp(x − max) / Σ in float32 (float64 for float64), rounded once to the dtype: what torch does for 16-bit."""
    w = _wide(x)
    e = np.exp(w - w.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(x.dtype)


def torch_softmax(x):
    """torch.softmax itself, on torch tensors (build it with `Kernel.from_callable(torch_softmax, torch=True)`)."""
    import torch
    return torch.softmax(x, dim=-1)


def stable_kernel():
    """`stable` as a Kernel that states its dtypes (`tests.precision.broken_kernels:STABLE_16`)."""
    from precision.kernels.registry import Kernel
    return Kernel.from_callable(stable, dtypes=("float16", "bfloat16"), name="stable-16")


def make_torch_kernel():
    from precision.kernels.registry import Kernel
    return Kernel.from_callable(torch_softmax, torch=True, name="user-torch")


NOT_CALLABLE = 3.0


def raises_on_large(x: np.ndarray) -> np.ndarray:
    """Refuses a logit above 20 (as a kernel with an assertion would)."""
    if (x.astype(np.float64) > 20).any():
        raise ValueError("logit above 20")
    return stable(x)


def wrong_shape(x: np.ndarray) -> np.ndarray:
    return stable(x)[:, 0]


def wrong_dtype(x: np.ndarray) -> np.ndarray:
    return stable(x).astype(np.float64)


def log_without_saying(x: np.ndarray) -> np.ndarray:
    """A right log-softmax (unless called a softmax), in float32 for 16/32-bit dtypes. exp and log go through
    float64 and are rounded once: NumPy's vectorised float32 exp and log can fall by an ulp as their argument
    grows, which the monotone property catches."""
    w = _wide(x)
    shifted = w - w.max(axis=1, keepdims=True)
    e = np.exp(shifted.astype(np.float64)).astype(w.dtype)
    log_sum = np.log(e.sum(axis=1, keepdims=True).astype(np.float64)).astype(w.dtype)
    return (shifted - log_sum).astype(x.dtype)
