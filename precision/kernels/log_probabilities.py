"""Log-probability kernels and the fused cross-entropy, measured where language models meet them.

Three numbers per kernel, dtype and vocabulary size (the top token `gap` above its M − 1 rivals):
- the gap from which the top token's log-probability is exactly 0 (`top_log_zero_from_gap`);
- the gap from which another token's log-probability is exactly −inf (`other_log_inf_from_gap`): never for finite
  logits, since log p_i ≈ −gap stays finite — a log-softmax keeps what a softmax loses;
- the gap from which another token's *probability* — its log-probability exponentiated in the dtype, as a sampler
  or `logprobs.exp()` sees it — is exactly 0 (`other_probability_zero_from_gap`).

For `torch.nn.functional.cross_entropy` (the fused loss, `log_softmax` + `nll_loss`, target = the top token): the
gap from which a row's loss is exactly 0, its gradient with respect to the top logit exactly 0, and its whole
gradient row exactly 0 (the row teaches nothing), with the loss averaged over `tokens` tokens (the 1/N of
`reduction="mean"` scales every gradient and so moves where it underflows).

`log1p_gain` compares `torch.log_softmax` with the log1p form (`precision.kernels.accurate`) against mpmath over
the gaps where torch's top log-probability already reads 0.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import mpmath
import numpy as np

from precision.emulated.thresholds import RivalsName
from precision.formats.dtypes import DTYPES, exactly
from precision.kernels.backends.compiled import cross_entropy_compiled_states
from precision.kernels.gaps import onsets
from precision.kernels.registry import Kernel, get_kernel
from precision.kernels.scan import KernelScan
from precision.kernels.tensors import from_torch, to_torch


# --- log-probability thresholds -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LogThresholds:
    """Where a log-probability kernel's outputs become exact 0s and −infs; gaps are values of the dtype."""

    kernel: str
    dtype: str
    classes: int
    rivals: RivalsName
    method: str
    top_log_zero_from_gap: float | None  # log p_top exactly 0 (the first such gap)
    other_log_inf_from_gap: float | None  # every other log p exactly −inf from here on; None: never
    other_probability_zero_from_gap: float | None  # every other exp(log p) exactly 0 in the dtype from here on
    gaps_evaluated: int

    def as_dict(self) -> dict:
        return asdict(self)


def _exp_in(d, p: np.ndarray) -> np.ndarray:
    """exp of values of the dtype, rounded to the dtype (through float64: what `logp.exp()` gives, to an ulp)."""
    with np.errstate(all="ignore"):
        return d.cast(np.exp(p.astype(np.float64)))


