"""The trainer-versus-sampler comparison: the same tokens scored by two setups, token by token, exactly.

A *setup* is a logits dump (`precision.logits.shards`: files, globs, folders of shards) read through a kernel in a
dtype: (a) one dump through two (kernel, dtype) pairs, or (b) two dumps of the same shape (a bfloat16 run against a
float32 one, or any two files), each through its pair. Setup A is the *trainer*, B the *sampler*; every row's
chosen token (given, or the top token of A's logits) gets log p_A and log p_B — a log-softmax's output, a softmax's
output logged in float64 — and
- r = log p_A − log p_B, the log of the importance ratio ρ = p_A / p_B a policy-gradient step multiplies by: its
  distribution (fixed bins that merge exactly), and the share outside each clip band [1 − ε, 1 + ε];
- the tokens whose log p is exactly 0, or exactly −inf, under one setup and not the other (r infinite where one is
  −inf: counted apart, out of the sums);
- the KL estimates of KL(sampler ‖ trainer) from the sampled tokens (Schulman's): k1 = −r, k2 = r²/2,
  k3 = (ρ − 1) − r, as means over the tokens of finite r;
- the worst tokens (largest |r|, the row's index breaking ties), and the first tokens whose log p is exactly 0 or
  −inf under one setup only, with their context where the tokens file has it.
Dumps are streamed chunk by chunk (memory bounded by a chunk of each); the work is cut into row ranges (`tasks`),
each summarised alone and merged in task order — on one process or on a Dask cluster, the same numbers.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from precision.common.errors import InputError
from precision.formats.dtypes import exactly
from precision.kernels.registry import Kernel, get_kernel
from precision.logits.shards import Shard, chunk_rows

LOW_DECADE, BINS_PER_DECADE, DECADES = -12, 4, 16  # |r| histogram: [1e-12, 1e4) in quarter decades
WORST = 20


@dataclass(frozen=True)
class Setup:
    """A dump read through a kernel in a dtype."""

    shards: tuple[Shard, ...]
    kernel: Kernel
    dtype: str

    def describe(self) -> dict:
        return {"shards": [s.path for s in self.shards], "kernel": self.kernel.name, "dtype": self.dtype,
                "stored_dtype": sorted({s.dtype for s in self.shards})}


def log_probabilities(block: np.ndarray, columns: np.ndarray, kernel: Kernel, dtype: str) -> np.ndarray:
    """Each row's log-probability of its column, in float64 (a softmax's probability logged), computed by
    `kernel` in `dtype` on the row's logits (storage of any dtype: rounded to `dtype` first)."""
    d = kernel.check(dtype)
    x = block if block.dtype == d.storage else block.astype(d.storage)  # one rounding (exact when widening)
    out = kernel(x, dtype)[np.arange(len(block)), columns].astype(np.float64)
    with np.errstate(all="ignore"):
        return out if kernel.log_space else np.log(out)


def magnitude_bins(r: np.ndarray) -> np.ndarray:
    """Histogram bin of finite log-ratios: 0 for r = 0; ±(1 + b) for |r| in quarter decade b of
    [10^LOW_DECADE, 10^(LOW_DECADE + DECADES)) (clipped to the ends)."""
    mag = np.abs(r)
    with np.errstate(all="ignore"):
        b = np.floor((np.log10(np.where(mag > 0, mag, 1.0)) - LOW_DECADE) * BINS_PER_DECADE)
    b = np.clip(b, 0, DECADES * BINS_PER_DECADE - 1).astype(np.int64) + 1
    return np.where(mag == 0, 0, np.sign(r).astype(np.int64) * b)


SIZE = 2 * DECADES * BINS_PER_DECADE + 1  # bins −N … N stored at index bin + N


