"""Kernels whose exp is not correctly rounded: the interval [T_lo(k), T_hi(k)] that holds the two-class threshold
of every kernel whose exp is within k ulps.

The model is the two-class max-shifted softmax with every operation rounded to nearest (ties to even) in the
format, except the rival's exponential: the kernel returns some value r of the format with
|r − exp(−g)| ≤ k·ulp(exp(−g)) (Flocq's ulp: 2^max(⌊log2 x⌋ + 1 − p, emin_sub), emin_sub the exponent of the least
subnormal). Nothing else is assumed of the kernel's exp (not monotone, not even deterministic). Then

- for every gap g ≥ T_hi(k) the top output rnd(1 / rnd(1 + r)) is exactly 1, and
- for every gap g ≤ pred(T_lo(k)) (every gap of the format below T_lo) it is below 1,

so any such kernel's threshold (the least gap of the format from which its top output is 1) lies in
[T_lo(k), T_hi(k)]. k = 1/2 (correct rounding) gives T_lo = T_hi = the project's exact threshold. Coq checks both
statements per format (`proofs/coq/KernelExpError.v` and the generated `KernelThresholds.v`), with the ends
computed here. Pure mathematics on exact rationals and mpmath; no kernel is called.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import mpmath

from precision.emulated.thresholds import thresholds
from precision.formats.binary import BinaryFormat
from precision.formats.dtypes import DTYPES
from precision.formats.named_formats import get_format
from precision.formats.number_formats import to_fraction


def flocq_parameters(fmt: str) -> tuple[int, int]:
    """(p, emin) of Flocq's FLT_exp emin p for a binary format: p significand bits, 2^emin the least subnormal."""
    f = get_format(fmt)
    if not isinstance(f, BinaryFormat):
        raise ValueError(f"{fmt} is not a binary floating-point format")
    p = int(f.precision)
    return p, int(f.emin) - p + 1


def normalized(x: Fraction, p: int) -> tuple[int, int]:
    """(m, e) with x = m·2^e and 2^(p−1) ≤ m < 2^p (x > 0 and a value of a p-bit format)."""
    if x <= 0:
        raise ValueError(f"expected a positive value, got {x}")
    e = (x.numerator.bit_length() - x.denominator.bit_length()) - p
    while x / Fraction(2) ** e >= 2 ** p:
        e += 1
    while x / Fraction(2) ** e < 2 ** (p - 1):
        e -= 1
    m = x / Fraction(2) ** e
    if m.denominator != 1:
        raise ValueError(f"{x} has more than {p} significant bits")
    return int(m), e


def predecessor(x: Fraction, p: int, emin: int) -> Fraction:
    """The largest value of the format (p bits, least exponent emin) below x > 0 (x a normal value)."""
    m, e = normalized(x, p)
    if e < emin:
        raise ValueError(f"{x} is subnormal; the threshold files expect normal thresholds")
    return Fraction(m - 1) * Fraction(2) ** e if m > 2 ** (p - 1) else Fraction(2 ** p - 1) * Fraction(2) ** (e - 1)


def successor(x: Fraction, p: int, emin: int) -> Fraction:
    """The smallest value of the format (p bits, least exponent emin) above x > 0 (x a normal value)."""
    m, e = normalized(x, p)
    return Fraction(m + 1) * Fraction(2) ** e


def binade(x: mpmath.mpf) -> int:
    """e with 2^(e−1) ≤ x < 2^e (x > 0): Flocq's mag."""
    _, e = mpmath.frexp(x)
    return int(e)


def ulp(x: mpmath.mpf, p: int, emin: int) -> mpmath.mpf:
    """Flocq's ulp of a positive real in FLT_exp emin p: 2^max(mag(x) − p, emin)."""
    return mpmath.mpf(2) ** max(binade(x) - p, emin)


def top_threshold(fmt: str) -> Fraction:
    """The exact two-class max-shifted threshold with exp correctly rounded (the project's)."""
    return to_fraction(thresholds(fmt, "shifted", classes=2).top_is_one_from_gap)


@dataclass(frozen=True)
class Interval:
    """[lo, hi] for one format and k, with what the Coq proof needs at each end."""

    fmt: str
    k: Fraction
    p: int
    emin: int
    lo: Fraction  # T_lo: every gap of the format below it has top output < 1
    hi: Fraction  # T_hi: every gap ≥ it has top output exactly 1
    exact: Fraction  # the threshold with exp correctly rounded (k = 1/2)


