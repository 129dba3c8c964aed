"""Confidence measures besides the softmax output, and the gap from which each stops changing.

Each measure is computed from a batch of logit rows in one format's arithmetic, the top class in column 0:
- `softmax_top`: p1 by the max-shifted softmax;
- `log_odds_from_p`: log(p1 / (1 − p1)) from the rounded p1, as people compute it from a probability;
- `log_softmax_log1p`: log p1 = −log1p(Σ_{i≠1} e^(u_i − u1)), the stable form;
- `log_odds_stable`: u1 − log Σ_{i≠1} e^(u_i), by log-sum-exp over the rivals;
- `logit_margin`: u1 − max_{i≠1} u_i.
"""
from __future__ import annotations

import numpy as np

from precision.emulated.algorithms import shifted
from precision.emulated.thresholds import GapScan, search_limit
from precision.formats.arithmetic import Arithmetic
from precision.formats.search import first_true_index


def softmax_top(ar: Arithmetic, u: np.ndarray) -> np.ndarray:
    return shifted(ar, u, "sequential")[:, 0]


def log_odds_from_p(ar: Arithmetic, u: np.ndarray) -> np.ndarray:
    p = softmax_top(ar, u)
    return ar.sub(ar.log(p), ar.log(ar.sub(ar.constant(1), p)))


def _rival_terms(ar: Arithmetic, u: np.ndarray) -> np.ndarray:
    return ar.exp(ar.sub(u[:, 1:], u[:, :1]))


def log_softmax_log1p(ar: Arithmetic, u: np.ndarray) -> np.ndarray:
    s = ar.sum_sequential(_rival_terms(ar, u))
    return ar.sub(ar.constant(0), ar.log1p(s))


def log_odds_stable(ar: Arithmetic, u: np.ndarray) -> np.ndarray:
    r = u[:, 1:]
    m = np.max(r, axis=1)
    lse = ar.add(m, ar.log(ar.sum_sequential(ar.exp(ar.sub(r, m[:, None])))))
    return ar.sub(u[:, 0], lse)


def logit_margin(ar: Arithmetic, u: np.ndarray) -> np.ndarray:
    return ar.sub(u[:, 0], np.max(u[:, 1:], axis=1))


MEASURES = {f.__name__: f for f in (softmax_top, log_odds_from_p, log_softmax_log1p, log_odds_stable, logit_margin)}


def measure_at(scan: GapScan, name: str, idx: np.ndarray) -> np.ndarray:
    """A measure's values at grid indices of the gap (rows built as in `scan`)."""
    return MEASURES[name](scan.io, scan.rows(np.asarray(idx)))


def saturation_gap(fmt, name: str, classes: int = 2, rivals: str = "equal"):
    """The smallest gap from which the measure keeps the value it has at the largest gap (None: it never
    stops changing before the largest gap). All five measures are monotone in the gap."""
    scan = GapScan(fmt, "shifted", classes, rivals)
    limit = search_limit(scan)
    final = measure_at(scan, name, np.array([limit]))[0]
    same = lambda idx: np.array([v == final or (v != v and final != final)
                                 for v in measure_at(scan, name, idx)])
    i = first_true_index(same, 0, limit, 256 if scan.io.vectorized else 2)
    return None if i is None or i == limit else scan.gaps(np.array([i]))[0]
