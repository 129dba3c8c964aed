"""Closed forms of the two-class (and top-first, equal-rival) thresholds of a binary format under a rounding mode.

The max-shifted softmax of [g, 0, …, 0] computes e = R(e^−g), the top-first sum s = R(…R(1 + e)…) and the top
output R(1/s); the top output is exactly 1 if and only if s = 1 (1/s < 1 otherwise, and it is at least one step
below 1 away from the spacing below 1), and the sum stays 1 while R(1 + e) = 1 for the rounded e, that is
while e^−g < T for a bound T of the format and mode: the gap threshold is −ln T, whatever the number of rivals.
A rival's output R(e/1) is exactly 0 while e^−g < Z, Z the largest real that rounds to 0. Both bounds are read
off the format's grid by rounding exact rationals (no floating point), e^−g being irrational for every gap g > 0:

- nearest-even: T = the midpoint above 2^−p, about p·ln 2 (the classic bound); Z = σ/2 (σ: the smallest
  subnormal), the tie going to the even 0;
- nearest-away: T = the midpoint below 2^−p (the tie 1 + 2^−p now rounds up to 1 + ε), a little later;
  Z = σ/2;
- toward-zero and toward-negative (the outputs are positive, so both round down): T = ε = 2^(1−p): the sum keeps
  1 until e reaches a whole step of 1 instead of half of it, so the threshold moves from p·ln 2 down to
  (p − 1)·ln 2, ln 2 earlier; Z = σ, ln 2 earlier too;
- toward-positive and round-to-odd: T = Z = 0, never: e^−g > 0 rounds up (to odd) to at least σ, 1 + e to at
  least 1 + ε, and R(1/(1 + ε)) stays below 1; a rival's output never becomes 0.

The exact softmax y = 1/(1 + k·e^−g) rounded once reaches 1 when y passes B, the largest real that does not
round to 1: the midpoint below 1 (nearest modes), the value below 1 (toward-positive); never when rounding down
or to odd (1 is even).
"""
from __future__ import annotations

from fractions import Fraction

import mpmath

from precision.formats.number_formats import Format, mpf_of, to_fraction

_DOWN = ("toward-zero", "toward-negative")


def _neighbours(fmt: Format, v: Fraction) -> tuple[Fraction, Fraction]:
    """The format's values just below and just above its value v ≥ 0 (0 below 0)."""
    i = fmt.index_of(fmt.round(v))
    below = to_fraction(fmt.value_at(i - 1)) if i > 0 else Fraction(0)
    return below, to_fraction(fmt.value_at(i + 1))


def _boundary(fmt: Format, low: Fraction, high: Fraction) -> Fraction | None:
    """The largest real x > low with R(x) = low in the gap (low, high) of neighbouring values; None where none."""
    mode = fmt.rounding
    if mode in ("nearest-even", "nearest-away"):
        return (low + high) / 2
    return high if mode in _DOWN else None


def _gap(bound: Fraction | None) -> float | None:
    """−ln bound: the gap from which e^−gap is below it (None: never)."""
    return None if not bound else float(-mpmath.log(mpf_of(bound)))


def sum_absorbs_bound(fmt: Format) -> Fraction | None:
    """T: R(1 + R(x)) = 1 exactly for the reals 0 < x < T (None: for none)."""
    one = fmt.round(1)
    absorbed = lambda i: fmt.add(one, fmt.value_at(i)) == one  # True at 0, False from some i on (the format's
    #                                        own exact add: an mpBITS value at 2^−2^40 has no Fraction to hold it)
    lo, hi = 0, fmt.index_of(fmt.round(_neighbours(fmt, Fraction(1))[1] - 1))  # from 0 to ε: bisect
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if absorbed(mid) else (lo, mid)
    if lo == 0:
        return None
    return _boundary(fmt, to_fraction(fmt.value_at(lo)), to_fraction(fmt.value_at(hi)))


def mode_closed_forms(fmt: Format, rivals: int) -> dict:
    """The gaps of the module docstring for `rivals` equal rivals: `shifted_sum_absorbs` (top output 1),
    `others_zero` (a rival's output 0) and `exact_rounded_once` (the exact softmax rounded once); None: never."""
    below_one, _ = _neighbours(fmt, Fraction(1))
    b = (below_one + 1) / 2 if fmt.rounding in ("nearest-even", "nearest-away") else (
        below_one if fmt.rounding == "toward-positive" else None)
    # Z = σ·(share of σ's gap that rounds to 0), in logs: σ of an mpBITS format (2^−2^40) has no Fraction
    share = _boundary(fmt, Fraction(0), Fraction(1))
    zero = None if share is None else float(-mpmath.log(fmt.value_at(1)) - mpmath.log(mpf_of(share)))
    return {"rounding": fmt.rounding, "shifted_sum_absorbs": _gap(sum_absorbs_bound(fmt)), "others_zero": zero,
            "exact_rounded_once": None if b is None else float(mpmath.log(mpf_of(rivals * b / (1 - b))))}