def _exp_neg(g: Fraction) -> mpmath.mpf:
    return mpmath.exp(-mpmath.mpf(g.numerator) / g.denominator)


@functools.cache
def interval(fmt: str, k: Fraction, max_steps: int = 1_000_000) -> Interval:
    """The interval as an `Interval` (see `threshold_interval`)."""
    k = Fraction(k)
    if k < 0:
        raise ValueError(f"k must be a non-negative number of ulps, got {k}")
    T = top_threshold(fmt)
    p, emin = flocq_parameters(fmt)
    with mpmath.workprec(4 * p + 64):
        b = mpmath.mpf(2) ** -p
        succ_b = b + mpmath.mpf(2) ** max(1 - 2 * p, emin)
        kk = mpmath.mpf(k.numerator) / k.denominator

        def surely_one(g):  # every such kernel: r < succ(2^−p), so r ≤ 2^−p (at g, and so at every larger gap)
            x = _exp_neg(g)
            return x + kk * ulp(x, p, emin) < succ_b

        def surely_below(g):  # every such kernel: r > 2^−p, at g and (with `above_binade`) at every smaller gap
            x = _exp_neg(g)
            return x - kk * ulp(x, p, emin) > b and above_binade(x)

        def above_binade(x):  # above exp(−g)'s binade the ulp is at most x·2^(1−p): r ≥ 2^e·(1 − k·2^(1−p)) > b
            e = binade(x)
            return e >= emin + p - 1 and kk * mpmath.mpf(2) ** (1 - p) <= 1 and \
                mpmath.mpf(2) ** e * (1 - kk * mpmath.mpf(2) ** (1 - p)) > b

        hi = T
        for _ in range(max_steps):  # the least gap where surely_one holds (it holds for all larger gaps)
            if surely_one(hi) and not surely_one(predecessor(hi, p, emin)):
                break
            hi = successor(hi, p, emin) if not surely_one(hi) else predecessor(hi, p, emin)
        else:
            raise RuntimeError(f"{fmt}, k = {k}: T_hi not found in {max_steps} steps")
        lo = predecessor(T, p, emin)
        least_normal = Fraction(2) ** (emin + p - 1)
        for _ in range(max_steps):  # the greatest gap where surely_below holds; T_lo is the next one
            if surely_below(lo) and not surely_below(successor(lo, p, emin)):
                break
            if not surely_below(lo) and lo <= least_normal:  # no gap is surely below: the interval starts at 0
                return Interval(fmt, k, p, emin, Fraction(0), hi, T)
            lo = predecessor(lo, p, emin) if not surely_below(lo) else successor(lo, p, emin)
        else:
            raise RuntimeError(f"{fmt}, k = {k}: T_lo not found in {max_steps} steps")
    return Interval(fmt, k, p, emin, successor(lo, p, emin), hi, T)


def threshold_interval(fmt: str, k) -> tuple[Fraction, Fraction]:
    """(T_lo(k), T_hi(k)), exact values of the format: for any kernel whose exp returns values of the format with
    |exp_k(−g) − exp(−g)| ≤ k·ulp(exp(−g)), the two-class max-shifted top output is exactly 1 at every gap ≥ T_hi,
    and below 1 at every gap of the format below T_lo; so the kernel's threshold lies in [T_lo, T_hi].
    k = 1/2 (correctly rounded) gives T_lo = T_hi = the project's threshold."""
    iv = interval(fmt, Fraction(k))
    return iv.lo, iv.hi


# k the Coq development proves the interval for (KernelThresholds.v); k = 1/2 is the correctly rounded case, proved
# per format by the threshold files.
PROVED_K = (Fraction(1, 2), Fraction(1), Fraction(2))
# The IEEE and float8 dtypes. Not FP6/FP4: in FP6 E2M3 and FP4 E2M1, 2 ulps of the least subnormal exceed 2^−p, so
# no gap makes every exp within 2 ulps give a top output of exactly 1 (the interval has no upper end at k = 2).
PROVED_FORMATS = tuple(d for d, t in DTYPES.items() if t.format.overflow != "finite")


def covering_k(ulps: float) -> Fraction:
    """The least k of `PROVED_K` at or above a measured error in ulps; above the largest, the error rounded up to an
    integer (an interval computed here but not proved in Coq)."""
    for k in PROVED_K:
        if ulps <= k:
            return k
    return Fraction(int(mpmath.ceil(ulps)))
