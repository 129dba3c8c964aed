"""Saturation of a batch of logits, fast enough for every batch of a training or attack loop, torch-free unless
the kernel is a torch one.

Per row and dtype: the top output exactly 1 with the real kernel, the outputs summing to more than 1, the others
exactly 0, the log-probability exactly 0, the distance past the row's own saturation point, and the two strengths
that never saturate (the logit margin and the stable log-odds).

The distance comes from the kernel's model (`Kernel.model`), one log-sum-exp per row instead of a search. With
W = Σ_i e^(r_i − max r), the rivals' weight, a row saturates from the gap ln W − ln c on, where
- a kernel that computes wider than the dtype and rounds once (torch on 16-bit inputs, reproduced bit for bit):
  c = h/(1 − h), h half the gap between 1 and the dtype's next value below;
- a kernel that computes in the dtype: c = half the gap between 1 and the next value above (its sum absorbs W).
In-dtype kernels that add the rivals one at a time saturate earlier, by up to ln W; `exact_distance=True` finds
every row's own point by bisection on the real kernel instead (`precision.logits.rows`), slower.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from precision.common.errors import InputError
from precision.kernels.registry import DTYPES, get_kernel
from precision.logits.rows import row_saturation

LOG_KERNELS = {"torch": "torch-log", "torch-float32": "torch-log"}  # measures log p = 0 with the same library


@dataclass(frozen=True)
class Saturation:
    """Saturation of each row of a batch in one dtype with one kernel (arrays of length N)."""

    dtype: str
    kernel: str
    top_is_one: np.ndarray
    sum_exceeds_one: np.ndarray  # top output 1 while another is > 0
    others_zero: np.ndarray
    log_prob_zero: np.ndarray  # log-softmax of the top class exactly 0
    distance: np.ndarray  # gap − the row's own saturation gap: > 0 means that much lead is invisible
    margin: np.ndarray  # top − runner-up logit (float64): never saturates
    log_odds: np.ndarray  # top − lse(rivals) (float64): never saturates


def check_batch(logits, name: str = "logits") -> np.ndarray:
    """A batch of logits as a finite float64 array (N, C), C ≥ 2; one clear error naming `name` otherwise."""
    a = np.asarray(logits)
    if a.dtype.kind not in "fiu":
        raise InputError(name, f"expected real numbers, got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[1] < 2 or a.shape[0] < 1:
        raise InputError(name, f"expected logits of shape (N, C) with C ≥ 2, got {a.shape}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        raise InputError(name, f"row {bad[0]}, class {bad[1]} is {a[tuple(bad)]} (NaN or infinite logits)")
    return a


def absorbed_weight(dtype: str, rounded_once: bool) -> float:
    """c of the module docstring: the largest rival weight e^−gap·W that leaves the top output exactly 1."""
    f = DTYPES[dtype].format
    one = f.index_of(f.round(1))
    if rounded_once:
        h = (1 - float(f.value_at(one - 1))) / 2
        return h / (1 - h)
    return (float(f.value_at(one + 1)) - 1) / 2


def saturation_of(logits, dtypes=("float32",), kernel: str = "torch", device: str = "cpu",
                  exact_distance: bool = False) -> dict[str, Saturation]:
    """Per dtype, the saturation of every row of `logits` (N, C) with `kernel` (see the module docstring).

    >>> s = saturation_of([[30.0, 0.0], [3.0, 0.0]], dtypes=("bfloat16",), kernel="numpy")["bfloat16"]
    >>> s.top_is_one.tolist(), s.distance.round(3).tolist()  # numpy computes in bfloat16: from gap 5.545
    ([True, False], [24.455, -2.545])
    """
    x = check_batch(logits)
    k = get_kernel(kernel)
    log_kernel = get_kernel(LOG_KERNELS.get(kernel, kernel))
    n = len(x)
    rows = np.arange(n)
    top = np.argmax(x, axis=1)
    rivals = x.copy()
    rivals[rows, top] = -np.inf
    second = rivals.max(axis=1)
    scaled = np.exp(rivals - second[:, None]).sum(axis=1)  # Σ e^(r − max r) ≥ 1: the rivals' weight
    margin = x[rows, top] - second
    log_odds = margin - np.log(scaled)
    out = {}
    for dtype in dtypes:
        d = k.check(dtype, device)
        xs = d.cast(x)
        p = k(xs, dtype, device)
        top_is_one, others_zero = k.saturated(p, top)
        log_top = log_kernel(xs, dtype, device)[rows, top] if not k.log_space else p[rows, top]
        if exact_distance:
            distance = row_saturation(x, dtype, k, device).past_threshold
        else:
            rounded_once = k.model(dtype).accumulate is not None
            distance = margin - (np.log(scaled) - np.log(absorbed_weight(dtype, rounded_once)))
        out[dtype] = Saturation(dtype, kernel, top_is_one, top_is_one & ~others_zero, others_zero,
                                log_top == log_kernel.one, distance, margin, log_odds)
    return out


def looks_like_probabilities(x, tolerance: float = 1e-3) -> bool:
    """True when every row lies in [0, 1] and sums to about 1, or is ≤ 0 with a log-sum-exp of about 0:
    probabilities or log-probabilities, not logits."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.size == 0 or np.isnan(a).any() or np.isposinf(a).any():
        return False
    if (a >= 0).all() and (a <= 1).all():
        return bool(np.all(np.abs(a.sum(axis=1) - 1) <= tolerance))
    m = a.max(axis=1, keepdims=True)
    if (a <= 0).all() and np.isfinite(m).all():  # log-probabilities: −inf allowed, not a whole row of it
        lse = m[:, 0] + np.log(np.exp(a - m).sum(axis=1))
        return bool(np.all(np.abs(lse) <= tolerance))
    return False
