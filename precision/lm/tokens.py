"""Per generated token, per dtype and kernel: what the softmax of its logits row says exactly.

One row of logits produced one token (the *chosen* token: the sampler's pick, or the next token of a text). For
every (dtype, kernel) the row is run through the kernel, as `precision.logits.rows.saturation_of` does (the one
per-row engine: top output exactly 1, log-probability exactly 0, NaN and overflow flags, distance past the row's
own threshold from the kernel's model), and the chosen token's output is read:
- `chosen_zero`: its probability, as a sampler sees it, is exactly 0 — the kernel's output for a softmax, its
  log-probability exponentiated in the dtype for a log-softmax (`logp.exp()`);
- `chosen_log_inf`: its log-probability is exactly −inf (a softmax: its probability is 0, so log p is −inf);
- `chosen_log_prob`: that log-probability as float64 (a softmax's output logged in float64).
Beside them, per token and independent of dtype and kernel: the chosen token's rank among the logits (0: the top
token; ties share the better rank) and its float64 log-probability (a float64 log-sum-exp of the row).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from precision.formats.dtypes import exactly
from precision.kernels.registry import Kernel, get_kernel
from precision.logits.rows import check_rows, saturation_of

LM_KERNELS = ("torch", "torch-log", "torch-log1p")  # the softmax, torch's log-softmax, the log1p log-softmax
DISTANCE_KERNELS = ("torch", "torch-log")  # distances bisected by default (torch-log1p's: ~60 ms a token, its model's
#                                             threshold not its own)
NO_TOKEN = -1  # the chosen token of a row whose next token is unknown (the last position of a plain forward)
FLAGS = ("top_is_one", "log_prob_zero", "chosen_zero", "chosen_log_inf", "nan", "overflow", "nonfinite_output")


@dataclass(frozen=True)
class TokenSaturation:
    """One (dtype, kernel) over N tokens: the flags of the module docstring (False where the chosen token is
    unknown or the row is flagged), `past_threshold` (NaN where not measured) and `chosen_log_prob`."""

    dtype: str
    kernel: str
    top_is_one: np.ndarray
    log_prob_zero: np.ndarray
    chosen_zero: np.ndarray
    chosen_log_inf: np.ndarray
    nan: np.ndarray
    overflow: np.ndarray
    nonfinite_output: np.ndarray
    past_threshold: np.ndarray
    chosen_log_prob: np.ndarray

    @property
    def key(self) -> str:
        return f"{self.dtype}/{self.kernel}"


def chosen_outputs(x: np.ndarray, chosen: np.ndarray, dtype: str, kernel: Kernel, device: str = "cpu"
                   ) -> np.ndarray:
    """The kernel's output (storage of the dtype) at each row's chosen token (rows with none: the top token)."""
    d = kernel.check(dtype, device)
    p = kernel(d.cast(x), dtype, device)
    column = np.where(chosen >= 0, chosen, np.argmax(x, axis=1))
    return p[np.arange(len(x)), column]


def token_saturation(rows, chosen, dtypes=("float32", "bfloat16"), kernels=LM_KERNELS, device: str = "cpu",
                     exact_for: tuple[str, ...] | None = None) -> list[TokenSaturation]:
    """Per (dtype, kernel), kernels outer: the saturation of every row of `rows` (N, V) and of its `chosen`
    token (N integers; NO_TOKEN: unknown) — see the module docstring. `exact_for`: None, every distance from the
    kernel's model (one log-sum-exp a row; torch-log1p's model threshold is torch's, not its own); else the kernels
    whose distance is bisected on the kernel (`exact_distance`), the others' left NaN (not measured)."""
    x = check_rows(rows)
    chosen = np.asarray(chosen, dtype=np.int64)
    if chosen.shape != (len(x),) or ((chosen < NO_TOKEN) | (chosen >= x.shape[1])).any():
        raise ValueError(f"chosen: expected {len(x)} token ids in [0, {x.shape[1]}) or {NO_TOKEN}")
    known = chosen >= 0
    out = []
    for k in (get_kernel(k) for k in kernels):
        exact = exact_for is not None and k.name in exact_for
        for dtype, s in saturation_of(x, dtypes, k, device, exact).items():
            measured = ~(s.nan | s.overflow | s.nonfinite_output)
            at = chosen_outputs(np.where(s.nan[:, None], 0.0, x), chosen, dtype, k, device)
            wide = at.astype(np.float64)
            with np.errstate(all="ignore"):
                log_p = wide if k.log_space else np.log(wide)
                sampler = k.check(dtype).cast(np.exp(wide)) if k.log_space else at
            ok = known & measured
            out.append(TokenSaturation(dtype, k.name, s.top_is_one, s.log_prob_zero, exactly(sampler, 0.0) & ok,
                                       np.isneginf(log_p) & ok, s.nan, s.overflow, s.nonfinite_output,
                                       s.past_threshold if exact_for is None or exact else np.full(len(x), np.nan),
                                       np.where(ok, log_p, np.nan)))
    return out


def chosen_rank_and_log_prob(rows, chosen) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the chosen token's rank (logits strictly above it; NO_TOKEN where unknown) and its float64
    log-probability (NaN where unknown)."""
    x = check_rows(rows)
    chosen = np.asarray(chosen, dtype=np.int64)
    known = chosen >= 0
    r = np.arange(len(x))
    value = x[r, np.where(known, chosen, 0)]
    rank = np.where(known, (x > value[:, None]).sum(axis=1), NO_TOKEN)
    top = x.max(axis=1)
    with np.errstate(all="ignore"):
        lse = top + np.log(np.exp(x - top[:, None]).sum(axis=1))
    return rank, np.where(known, value - lse, np.nan)
