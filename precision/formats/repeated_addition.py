"""A sum that adds the same term again and again, in closed form: what makes a long sequential sum of equal terms
(the M − 1 equal rivals of a threshold scan) cost a few array operations per binade instead of one per term.

Between two powers of two a binary format's values are the multiples S·u of one quantum u (from 0 up to
2^(emin+1) too, subnormals included). Adding t ≥ 0 to such a value s = S·u with the exact sum below the binade's
end 2^p·u rounds S + t/u to an integer: for every mode whose rounding of S + t/u depends only on t/u (the
directed modes and ties-away for t ≥ 0; nearest-even away from a tie; round-to-odd when S is odd or t/u an
integer) the result is s + c·u with one increment c, so k additions give s + k·c·u at once, for every k that keeps
each exact sum inside the binade and each result at most the largest finite value. Everything else (a sum that
leaves the binade or overflows, a negative or non-finite term, a tie under nearest-even, an even S under
round-to-odd) takes one ordinary rounded addition; a row whose addition returns the value it started from is at a
fixed point of s ↦ R(s + t) and keeps it for the rest.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from precision.formats.binary import BinaryFormat
from precision.formats.rounding import round_integers

MIN_REPEATS = 8  # a shorter constant tail is added term by term


def constant_tail(cols: np.ndarray) -> int:
    """The first column J from which every row's columns all equal its column J."""
    if cols.shape[1] < 2:
        return 0
    if cols.dtype == object:  # the same object, not only an equal value: cheap, and enough for a scan's rivals
        cols = np.frompyfunc(id, 1, 1)(cols)
    changes = np.flatnonzero(np.any(cols[:, 1:] != cols[:, :-1], axis=0))
    return int(changes[-1]) + 1 if len(changes) else 0


def _closed_form_steps(fmt: BinaryFormat, s: np.ndarray, t: np.ndarray, left: np.ndarray):
    """Per row: how many of the `left` additions of t to s the closed form takes, and the value they give."""
    p = fmt.precision
    with np.errstate(all="ignore"):
        _, e2 = np.frexp(s)
        q = np.where(s > 0, np.maximum(e2 - 1, fmt.emin), fmt.emin) - (p - 1)  # s = S·2^q, S < 2^p
        big_s, v = np.ldexp(s, -q), np.ldexp(t, -q)
        a = np.floor(v)
        frac = v - a
        mode = fmt.rounding
        if mode == "to-odd":
            ok = (frac == 0) | (np.fmod(big_s, 2) == 1)
            c = np.where(frac == 0, a, a + np.fmod(a, 2))
        else:
            ok = frac != 0.5 if mode == "nearest-even" else np.ones(s.shape, dtype=bool)
            c = round_integers(v, mode)
        ok &= np.isfinite(s) & np.isfinite(t) & (s >= 0) & (t >= 0) & (np.ldexp(v, q) == t) & (v < 2.0**52)
        # (t/u exact, and small enough that c is rounded exactly); the step counts in exact integers:
        # every exact sum S + j·c + t/u stays below 2^p (j·c ≤ room), every result (S + j·c)·u ≤ largest finite
        big_s, a, c = (np.where(ok, x, 0).astype(np.int64) for x in (big_s, a, c))
        room = (1 << p) - 1 - big_s - a
        cap = np.minimum(np.ldexp(float(fmt.max_finite), -q), 2.0**62).astype(np.int64) - big_s
        positive = np.maximum(c, 1)
        k = np.where(c > 0, np.minimum(room // positive + 1, cap // positive), left)
        k = np.where(ok & (room >= 0), np.clip(k, 0, left), 0)
        return k, np.ldexp((big_s + k * c).astype(np.float64), q)


def add_repeatedly(fmt: BinaryFormat, s: np.ndarray, t: np.ndarray, count: int,
                   add: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """s ← R(s + t) `count` times per row (float64 carrier values), `add` being the format's rounded addition."""
    s, t = np.array(s, dtype=np.float64), np.asarray(t, dtype=np.float64)
    left = np.full(s.shape, count, dtype=np.int64)
    while True:
        live = np.flatnonzero(left > 0)
        if not len(live):
            return s
        k, jumped = _closed_form_steps(fmt, s[live], t[live], left[live])
        moved = live[k > 0]
        s[moved], left[moved] = jumped[k > 0], left[moved] - k[k > 0]
        step = live[k == 0]
        if len(step):
            new = add(s[step], t[step])
            fixed = (new == s[step]) | (np.isnan(new) & np.isnan(s[step]))
            s[step], left[step] = new, np.where(fixed, 0, left[step] - 1)
