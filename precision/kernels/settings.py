"""The settings language models run with: vocabulary size, temperature, logit soft-capping, z-loss — and where,
under them, a kernel's top output is exactly 1 (a log-softmax's top log-probability exactly 0).

- Temperature T divides the logits, so it divides the gap: the kernel sees fl(gap / T). Saturation starts at the
  smallest raw gap G of the dtype with fl(G / T) ≥ g*, g* the kernel's threshold at that vocabulary.
- Soft-capping z ↦ c·tanh(z / c) (Gemma 2: c = 30 on the final logits, 50 on attention scores) keeps every logit
  in [−c, c], so no gap exceeds 2c — after temperature, 2·fl(c / T). The most saturating row under a cap is the top
  logit at c and every rival at −c (more spread rivals only add to the sum), so a cap prevents a top output of
  exactly 1 for every row if and only if 2·fl(c / T) < g*(M rivals equal): `cap_prevents_top_one`. Where it does
  not, the smallest raw gap that can saturate is 2c·atanh(g*·T / 2c) (the rivals placed symmetrically, where tanh
  is steepest; a real-number figure, `min_raw_gap_under_cap`).
- z-loss: see `Z_LOSS`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from precision.common.errors import InputError
from precision.formats.dtypes import DTYPES
from precision.formats.search import first_true_index
from precision.kernels.registry import get_kernel
from precision.kernels.scan import kernel_thresholds

VOCABULARIES = {  # vocabulary sizes of widely used models (the size of the output layer)
    32000: "Llama 2, Mistral 7B", 50257: "GPT-2", 128256: "Llama 3", 151936: "Qwen2", 256000: "Gemma, Gemma 2",
    262144: "Gemma 3",
}
GEMMA2_CAPS = {"final logits": 30.0, "attention scores": 50.0}

Z_LOSS = ("z-loss (PaLM, Chameleon, OLMo) adds λ·(log Z)² to the loss, Z = Σ e^{z_i}: it pulls log Z toward 0, "
          "so it sets the level of the logits, not their gaps. The softmax is shift-invariant, so the gap from "
          "which the top output is exactly 1 is the same with and without z-loss, and z-loss does not bound the "
          "gap: with log Z ≈ 0 a confident row has its top logit near 0 and its rivals far below. What it does "
          "change: logits stay near 0, where a 16-bit dtype resolves them finely (bfloat16 rounds a logit of 300 "
          "to a multiple of 2, so gaps there move in steps of 2), and a kernel that does not subtract the maximum "
          "does not overflow. To keep rows from saturating, bound the gap (a cap c with 2c below the threshold) "
          "or read log-probabilities in the log1p form (`precision.kernels.accurate.log_softmax`).")


def top_one_gap(kernel: str, dtype: str, vocab: int) -> float | None:
    """The first gap (M − 1 equal rivals) from which the kernel's top output is exactly 1 (log-space: exactly 0):
    `kernel_thresholds(kernel, dtype, vocab).top_is_one_from_gap`."""
    gap = kernel_thresholds(kernel, dtype, vocab, "equal").top_is_one_from_gap
    return None if gap is None else float(gap)  # a value of the dtype: exact as a float


def _div(d, x: float, t: float) -> float:
    """fl(x / t) in the dtype (a float64 quotient rounded once: innocuous double rounding for these formats)."""
    return float(d.cast(np.array([x / t]))[0])


def _divided(d, idx: np.ndarray, t: float, times: float = 1.0) -> np.ndarray:
    """times·fl(v / t) for the dtype's values v at grid indices, as torch forms `logits / temperature`: t held in
    float32 (float64 rows: in float64), the quotient rounded in float32, then into a narrower dtype; NaN where it
    has no value in the dtype (float8 e4m3fn has no infinity)."""
    op = np.float64 if d.name == "float64" else np.float32
    with np.errstate(all="ignore"):
        return times * d.cast(d.values(idx).astype(op) / op(t)).astype(np.float64)


def raw_gap_for(dtype: str, kernel_gap: float, temperature: float = 1.0) -> float:
    """The smallest raw gap G of the dtype with fl(G / T) ≥ kernel_gap: where saturation starts under temperature
    (inf: no gap of the dtype reaches it)."""
    d = DTYPES[dtype]
    # "not below" rather than "at least": a quotient with no value in the dtype (NaN) counts as past the gap
    first = first_true_index(lambda idx: ~(_divided(d, idx, temperature) < kernel_gap), 0, d.max_index)
    return math.inf if first is None else d.value(first)


def largest_safe_cap(dtype: str, kernel_gap: float, temperature: float = 1.0) -> float:
    """The largest cap c of the dtype with 2·fl(c / T) < kernel_gap: every smaller cap prevents saturation (the
    largest finite value stands for a cap too large to matter)."""
    d = DTYPES[dtype]
    first = first_true_index(lambda idx: ~(_divided(d, idx, temperature, 2.0) < kernel_gap), 1, d.max_index - 1)
    return d.value((d.max_index if first is None else first) - 1)


@dataclass(frozen=True)
class Setting:
    """Where saturation starts for one kernel, dtype, vocabulary, temperature and cap."""

    kernel: str
    dtype: str
    vocab: int
    temperature: float
    softcap: float | None
    kernel_gap: float | None  # the gap the kernel must see for its top output to be exactly 1 (log p exactly 0)
    raw_gap: float | None  # without a cap: the raw logit gap from which it is (None: never, or no gap of the dtype)
    max_gap_under_cap: float | None  # 2·fl(c / T): the largest gap the kernel can see under the cap
    cap_prevents_top_one: bool | None  # None without a cap
    min_raw_gap_under_cap: float | None  # 2c·atanh(g*·T / 2c) where the cap does not prevent it (None: it does,
    #                                       or the dtype's tanh reaches ±1 first: no real-number figure)
    largest_safe_cap: float | None  # the largest cap of the dtype that prevents it

    def as_dict(self) -> dict:
        return asdict(self)


def check_setting(temperature: float | None, softcap: float | None, dtype: str | None = None) -> None:
    """A temperature and a soft-cap (None: not set) each a finite number > 0, the cap one the dtype holds (a cap
    that rounds to 0, to inf or to NaN in it is no cap); one clear error otherwise."""
    for name, value in (("temperature", temperature), ("softcap", softcap)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise InputError(name, f"must be a finite number > 0, got {value!r}")
    if softcap is not None and dtype is not None:
        d = DTYPES[dtype]
        with np.errstate(all="ignore"):
            c = float(d.cast(np.array([softcap]))[0])
        if not (c > 0 and math.isfinite(c)):
            raise InputError("softcap", f"{softcap!r} is {c!r} in {dtype}; give a cap {dtype} holds, from "
                             f"{d.value(1)!r} to {float(d.format.max_finite)!r}")


def setting(kernel: str, dtype: str, vocab: int, temperature: float = 1.0, softcap: float | None = None,
            kernel_gap: float | None = None) -> Setting:
    """Where a kernel's top output first reads exactly 1 under a setting; `kernel_gap` skips the measurement
    (`top_one_gap`) when it is already known."""
    check_setting(temperature, softcap, dtype)
    if int(vocab) != vocab or vocab < 2:
        raise InputError("vocab", f"must be an integer ≥ 2, got {vocab!r}")
    k = get_kernel(kernel)
    k.check(dtype)
    g = top_one_gap(kernel, dtype, vocab) if kernel_gap is None else kernel_gap
    d = DTYPES[dtype]
    if g is None:
        return Setting(k.name, dtype, vocab, temperature, softcap, None, None, None, None if softcap is None else True,
                       None, None)
    raw: float | None = raw_gap_for(dtype, g, temperature)
    raw = None if raw == math.inf else raw  # JSON holds no inf: no raw gap of the dtype reaches it
    safe = largest_safe_cap(dtype, g, temperature)
    if softcap is None:
        return Setting(k.name, dtype, vocab, temperature, None, g, raw, None, None, None, safe)
    c = float(d.cast(np.array([softcap]))[0])
    bound = 2 * _div(d, c, temperature)
    prevents = bound < g
    ratio = g * temperature / (2 * c)  # ≥ 1 only where the dtype's tanh rounds to ±1: no real-number figure
    need = None if prevents or ratio >= 1 else 2 * c * math.atanh(ratio)
    return Setting(k.name, dtype, vocab, temperature, c, g, raw, bound, prevents, need, safe)
