"""Kernels that `torch.compile` generates: softmax and log-softmax as Inductor writes them (on the CPU, C++ with its
own vectorised exp and reductions; on a GPU, Triton), the cross-entropy loss and gradient through them, and
scaled-dot-product attention (`sdpa`, measured by `precision.kernels.attention` as its backend "compiled").

Each (operation, dtype, row width) is compiled once (`dynamic=False`: every call of a width has one shape, the last
call of a batch padded with copies of its last row, so a row's result never depends on its batch), and the
compilation's wall time is kept apart (`compile_seconds`) from the measured calls. Dynamo's recompile limit is
raised, and a hit made an error, for the duration of each call only: a width that would silently fall back to
eager raises instead. `inductor_settings` records what decides the generated code (the vector ISA Inductor picked,
`simdlen`, `fallback_random`, the floating-point contraction flag, the C++ compiler).
"""
from __future__ import annotations

import functools
import time
from contextlib import contextmanager

import numpy as np

from precision.formats.dtypes import DTYPES, IEEE, Dtype
from precision.kernels.contract import EmulationModel, Kernel
from precision.kernels.tensors import from_torch, to_torch

CALL_CELLS = 1 << 22  # logits per compiled call: the rows of one call are fixed per width
MAX_ROWS = 1 << 20  # measured: 2^16-row calls made verify 1.5× slower than 2^20 (per-call copies and guards)
OPERATIONS = ("softmax", "log_softmax")
_COMPILE_SECONDS: dict[tuple[str, str, int, str], float] = {}


