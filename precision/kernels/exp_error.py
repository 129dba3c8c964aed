"""How far each real kernel's exp is from the exact exp, in ulps, and whether its measured two-class threshold lies
in the interval that Coq proves for an exp within k ulps (`precision.emulated.exp_error`).

The exp measured is the framework's own, called in the dtype: `torch.exp`, `np.exp` (NumPy and SciPy, whose
softmax calls it), `jax.numpy.exp`. ONNX Runtime's Softmax operator computes its exp inside the operator, where it
cannot be called alone: "not measurable". The inputs are the exp's inputs in a max-shifted two-class softmax,
x = −g for the gaps g of the dtype in [0, T + margin] (T the dtype's exact two-class threshold; margin max(1, T/4)):
every such value for 8- and 16-bit dtypes, for float32 an even sample plus every value within 2048 grid steps of
−T, for float64 a smaller sample. The error of one output r at x is |r − e^x| / ulp(e^x) (Flocq's ulp, the one the
proof uses: 2^max(⌊log2 e^x⌋ + 1 − p, emin_sub)); e^x is computed in float64 for dtypes up to float32 (its own error
is below 2^−28 of the dtype's ulp) and the largest errors are recomputed exactly with mpmath, so the maximum
reported is exact to the digits shown. For float64 every point is computed with mpmath.

The verdict: the measured error rounded up to the least k the proof covers (1/2, 1, 2; above that the interval is
computed but not proved in Coq), and whether the kernel's measured threshold lies in [T_lo(k), T_hi(k)]. A kernel
outside is one whose behaviour its exp error alone does not explain (its working precision, its summation or its
blocking do); log-space kernels compute log-probabilities, another formula, and get no verdict.
"""
from __future__ import annotations

import functools
from fractions import Fraction

import mpmath
import numpy as np

from precision.emulated.exp_error import PROVED_FORMATS, PROVED_K, covering_k, interval, top_threshold
from precision.formats.dtypes import DTYPES
from precision.kernels.contract import Kernel

SAMPLE = 1 << 15  # float32 inputs sampled evenly (besides every value near −T)
SAMPLE_FLOAT64 = 2048
NEAR = 2048  # grid steps either side of −T, every one of them


def exp_inputs(dtype: str) -> np.ndarray:
    """The exp inputs x = −g that matter for the two-class threshold, as an array of the dtype."""
    d = DTYPES[dtype]
    fmt = d.format
    T = top_threshold(dtype)
    top = T + max(Fraction(1), T / 4)
    with mpmath.workprec(200):
        top_value = fmt.round(mpmath.mpf(top.numerator) / top.denominator)
    hi_idx, t_idx = fmt.index_of(top_value), fmt.index_of(mpmath.mpf(T.numerator) / T.denominator)
    if hi_idx <= 1 << 17:
        idx = np.arange(0, hi_idx + 1, dtype=np.int64)
    else:
        n = SAMPLE if fmt.precision < 53 else SAMPLE_FLOAT64
        near = np.arange(max(0, t_idx - NEAR), min(hi_idx, t_idx + NEAR) + 1, dtype=np.int64)
        idx = np.unique(np.concatenate([np.linspace(0, hi_idx, n).astype(np.int64), near]))
    return (-fmt.values_at(idx)).astype(d.storage)


def _errors_float64(x: np.ndarray, r: np.ndarray, p: int, emin: int) -> np.ndarray:
    y = np.exp(x.astype(np.float64))
    _, e = np.frexp(y)
    u = np.ldexp(1.0, np.maximum(e - p, emin))
    return np.abs(r.astype(np.float64) - y) / u


def _error_exact(x: float, r: float, p: int, emin: int) -> float:
    with mpmath.workprec(200):
        y = mpmath.exp(mpmath.mpf(x))
        _, e = mpmath.frexp(y)
        return float(abs(mpmath.mpf(r) - y) / mpmath.mpf(2) ** max(int(e) - p, emin))


