"""`looks_like_probabilities`: whether a batch handed to `watch` holds probabilities or log-probabilities rather than
logits (the per-row engine itself is `precision.logits.rows`)."""
from __future__ import annotations

import numpy as np

__all__ = ["looks_like_probabilities"]


def looks_like_probabilities(x, tolerance: float = 1e-3) -> bool:
    """True when every row lies in [0, 1] and sums to about 1, or is ≤ 0 with a log-sum-exp of about 0:
    probabilities or log-probabilities, not logits."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.size == 0 or np.isnan(a).any() or np.isposinf(a).any():
        return False
    if (a >= 0).all() and (a <= 1).all():
        return bool(np.all(np.abs(a.sum(axis=1) - 1) <= tolerance))
    m = a.max(axis=1, keepdims=True)
    if (a <= 0).all() and np.isfinite(m).all():  # log-probabilities: −inf allowed, not a whole row of it
        lse = m[:, 0] + np.log(np.exp(a - m).sum(axis=1))
        return bool(np.all(np.abs(lse) <= tolerance))
    return False