def rows_per_call(width: int) -> int:
    """The fixed number of rows of every compiled call for rows `width` logits wide."""
    return max(1, min(MAX_ROWS, CALL_CELLS // width))


@contextmanager
def _dynamo_limits():
    """One graph per (operation, dtype, width) under one code object: more than dynamo's default 8, and never a
    silent fallback to eager (the limit raised and a hit made an error, restored on exit)."""
    import torch._dynamo.config as dynamo
    with dynamo.patch(recompile_limit=4096, cache_size_limit=4096, fail_on_recompile_limit_hit=True,
                      automatic_dynamic_shapes=False):
        yield


@functools.cache
def _compiled(operation: str):
    import torch
    op = getattr(torch, operation)

    def fn(x):
        return op(x, dim=-1)
    fn.__name__ = f"compiled_{operation}"
    return torch.compile(fn, dynamic=False, fullgraph=True)


@functools.cache
def _compiled_sdpa():
    import torch
    import torch.nn.functional as F

    def compiled_sdpa(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, scale=1.0)
    return torch.compile(compiled_sdpa, dynamic=False, fullgraph=True)


def sdpa(q, k, v):
    """`scaled_dot_product_attention(q, k, v, scale=1)` compiled by Inductor, which picks the kernel itself (one
    compile per shape and dtype)."""
    with _dynamo_limits():
        return _compiled_sdpa()(q, k, v)


def compiled_rows(operation: str, x: np.ndarray, d: Dtype, device: str) -> np.ndarray:
    """`torch.<operation>(x, dim=-1)` compiled by Inductor, over the rows of x (B, M) in calls of
    `rows_per_call(M)` rows."""
    if x.size == 0:
        return np.empty(x.shape, dtype=x.dtype)
    f, rows = _compiled(operation), rows_per_call(x.shape[1])
    out = []
    with _dynamo_limits():
        for i in range(0, len(x), rows):
            part = x[i:i + rows]
            n = len(part)
            if n < rows:
                part = np.concatenate([part, np.repeat(part[-1:], rows - n, axis=0)])
            t = to_torch(np.ascontiguousarray(part), d, device)
            key = (operation, d.name, x.shape[1], device)
            if key not in _COMPILE_SECONDS:
                start = time.perf_counter()
                y = f(t)
                _COMPILE_SECONDS[key] = time.perf_counter() - start  # the first call: tracing, codegen, gcc
            else:
                y = f(t)
            out.append(from_torch(y, d)[:n])
    return np.concatenate(out)


def compile_seconds() -> dict[str, float]:
    """Wall seconds of each compilation so far (first call of an operation, dtype, width and device)."""
    return {f"{op} {dtype} M={m} {device}": round(s, 2) for (op, dtype, m, device), s in _COMPILE_SECONDS.items()}


def warm(operation: str, d: Dtype, width: int, device: str = "cpu") -> float:
    """Compile one (operation, dtype, width) now; its compile seconds (kept out of any timing that follows)."""
    compiled_rows(operation, np.zeros((1, width), dtype=d.storage), d, device)
    return _COMPILE_SECONDS[(operation, d.name, width, device)]


def inductor_settings() -> dict[str, str]:
    """What decides the code Inductor generates on this machine."""
    import torch._inductor.config as inductor
    from torch._inductor import cpu_vec_isa
    from torch._inductor.cpp_builder import get_cpp_compiler
    isa = cpu_vec_isa.pick_vec_isa()
    return {"inductor_vec_isa": f"{isa} ({isa.nelements()} float32 lanes)" if isa else "none (scalar C++)",
            "inductor_simdlen": str(inductor.cpp.simdlen),
            "inductor_fallback_random": str(inductor.fallback_random),
            "inductor_fp_contract": str(inductor.cpp.enable_floating_point_contract_flag),
            "inductor_cpp_compiler": str(get_cpp_compiler())}


def torch_compile_softmax(x, d, device):
    return compiled_rows("softmax", x, d, device)


def torch_compile_log_softmax(x, d, device):
    return compiled_rows("log_softmax", x, d, device)


def compiled_model(dtype: str) -> EmulationModel:
    wide = dtype in ("float16", "bfloat16")
    return EmulationModel("shifted", "float32" if wide else None, "pairwise",
                          ("16-bit input loaded as float32, one rounding at the end; " if wide else "")
                          + "Inductor's loops: max, Σ exp(x − max) in vector lanes, then exp(x − max) / Σ recomputed "
                            "(a division, not eager's reciprocal)")


def compiled_log_model(dtype: str) -> EmulationModel:
    wide = dtype in ("float16", "bfloat16")
    return EmulationModel("logsumexp", "float32" if wide else None, "pairwise",
                          "x − max − log Σ exp(x − max) as Inductor fuses it" + (", in float32" if wide else ""))


def cross_entropy_compiled_states(x: np.ndarray, dtype: str, tokens: int = 1,
                                  device: str = "cpu") -> dict[str, np.ndarray]:
    """Per row of logits (target column 0): the compiled loss and gradient (`torch.compile` of the forward and, by
    AOTAutograd, the backward), and whether each is exactly 0 — `log_probabilities.cross_entropy_states` compiled."""
    import torch
    d, f = DTYPES[dtype], _compiled_cross_entropy()
    rows = rows_per_call(x.shape[1])
    parts: list[dict[str, np.ndarray]] = []
    with _dynamo_limits():
        for i in range(0, len(x), rows):
            part, n = x[i:i + rows], len(x[i:i + rows])
            if n < rows:
                part = np.concatenate([part, np.repeat(part[-1:], rows - n, axis=0)])
            t = to_torch(np.ascontiguousarray(part), d, device).requires_grad_(True)
            loss = f(t, torch.zeros(len(part), dtype=torch.long, device=t.device))
            loss.backward(torch.full_like(loss, 1.0 / tokens))
            g = from_torch(t.grad, d).astype(np.float64)[:n]
            value = from_torch(loss.detach(), d).astype(np.float64)[:n]
            parts.append({"loss": value, "loss_zero": value == 0.0, "top_gradient_zero": g[:, 0] == 0.0,
                          "gradient_zero": (g == 0.0).all(axis=1), "nan": np.isnan(value) | np.isnan(g).any(axis=1)})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@functools.cache
def _compiled_cross_entropy():
    import torch
    import torch.nn.functional as F

    def loss(x, target):
        return F.cross_entropy(x, target, reduction="none")
    return torch.compile(loss, dynamic=False, fullgraph=True)


# By name only (the registry's `OPT_IN`), never in the default report: each compile takes seconds.
KERNELS = (
    Kernel("torch-compile", "torch.compile(torch.softmax(x, dim=-1)), Inductor, one compile per dtype and width",
           "torch", "attacks", IEEE, torch_compile_softmax, compiled_model, accelerated=True,
           log_companion="torch-compile-log"),
    Kernel("torch-compile-log", "torch.compile(torch.log_softmax(x, dim=-1)), Inductor (log-probabilities)", "torch",
           "attacks", IEEE, torch_compile_log_softmax, compiled_log_model, log_space=True, accelerated=True))
