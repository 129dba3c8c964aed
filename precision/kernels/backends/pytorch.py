"""PyTorch's softmax, log-softmax, softmax with dtype=float32 and the log1p log-softmax, on CPU or CUDA."""
from __future__ import annotations

import numpy as np

from precision.common.devices import torch_cpu_capability
from precision.emulated.algorithms import Order
from precision.formats.dtypes import DTYPES
from precision.kernels.contract import EmulationModel
from precision.kernels.tensors import from_torch, to_torch

_WIDENED = ("float16", "bfloat16")  # torch computes these in float32 and rounds once


def softmax(x, d, device):
    import torch
    return from_torch(torch.softmax(to_torch(x, d, device), dim=-1), d)


def log_softmax(x, d, device):
    import torch
    return from_torch(torch.log_softmax(to_torch(x, d, device), dim=-1), d)


def float32_then_cast(x, d, device):
    import torch
    t = to_torch(x, d, device)
    return from_torch(torch.softmax(t, dim=-1, dtype=torch.float32).to(t.dtype), d)


def log1p_log_softmax(x, d, device):
    from precision.kernels.accurate import log_softmax as log1p_form
    return from_torch(log1p_form(to_torch(x, d, device), dim=-1), d)


def exp(x: np.ndarray, dtype: str) -> np.ndarray:
    """torch.exp in the dtype, on the CPU."""
    import torch
    d = DTYPES[dtype]
    return from_torch(torch.exp(to_torch(x, d, "cpu")), d)


def _cpu_sum(accumulate: str) -> tuple[Order, str]:
    """The order of torch's vectorised CPU sum in `accumulate` on this process's code path. AVX2: 8 float32 lanes
    added by halving (bit for bit on 16-bit rows), 4 float64 lanes added lane by lane (which rivals add up before
    meeting the top's lane, measured). Other paths: pairwise, the nearest order (bit for bit on AVX512 on the rows
    the tests use)."""
    if torch_cpu_capability() != "AVX2":
        return "pairwise", "the sum vectorised and blocked (pairwise is the nearest order)"
    if accumulate == "float64":
        return "vector4", "the sum in AVX2's 4 float64 lanes, added lane by lane as vec::reduce_all adds them"
    return "vector8", "the sum in AVX2's 8 float32 lanes, as vec::reduce_all adds them"


def softmax_model(dtype: str) -> EmulationModel:
    wide = dtype in _WIDENED
    order, how = _cpu_sum("float32" if wide else dtype)
    return EmulationModel("shifted_reciprocal", "float32" if wide else None, order,
                          ("16-bit input widened to float32, one rounding at the end; " if wide else "")
                          + "exp(x − max) times 1/Σ, " + how)


def log_softmax_model(dtype: str) -> EmulationModel:
    wide = dtype in _WIDENED
    return EmulationModel("logsumexp", "float32" if wide else None, "pairwise",
                          "x − max − log Σ exp(x − max)" + (", in float32, rounded once" if wide else ""))


def upcast_model(dtype: str) -> EmulationModel:
    order, how = _cpu_sum("float32")
    return EmulationModel("shifted_reciprocal", "float32", order,
                          "softmax(x, dtype=float32), then cast to the input dtype: one rounding at the end; " + how)


def log1p_model(dtype: str) -> EmulationModel:
    wide = dtype in _WIDENED
    return EmulationModel("logsumexp_log1p", "float32" if wide else None, "pairwise",
                          "(x − x_top) − log1p(Σ_{i≠top} exp(x_i − x_top))" + (", in float32, rounded once" if wide
                                                                                else ""))