@dataclass
class Comparison:
    """What a range of tokens says (see the module docstring); `merge` adds another range's, in order."""

    epsilons: tuple[float, ...]
    tokens: int = 0
    finite: int = 0
    equal: int = 0  # r exactly 0
    a_inf_only: int = 0  # log p_A = −inf, log p_B not
    b_inf_only: int = 0
    both_inf: int = 0
    a_zero_only: int = 0  # log p_A exactly 0, log p_B not
    b_zero_only: int = 0
    both_zero: int = 0
    nan: int = 0  # a setup returned NaN for the token
    outside: list[int] = field(default_factory=list)  # per ε: ρ outside [1 − ε, 1 + ε] (infinite r included)
    sums: dict[str, float] = field(default_factory=lambda: {"r": 0.0, "abs_r": 0.0, "k1": 0.0, "k2": 0.0, "k3": 0.0})
    max_abs_r: float = 0.0
    histogram: np.ndarray = field(default_factory=lambda: np.zeros(SIZE, dtype=np.int64))
    worst: list[tuple[float, int, float, float, int]] = field(default_factory=list)  # (|r|, −row, lpA, lpB, token)
    disagreements: list[tuple[int, int, float, float]] = field(default_factory=list)  # (row, token, lpA, lpB): the
    #                                       first WORST rows whose log p is exactly 0 or −inf under one setup only

    @classmethod
    def of(cls, first_row: int, log_a: np.ndarray, log_b: np.ndarray, chosen: np.ndarray,
           epsilons: tuple[float, ...]) -> "Comparison":
        a_inf, b_inf = np.isneginf(log_a), np.isneginf(log_b)
        a_zero, b_zero = exactly(log_a, 0.0), exactly(log_b, 0.0)
        nan = np.isnan(log_a) | np.isnan(log_b)
        with np.errstate(all="ignore"):
            r = log_a - log_b
        fin = np.isfinite(r)
        rf = r[fin]
        out = cls(epsilons, len(r), int(fin.sum()), int((rf == 0).sum()), int((a_inf & ~b_inf).sum()),
                  int((b_inf & ~a_inf).sum()), int((a_inf & b_inf).sum()), int((a_zero & ~b_zero).sum()),
                  int((b_zero & ~a_zero).sum()), int((a_zero & b_zero).sum()), int(nan.sum()))
        infinite = int((~fin & ~(a_inf & b_inf) & ~nan).sum())
        out.outside = [int(((rf < np.log1p(-e)) | (rf > np.log1p(e))).sum()) + infinite for e in epsilons]
        ratio = np.exp(rf)
        out.sums = {"r": float(rf.sum()), "abs_r": float(np.abs(rf).sum()), "k1": float(-rf.sum()),
                    "k2": float((rf * rf / 2).sum()), "k3": float((ratio - 1 - rf).sum())}
        out.max_abs_r = float(np.abs(rf).max()) if len(rf) else 0.0
        out.histogram = np.bincount(magnitude_bins(rf) + SIZE // 2, minlength=SIZE).astype(np.int64)
        mag = np.where(fin, np.abs(np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0)), np.inf)
        mag[(a_inf & b_inf) | nan] = 0.0  # both −inf: they agree; NaN: counted apart
        top = np.argsort(-mag, kind="stable")[:WORST]
        out.worst = [(float(mag[i]), -(first_row + int(i)), float(log_a[i]), float(log_b[i]), int(chosen[i]))
                     for i in top]
        odd = np.flatnonzero((a_zero != b_zero) | (a_inf != b_inf))[:WORST]
        out.disagreements = [(first_row + int(i), int(chosen[i]), float(log_a[i]), float(log_b[i])) for i in odd]
        return out

    def merge(self, other: "Comparison") -> "Comparison":
        """These tokens and the other's (sums added in this order: merging the same ranges in the same order gives
        the same floats)."""
        out = Comparison(self.epsilons)
        for name in ("tokens", "finite", "equal", "a_inf_only", "b_inf_only", "both_inf", "a_zero_only",
                     "b_zero_only", "both_zero", "nan"):
            setattr(out, name, getattr(self, name) + getattr(other, name))
        out.outside = [a + b for a, b in zip(self.outside, other.outside)] if self.tokens else list(other.outside)
        out.sums = {k: self.sums[k] + other.sums[k] for k in self.sums}
        out.max_abs_r = max(self.max_abs_r, other.max_abs_r)
        out.histogram = self.histogram + other.histogram
        out.worst = heapq.nlargest(WORST, self.worst + other.worst)
        out.disagreements = sorted(self.disagreements + other.disagreements)[:WORST]
        return out


@dataclass(frozen=True)
class Task:
    """Rows [start, stop) of the dumps' shard `index` (the same rows in both)."""

    index: int
    start: int
    stop: int


def plan_tasks(a: Setup, b: Setup, tasks_per_shard: int = 1) -> list[Task]:
    """Row ranges covering every shard, `tasks_per_shard` each (fewer for small shards); refuses dumps of other
    shapes."""
    if len(a.shards) != len(b.shards) or any((x.rows, x.classes) != (y.rows, y.classes)
                                              for x, y in zip(a.shards, b.shards)):
        shape = lambda s: [(x.rows, x.classes) for x in s.shards]
        raise InputError("logits", f"the two dumps differ in shape: {shape(a)} against {shape(b)}")
    out = []
    for i, s in enumerate(a.shards):
        step = -(-s.rows // max(1, min(tasks_per_shard, s.rows)))
        out += [Task(i, start, min(s.rows, start + step)) for start in range(0, s.rows, step)]
    return out


def run_task(task: Task, a: Setup, b: Setup, chosen: np.ndarray | None, epsilons: tuple[float, ...],
             first_row: int) -> Comparison:
    """One row range, chunk by chunk; `chosen` covers the task's rows (None: A's top token); `first_row`: the
    task's first row among all tokens."""
    sa, sb = a.shards[task.index], b.shards[task.index]
    sa.check_unchanged()
    if sb is not sa:
        sb.check_unchanged()
    step = chunk_rows(sa.classes)
    total: Comparison | None = None
    for start in range(task.start, task.stop, step):
        n = min(step, task.stop - start)
        xa = sa.read(start, n)
        xb = xa if sb is sa else sb.read(start, n)
        at = chosen[start - task.start:start - task.start + n] if chosen is not None else np.argmax(
            xa.astype(np.float32), axis=1)
        part = Comparison.of(first_row + start - task.start, log_probabilities(xa, at, a.kernel, a.dtype),
                             log_probabilities(xb, at, b.kernel, b.dtype), at, epsilons)
        total = part if total is None else total.merge(part)
    assert total is not None
    return total


def setup(shards: list[Shard], kernel, dtype: str) -> Setup:
    """A setup, its kernel found and its dtype checked; npy and safetensors shards only (read by row range)."""
    k = get_kernel(kernel)
    k.check(dtype)
    other = [s.path for s in shards if s.kind not in ("npy", "safetensors")]
    if other:
        raise InputError("logits", f"compare reads .npy and .safetensors dumps by row range; {other[0]} is not one")
    return Setup(tuple(shards), k, dtype)
