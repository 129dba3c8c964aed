"""JAX's softmax and log_softmax on the CPU (XLA), in calls of one shape per row width."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from precision.kernels.contract import EmulationModel


@contextmanager
def jax_x64():
    """JAX with 64-bit types for one kernel call (otherwise float64 inputs are silently computed in float32); the
    process's own JAX setting is left as it was."""
    import jax
    with jax.enable_x64(True):
        yield jax


JAX_ROWS = 1024  # rows per jax call, at most (and fewer for wide rows, `JAX_CELLS` logits a call): XLA's CPU
JAX_CELLS = 1 << 22  # backend chooses its code by the size of the call (measured, jax 0.10.2: float32 softmax of
#                     fewer than about 4,096 logits — 10 classes up to 409 rows, 1,000 classes up to 4 — leaves up
#                     to 6.3u / 30u to the others where the top output is exactly 1, larger calls under 2u; bfloat16
#                     log_softmax of 4,096 rows or more runs in float32), so every call of a given row width has
#                     one shape: the larger-call path from 4 classes on


def jax_rows(function: str, x: np.ndarray) -> np.ndarray:
    """`jax.nn.<function>` of the rows of x (B, M) in calls of one fixed number of rows for the width M, the last
    one padded with copies of its last row: a row's result never depends on how many rows came with it (and XLA
    compiles once per width, not once per batch)."""
    if x.size == 0:
        return np.empty(x.shape, dtype=x.dtype)
    rows = max(1, min(JAX_ROWS, JAX_CELLS // x.shape[1]))
    out = []
    with jax_x64() as jax:
        f = getattr(jax.nn, function)
        for i in range(0, len(x), rows):
            part = x[i:i + rows]
            if len(part) < rows:
                part = np.concatenate([part, np.repeat(part[-1:], rows - len(part), axis=0)])
            out.append(np.asarray(f(jax.numpy.asarray(part), axis=-1))[:min(rows, len(x) - i)])
    return np.concatenate(out)


def softmax(x, d, device):
    return jax_rows("softmax", x)


def log_softmax(x, d, device):
    return jax_rows("log_softmax", x)


def exp(x: np.ndarray, dtype: str) -> np.ndarray:
    """jax.numpy.exp in the dtype."""
    with jax_x64() as jax:
        return np.asarray(jax.numpy.exp(jax.numpy.asarray(x)))


def softmax_model(dtype: str) -> EmulationModel:
    if dtype == "float16":  # measured: XLA turns the division into a reciprocal and a product
        return EmulationModel("shifted_reciprocal", None, "pairwise", "exp(x − max) · (1/Σ), every operation in "
                              "float16; XLA's exp is not correctly rounded and its reduction order is its own")
    return EmulationModel("shifted", None, "pairwise", "exp(x − max) / Σ, every operation in the dtype; XLA's "
                          "vectorised exp is not correctly rounded and subnormal results are flushed to zero")


def log_softmax_model(dtype: str) -> EmulationModel:
    return EmulationModel("logsumexp", None, "pairwise", "x − max − log Σ exp(x − max), every operation in the "
                          "dtype (XLA's exp and log are not correctly rounded)")