def log_thresholds(kernel: Kernel | str, dtype: str, classes: int = 2, rivals: RivalsName = "equal",
                   device: str = "cpu") -> LogThresholds:
    """The measured log-probability thresholds of a log-space kernel (see the module docstring)."""
    scan = KernelScan(kernel, dtype, classes, rivals, device)
    k, d = scan.kernel, scan.dtype
    if not k.log_space:
        raise ValueError(f"kernel {k.name} returns probabilities; log_thresholds measures log-space kernels")
    step = max(1, (1 << 23) // classes)

    def states(idx):
        p = k(scan.rows(idx), dtype, device)
        others = p[:, 1:]
        # exp and rounding are monotone: every other exp(log p) is 0 iff the largest one's is (a NaN is the max)
        return (exactly(p[:, 0], 0.0), exactly(others, -np.inf).all(axis=1),
                _exp_in(d, others.max(axis=1)) == 0)

    found, evaluated = onsets(states, d.max_index, classes, batch=step)
    return LogThresholds(k.name, dtype, classes, scan.rivals_name, found[0].method, d.value(found[0].first),
                         d.value(found[1].from_on), d.value(found[2].from_on), evaluated)


# --- the fused cross-entropy --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CrossEntropyThresholds:
    """Where `torch.nn.functional.cross_entropy` (target = the top token) stops teaching; gaps in the dtype."""

    dtype: str
    classes: int
    rivals: RivalsName
    tokens: int  # the loss is averaged over this many tokens: each gradient is scaled by 1/tokens
    device: str
    method: str
    loss_zero_from_gap: float | None  # the row's loss is exactly 0 (first gap)
    top_gradient_zero_from_gap: float | None  # ∂loss/∂z_top is exactly 0 (first gap)
    gradient_zero_from_gap: float | None  # every ∂loss/∂z_i of the row is exactly 0 from here on
    nan_from_gap: float | None
    gaps_evaluated: int

    def as_dict(self) -> dict:
        return asdict(self)


def cross_entropy_states(x: np.ndarray, dtype: str, tokens: int = 1, device: str = "cpu") -> dict[str, np.ndarray]:
    """Per row of logits x (storage of the dtype), target column 0: the loss, and whether it, the top gradient and
    the whole gradient row are exactly 0, and whether anything is NaN."""
    import torch
    import torch.nn.functional as F
    d = DTYPES[dtype]
    t = to_torch(np.ascontiguousarray(x, dtype=d.storage), d, device).requires_grad_(True)
    loss = F.cross_entropy(t, torch.zeros(len(x), dtype=torch.long, device=t.device), reduction="none")
    loss.backward(torch.full_like(loss, 1.0 / tokens))
    g = from_torch(t.grad, d).astype(np.float64)
    value = from_torch(loss.detach(), d).astype(np.float64)
    return {"loss": value, "loss_zero": value == 0.0, "top_gradient_zero": g[:, 0] == 0.0,
            "gradient_zero": (g == 0.0).all(axis=1), "nan": np.isnan(value) | np.isnan(g).any(axis=1)}


def cross_entropy_thresholds(dtype: str, classes: int = 2, rivals: RivalsName = "equal", tokens: int = 1,
                             device: str = "cpu", compiled: bool = False) -> CrossEntropyThresholds:
    """The measured thresholds of torch's fused cross-entropy (`compiled`: under `torch.compile`, forward and
    backward): loss exactly 0, top gradient 0, row gradient 0."""
    measure = cross_entropy_compiled_states if compiled else cross_entropy_states
    scan = KernelScan("torch-log", dtype, classes, rivals, device)
    d = scan.dtype
    step = max(1, (1 << 22) // classes)
    keys = ("loss_zero", "top_gradient_zero", "gradient_zero", "nan")

    def states(idx):
        s = measure(scan.rows(idx), dtype, tokens, device)
        return tuple(s[key] for key in keys)

    found, evaluated = onsets(states, d.max_index, classes, batch=step)
    loss, top, row, nan = found
    return CrossEntropyThresholds(dtype, classes, scan.rivals_name, tokens, device, loss.method,
                                  d.value(loss.first), d.value(top.first), d.value(row.from_on), d.value(nan.first),
                                  evaluated)


# --- what the log1p form gains ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Log1pGain:
    """torch.log_softmax against the log1p form, top log-probability, all rivals equal, against mpmath."""

    dtype: str
    classes: int
    torch_top_log_zero_from_gap: float | None
    log1p_top_log_zero_from_gap: float | None
    gaps_compared: int  # gaps in [torch's threshold, log1p's) compared with the exact value
    torch_ulps: tuple[int, int]  # (min, max) distance of torch's top log-probability from the exact one there
    log1p_max_ulps: int  # largest distance of the log1p form's from the exact one there

    def as_dict(self) -> dict:
        return asdict(self)


def exact_top_log_probability(gap, classes: int) -> mpmath.mpf:
    """log p_top = −log1p((M − 1)·e^−gap) for a top logit `gap` above M − 1 equal rivals (mpmath, 200 bits)."""
    with mpmath.workprec(200):
        return -mpmath.log1p((classes - 1) * mpmath.exp(-mpmath.mpf(float(gap))))


def ulps(d, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Grid steps of the dtype between non-positive values a and b (bit patterns of their magnitudes)."""
    return np.abs(d.index(np.abs(np.asarray(a, dtype=d.storage))) - d.index(np.abs(np.asarray(b, dtype=d.storage))))


def log1p_gain(dtype: str, classes: int = 2, samples: int = 512) -> Log1pGain:
    """Both kernels' top log-probabilities against mpmath at the gaps where torch's reads 0 and log1p's does not
    (every such gap for 16-bit dtypes, `samples` evenly spaced grid indices for wider ones)."""
    d = DTYPES[dtype]
    torch_at = log_thresholds("torch-log", dtype, classes).top_log_zero_from_gap
    ours_at = log_thresholds("torch-log1p", dtype, classes).top_log_zero_from_gap
    if torch_at is None:
        return Log1pGain(dtype, classes, None, ours_at, 0, (0, 0), 0)
    lo = int(d.index(np.array([torch_at]))[0])
    hi = int(d.index(np.array([ours_at]))[0]) if ours_at is not None else d.max_index + 1
    idx = np.arange(lo, hi) if hi - lo <= 1 << 16 else np.unique(np.linspace(lo, hi - 1, samples).astype(np.int64))
    scan = KernelScan("torch-log", dtype, classes, "equal")
    x = scan.rows(idx)
    theirs = get_kernel("torch-log")(x, dtype)[:, 0]
    ours = get_kernel("torch-log1p")(x, dtype)[:, 0]
    exact = np.array([float(d.format.round(exact_top_log_probability(g, classes))) for g in d.values(idx)])
    exact = d.cast(exact)
    t, o = ulps(d, theirs, exact), ulps(d, ours, exact)
    return Log1pGain(dtype, classes, torch_at, ours_at, len(idx), (int(t.min()), int(t.max())), int(o.max()))
