"""The one bracket search over grid indices, and the run finder, that every threshold in the package uses.

A predicate over grid indices of a gap is False below a threshold and True from it on (for the monotone softmax
algorithms and kernels); `first_true` finds that threshold for many rows at once, probing `points` indices per
row and round. Indices are int64 or, for formats whose grid exceeds 2^62 values, Python ints in object arrays:
the arithmetic below is exact in both.
"""
from __future__ import annotations

import numpy as np

SEARCH_POINTS = 256


def _probe_points(lo: np.ndarray, hi: np.ndarray, points: int) -> np.ndarray:
    """`points` indices per row spread over (lo, hi), computed exactly (no overflow: span·j is never formed)."""
    span = hi - lo
    j = np.arange(1, points + 1)
    q, r = span // (points + 1), span % (points + 1)
    pts = lo[:, None] + q[:, None] * j + (r[:, None] * j) // (points + 1)
    return np.minimum(np.maximum(pts, (lo + 1)[:, None]), (hi - 1)[:, None])


def first_true(pred, lo, hi, points: int = SEARCH_POINTS) -> np.ndarray:
    """Per row, the smallest index in (lo, hi] where `pred` holds, given it fails at lo and holds at hi.

    `pred` maps an array of indices of shape (rows, k) to booleans of that shape; `lo` may be one below the
    range (a virtual False). Exact for monotone predicates; otherwise the result is *a* False→True step.
    """
    lo, hi = np.array(lo), np.array(hi)
    while True:
        live = np.nonzero(hi - lo > 1)[0]
        if not len(live):
            return hi
        n = int(min(points, max(hi[live] - lo[live]) - 1))
        pts = _probe_points(lo[live], hi[live], n)
        ok = np.asarray(pred(pts, live), dtype=bool)
        new_lo = np.where(~ok, pts, lo[live][:, None]).max(axis=1)
        above = ok & (pts > new_lo[:, None])
        lo[live] = new_lo
        hi[live] = np.where(above, pts, hi[live][:, None]).min(axis=1)


def first_true_index(pred, lo: int, hi: int, points: int = SEARCH_POINTS) -> int | None:
    """The smallest index in [lo, hi] where `pred` (indices (k,) → bools) holds; None if it fails at hi."""
    kind = object if hi >= 1 << 62 else np.int64
    if not pred(np.array([hi], dtype=kind))[0]:
        return None
    found = first_true(lambda pts, _rows: pred(pts[0])[None, :], np.array([lo - 1], dtype=kind),
                       np.array([hi], dtype=kind), points)
    return int(found[0])


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Index runs [start, end] where mask is True."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]