def errors_in_ulps(x: np.ndarray, r: np.ndarray, dtype: str, exact_top: int = 64) -> float:
    """max |r − e^x| / ulp(e^x) over the points, in the dtype's ulps (see the module's docstring)."""
    fmt = DTYPES[dtype].format
    p, emin = int(fmt.precision), int(fmt.emin) - int(fmt.precision) + 1
    x64, r64 = x.astype(np.float64), r.astype(np.float64)
    if not np.all(np.isfinite(r64)):
        return float("inf")
    if p >= 53:
        return max(_error_exact(float(a), float(b), p, emin) for a, b in zip(x64, r64))
    err = _errors_float64(x64, r64, p, emin)
    worst = np.argsort(err)[-exact_top:]
    return max(_error_exact(float(x64[i]), float(r64[i]), p, emin) for i in worst)


def exp_error_ulps(kernel: Kernel, dtype: str) -> float | None:
    """The kernel's exp error in ulps of the dtype over the gaps that matter; None where it is not measurable
    (`Kernel.exp` is None: ONNX Runtime, a user's kernel)."""
    return None if kernel.exp is None else _exp_error(kernel.exp, dtype)


@functools.cache
def _exp_error(f, dtype: str) -> float:  # one measurement per framework exp and dtype (kernels share them)
    x = exp_inputs(dtype)
    with np.errstate(all="ignore"):
        r: np.ndarray = np.asarray(f(x, dtype)).astype(DTYPES[dtype].storage)
    return errors_in_ulps(x, r, dtype)


def verdict(error: float | None, dtype: str, measured_gap, log_space: bool = False) -> dict:
    """One row's verdict: the k covering the measured error, the interval for it, whether Coq proves it, and
    whether the measured threshold (exact decimal text or number; None: never 1) lies inside."""
    row: dict = {"exp_error_ulps": None if error is None else round(error, 6), "k": None, "interval": None,
                 "proved_in_coq": False, "inside": None, "measured": measured_gap}
    if error is None:
        row["note"] = "exp not measurable"
        return row
    k = covering_k(error)
    row["k"] = str(k)
    try:
        iv = interval(dtype, k)
    except (RuntimeError, ValueError) as e:
        row["note"] = f"no interval for k = {k}: {e}"
        return row
    row["interval"] = [str(iv.lo), str(iv.hi)]
    row["proved_in_coq"] = k in PROVED_K and dtype in PROVED_FORMATS
    if log_space:
        row["note"] = "log-space kernel: its threshold (log p = 0) is another formula"
        return row
    if measured_gap is None:
        row["inside"], row["note"] = False, "top output never exactly 1 in the scan"
        return row
    g = Fraction(str(measured_gap))
    row["inside"] = bool(iv.lo <= g <= iv.hi)
    row["note"] = "explained by its exp error" if row["inside"] else \
        "not explained by its exp error alone (its working precision, summation or blocking is)"
    return row


def exp_error_rows(kernels, thresholds: list[dict]) -> list[dict]:
    """Per kernel × dtype: the measured exp error and the verdict against the measured two-class threshold
    (`thresholds`: the report's kernel threshold rows, `KernelThresholds.as_dict()`)."""
    measured = {(t["kernel"], t["dtype"]): t["top_is_one_from_gap"] for t in thresholds
                if t["classes"] == 2 and t["rivals"] == "equal"}
    rows = []
    for k in kernels:
        for d in k.dtypes:
            if (k.name, d) not in measured:
                continue
            why: str | None = None
            try:
                err = exp_error_ulps(k, d)
            except Exception as e:  # noqa: BLE001 - a framework that cannot run exp in this dtype: say so
                err, why = None, f"exp failed: {type(e).__name__}: {e}"
            row = {"kernel": k.name, "dtype": d} | verdict(err, d, measured[(k.name, d)], k.log_space)
            if err is None:
                row["note"] = why or k.exp_note
            rows.append(row)
    return rows
