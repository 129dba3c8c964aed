"""NumPy's softmax as people write it, and SciPy's softmax and log_softmax."""
from __future__ import annotations

import numpy as np

from precision.kernels.contract import EmulationModel


def numpy_softmax(x, d, device):
    with np.errstate(all="ignore"):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def scipy_softmax(x, d, device):
    import scipy.special
    with np.errstate(all="ignore"):
        return scipy.special.softmax(x, axis=1)


def scipy_log_softmax(x, d, device):
    import scipy.special
    with np.errstate(all="ignore"):
        return scipy.special.log_softmax(x, axis=1)


def exp(x: np.ndarray, dtype: str) -> np.ndarray:
    """np.exp in the dtype (SciPy's softmax calls it too)."""
    return np.exp(x)


def softmax_model(dtype: str) -> EmulationModel:
    if dtype in ("float32", "float64"):
        return EmulationModel("shifted", None, "pairwise", "exp(x − max) / Σ, every operation rounded in the "
                              "dtype; NumPy's vectorised exp is faithful, not correctly rounded, and it sums pairwise")
    if dtype == "float16":
        return EmulationModel("shifted", None, "pairwise", "exp(x − max) / Σ in float16, but NumPy's float16 "
                              "sum accumulates in float32 and its exp goes through float32's")
    return EmulationModel("shifted", None, "sequential", "exp(x − max) / Σ, every operation rounded in the "
                          "dtype (ml_dtypes computes each in float32 and rounds once); the sum runs left to right")


def scipy_log_model(dtype: str) -> EmulationModel:
    return EmulationModel("logsumexp", "float32" if dtype == "float16" else None, "pairwise",
                          "tmp = x − max; tmp − log Σ exp(tmp) in NumPy" +
                          (" (float16 sums accumulate in float32)" if dtype == "float16" else ""))
