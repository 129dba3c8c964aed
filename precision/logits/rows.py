"""Per-row saturation of a softmax on real logits: is each row's top output exactly 1 in a dtype with a kernel,
and how far is the row from its own saturation point?

A row's own saturation gap is the smallest gap g, on the dtype's grid, such that the row with its top logit
moved to (largest rival + g) has a top output of exactly 1 with that kernel — found by bisection on the real
kernel, all rows of a chunk at once. `gap − threshold` > 0 says how much of the row's lead the softmax no
longer shows; < 0, how far it is from showing none of it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from precision.common.errors import InputError
from precision.emulated.algorithms import ALGORITHMS, emulate
from precision.formats.arithmetic import arithmetic
from precision.formats.search import first_true
from precision.kernels.registry import DTYPES, EmulationModel, Kernel

REACH = 2048.0  # largest gap searched: every kernel here saturates long before (float64: at ~37 + ln M)


@dataclass(frozen=True)
class RowSaturation:
    """Saturation of each row of a block of logits in one dtype with one kernel (arrays of length N)."""

    dtype: str
    kernel: str
    top_is_one: np.ndarray  # the top output is exactly 1 (log-space kernels: log-probability exactly 0)
    others_zero: np.ndarray  # every other output is exactly 0 (log-space: −inf)
    overflow: np.ndarray  # some logit lies beyond the dtype's range: the row cannot be represented
    gap: np.ndarray  # top logit − largest rival, both rounded to the dtype
    threshold: np.ndarray  # the row's own saturation gap; NaN on overflow rows or beyond REACH

    @property
    def sum_exceeds_one(self) -> np.ndarray:
        """The top output is 1 while another is positive: the outputs sum to more than 1."""
        return self.top_is_one & ~self.others_zero

    @property
    def past_threshold(self) -> np.ndarray:
        return self.gap - self.threshold


def emulated_kernel(algorithm: str) -> Kernel:
    """An emulated algorithm of `precision.emulated.algorithms`, every operation rounded in the dtype, as a Kernel."""
    if algorithm not in ALGORITHMS:
        raise InputError("algorithm", f"unknown {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")

    def compute(x, d, device):
        ar = arithmetic(d.format)
        return emulate(algorithm, x.astype(np.float64), ar, ar, "sequential")

    model = EmulationModel(algorithm, None, "sequential", "the emulation itself")
    return Kernel(f"emulated-{algorithm}", f"precision.emulated.algorithms.{algorithm}, every operation rounded",
                  "numpy", "", tuple(DTYPES), compute, lambda dtype: model)


def row_saturation(x: np.ndarray, dtype: str, kernel: Kernel, device: str = "cpu") -> RowSaturation:
    """Saturation of each row of x (float64, shape (N, M)) in `dtype` with `kernel`.

    >>> from precision.kernels.registry import get_kernel
    >>> r = row_saturation(np.array([[30.0, 0.0], [3.0, 0.0]]), "float16", get_kernel("numpy"))
    >>> r.top_is_one.tolist(), r.threshold.tolist()
    ([True, False], [7.625, 7.625])
    """
    d = kernel.check(dtype, device)
    with np.errstate(over="ignore"):
        xs = d.cast(x)
    n = len(xs)
    rows = np.arange(n)
    overflow = ~np.isfinite(xs.astype(np.float64)).all(axis=1)
    top = np.argmax(xs, axis=1)
    top_is_one, others_zero = kernel.saturated(kernel(xs, dtype, device), top)
    top_is_one, others_zero = top_is_one & ~overflow, others_zero & ~overflow
    x64 = xs.astype(np.float64)
    rivals = x64.copy()
    rivals[rows, top] = -np.inf
    base = rivals.max(axis=1)
    gap = np.where(overflow, np.nan, x64[rows, top] - base)

    def saturated(pts: np.ndarray, live: np.ndarray) -> np.ndarray:
        k = pts.shape[1]
        trial = np.repeat(xs[live], k, axis=0)
        r = np.repeat(live, k)
        with np.errstate(over="ignore"):
            trial[np.arange(len(r)), top[r]] = d.cast(base[r] + d.values(pts.ravel()).astype(np.float64))
        out = kernel(trial, dtype, device)[np.arange(len(r)), top[r]]
        return (out == kernel.one).reshape(pts.shape)

    threshold = np.full(n, np.nan)
    ok = np.flatnonzero(~overflow)
    if len(ok):
        reach = int(d.index(d.cast(np.array([min(REACH, float(d.format.max_finite) / 4)])))[0])
        reach_rows = ok[saturated(np.full((len(ok), 1), reach), ok)[:, 0]]
        if len(reach_rows):
            lo = np.full(n, -1, dtype=np.int64)
            hi = np.full(n, reach, dtype=np.int64)
            found = first_true(lambda pts, live: saturated(pts, reach_rows[live]), lo[reach_rows], hi[reach_rows],
                               points=1)
            threshold[reach_rows] = d.values(found).astype(np.float64)
    return RowSaturation(dtype, kernel.name, top_is_one, others_zero, overflow, gap, threshold)
