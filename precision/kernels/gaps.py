"""From which gap on a per-gap predicate holds, on a dtype's grid of non-negative gaps: every gap of a 16-bit
dtype, a bracket search then a window of consecutive gaps for wider ones.

The log-probability, cross-entropy and attention measurements share it; `precision.kernels.scan` shares its rule
(`exhaustive`, `window_steps`) for the softmax kernels' three transitions at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from precision.formats.search import first_true_index

EXHAUSTIVE_MAX_INDEX = 1 << 16  # dtypes with at most this many non-negative values are scanned whole ...
EXHAUSTIVE_MAX_CELLS = 1 << 27  # ... when that is at most this many values to compute (gaps × row width)
WINDOW_CELLS = 1 << 26  # values computed on each side of a searched onset, within the bounds below:
MIN_WINDOW, MAX_WINDOW = 256, 4096  # ±4096 grid steps for narrow rows, ±523 at a 128,256-token vocabulary


def exhaustive(limit: int, width: int) -> bool:
    """Whether every gap 0..limit of rows `width` values wide is evaluated, rather than searched."""
    return limit <= EXHAUSTIVE_MAX_INDEX and (limit + 1) * width <= EXHAUSTIVE_MAX_CELLS


def window_steps(width: int) -> int:
    """Grid steps on each side of a searched onset that are evaluated one by one, for rows `width` values wide:
    wide rows get a narrower window, so that a threshold at a vocabulary's width costs about a second."""
    return int(min(MAX_WINDOW, max(MIN_WINDOW, WINDOW_CELLS // width)))


@dataclass(frozen=True)
class GapOnset:
    """Grid indices where a predicate starts to hold: first (the first gap) and from_on (from here on, as far as
    evaluated); None where it never holds up to the largest finite gap."""

    first: int | None
    from_on: int | None
    method: str


def onsets(states: Callable[[np.ndarray], tuple[np.ndarray, ...]], limit: int, width: int = 1,
           batch: int = 1 << 14, points: int = 16) -> tuple[list[GapOnset], int]:
    """Where each predicate that `states` computes from one evaluation (grid indices (k,) → a tuple of bools
    (k,), one per predicate) starts to hold among indices 0..limit; and how many gaps were evaluated in all.

    Where `exhaustive(limit, width)`, every index is evaluated once, `batch` at a time, for every predicate;
    otherwise a bracket search per predicate (exact for a monotone one) finds its False→True step and every index
    within ±`window_steps(width)` of it is evaluated, so `first` and `from_on` are exact within that window.
    """
    evaluated = [0]

    def run(idx: np.ndarray) -> np.ndarray:  # (k, predicates)
        evaluated[0] += len(idx)
        return np.concatenate([np.column_stack([np.asarray(s, dtype=bool) for s in states(idx[i:i + batch])])
                               for i in range(0, len(idx), batch)])

    if exhaustive(limit, width):
        s = run(np.arange(limit + 1))
        return [_read(s[:, j], 0, "exhaustive") for j in range(s.shape[1])], evaluated[0]
    window = window_steps(width)
    method = f"search + ±{window}-step window"
    found = []
    for j in range(run(np.array([limit])).shape[1]):
        at = first_true_index(lambda idx: run(np.asarray(idx, dtype=np.int64))[:, j], 0, limit, points)
        if at is None:
            found.append(GapOnset(None, None, method))
            continue
        lo, hi = max(0, at - window), min(limit, at + window)
        found.append(_read(run(np.arange(lo, hi + 1))[:, j], lo, method))
    return found, evaluated[0]


def _read(s: np.ndarray, lo: int, method: str) -> GapOnset:
    hits = np.flatnonzero(s)
    if not len(hits):
        return GapOnset(None, None, method)
    misses = np.flatnonzero(~s)
    from_on: int | None = lo + (int(misses[-1]) + 1 if len(misses) else 0)
    if len(misses) and misses[-1] == len(s) - 1:
        from_on = None  # it fails at the last gap evaluated
    return GapOnset(lo + int(hits[0]), from_on, method)
