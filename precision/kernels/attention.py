"""Attention rows that are exactly one-hot: `torch.nn.functional.scaled_dot_product_attention` measured directly.

With the keys and the values both the identity (head dimension = sequence length L) and `scale=1`, the scores of
a query q are q itself, exactly, and the output row is the attention row softmax(q) itself, each probability
rounded once to the dtype. A query (gap, 0, …, 0) puts one key `gap` above L − 1 equal rivals. Each backend torch
offers on the device (`torch.nn.attention.sdpa_kernel`: MATH, FLASH_ATTENTION, EFFICIENT_ATTENTION,
CUDNN_ATTENTION — those that run there) is measured against the unfused reference softmax(QKᵀ·scale)·V computed
by torch in the same dtype: the first score gap whose attention weight on the top key is exactly 1, the gap from
which every other weight is exactly 0, and the gap from which the row is exactly one-hot (both).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from precision.common.errors import InputError
from precision.formats.dtypes import DTYPES, IEEE, NARROW
from precision.kernels.gaps import onsets
from precision.kernels.tensors import torch_dtypes

BACKENDS = ("math", "flash_attention", "efficient_attention", "cudnn_attention")
REFERENCE = "unfused"  # softmax(QKᵀ·scale)·V, three torch operations in the dtype
COMPILED = "compiled"  # torch.compile(scaled_dot_product_attention): the kernel Inductor picks, measured the same way
MEASURED = BACKENDS + (REFERENCE, COMPILED)
ATTENTION_DTYPES = NARROW
QUERIES = 64  # queries per call, always (the last call padded): in bfloat16 the matmuls of the unfused
#              reference flush subnormal weights to 0 or keep them depending on their shape (oneDNN, measured:
#              one query over 16 keys keeps 1e-38, 32 queries flush it), so the shape is fixed


def _torch_dtype(dtype: str):
    if dtype not in IEEE:  # the dtypes torch has (float8 is NumPy's alone)
        raise InputError("dtype", f"expected one of {', '.join(IEEE)}, got {dtype!r}")
    return torch_dtypes()[dtype]


def attention_rows(gaps: np.ndarray, dtype: str, seq_len: int, backend: str = "math",
                   device: str = "cpu", queries: int = QUERIES) -> np.ndarray:
    """Attention rows (B, L) for queries (gap, 0, …, 0), keys = values = the identity, scale 1, as float64 copies
    of the dtype's values; `backend` is one of `BACKENDS`, "unfused" (the reference) or "compiled". Each call to
    torch holds exactly `queries` queries."""
    if backend not in MEASURED:
        raise InputError("backend", f"unknown {backend!r}; expected one of {', '.join(MEASURED)}")
    if seq_len < 2 or int(seq_len) != seq_len:
        raise InputError("seq_len", f"must be an integer ≥ 2, got {seq_len!r}")
    g = np.asarray(gaps, dtype=np.float64).ravel()
    padded = np.zeros(-(-len(g) // queries) * queries)
    padded[:len(g)] = g
    return np.concatenate([_call(padded[i:i + queries], dtype, seq_len, backend, device)
                           for i in range(0, len(padded), queries)])[:len(g)]


def _call(g: np.ndarray, dtype: str, seq_len: int, backend: str, device: str) -> np.ndarray:
    import torch
    import torch.nn.functional as F
    t = _torch_dtype(dtype)
    q = torch.zeros(1, 1, len(g), seq_len, dtype=t, device=device)
    q[0, 0, :, 0] = torch.from_numpy(DTYPES[dtype].cast(g).astype(np.float64)).to(t)  # exact: gaps of the dtype
    eye = torch.eye(seq_len, dtype=t, device=device)[None, None]
    if backend == REFERENCE:
        out = torch.softmax(q @ eye.transpose(-2, -1) * 1.0, dim=-1) @ eye
    elif backend == COMPILED:
        from precision.kernels.backends.compiled import sdpa
        out = sdpa(q, eye, eye)
    else:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        with sdpa_kernel([getattr(SDPBackend, backend.upper())]):
            out = F.scaled_dot_product_attention(q, eye, eye, scale=1.0)
    return out[0, 0].float().double().cpu().numpy() if t != torch.float64 else out[0, 0].cpu().numpy()


def available_backends(dtype: str, device: str = "cpu") -> list[str]:
    """The SDPA backends that run on this device for the dtype (each tried on a small query)."""
    import warnings
    found = []
    for b in BACKENDS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                attention_rows(np.array([1.0]), dtype, 16, b, device)
            found.append(b)
        except (RuntimeError, NotImplementedError):
            continue
    return found


@dataclass(frozen=True)
class AttentionThresholds:
    """Where an attention row becomes exactly one-hot; gaps are score gaps (softmax inputs), values of the dtype."""

    backend: str
    dtype: str
    seq_len: int
    device: str
    method: str
    top_one_from_gap: float | None  # the weight on the top key is exactly 1 (the first gap)
    others_zero_from_gap: float | None  # every other weight is exactly 0 from here on
    one_hot_from_gap: float | None  # both, from here on
    gaps_evaluated: int

    def as_dict(self) -> dict:
        return asdict(self)


def attention_thresholds(backend: str, dtype: str, seq_len: int, device: str = "cpu") -> AttentionThresholds:
    """The measured one-hot thresholds of an SDPA backend (or the unfused reference) at a sequence length."""
    d = DTYPES[dtype]
    _torch_dtype(dtype)
    batch = QUERIES * max(1, (1 << 16) // (QUERIES * seq_len))

    def states(idx):
        a = attention_rows(d.values(np.asarray(idx)).astype(np.float64), dtype, seq_len, backend, device)
        top, others = a[:, 0] == 1.0, (a[:, 1:] == 0.0).all(axis=1)
        return top, others, top & others

    found, evaluated = onsets(states, d.max_index, seq_len * seq_len, batch=batch)
    return AttentionThresholds(backend, dtype, seq_len, device, found[0].method, d.value(found[0].first),
                               d.value(found[1].from_on), d.value(found[2].from_on), evaluated)
