"""Stochastic rounding, exactly: the probability that the max-shifted softmax's top output is exactly 1, and its
expected value, by enumerating the two rounding outcomes of every operation.

Stochastic rounding sends a real x between neighbouring values lo < x < hi to hi with probability
(x − lo)/(hi − lo), to lo otherwise, independently at every operation (exact results are kept). For the logits
[g, 0, …, 0] (M − 1 equal rivals, summed top first): e^(0) = 1 is exact, each rival's e_i = SR(e^−g) is drawn
independently, the running sum s ← SR(s + e_i) is a distribution over a few values, and the top output SR(1/s)
is 1 with probability 1 when s = 1, (1/s − b)/(1 − b) when 1/s lies above b, the value below 1, and 0 otherwise.
Its expectation is E[1/s] (stochastic rounding is unbiased where nothing overflows).

Every probability is an exact rational except those of the rounding of e^−g, which is irrational: its position
between its two neighbours is computed from e^−g at `EXP_BITS` bits (an error below 2^−(EXP_BITS − p − 2) in
each such probability). Under stochastic rounding the top output is never 1 with certainty at a finite gap:
e^−g > 0 rounds up to the smallest subnormal with a positive probability.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import TypeAlias

import mpmath
import numpy as np

from precision.common.errors import InputError
from precision.formats.binary import BinaryFormat
from precision.formats.named_formats import get_format
from precision.formats.number_formats import to_fraction

EXP_BITS = 160  # bits of e^−g behind its rounding probability


def binary_format(fmt: BinaryFormat | str) -> BinaryFormat:
    """The binary format (without a rounding mode of its own) that stochastic rounding rounds onto."""
    f = get_format(fmt)
    if not isinstance(f, BinaryFormat) or f.rounding != "nearest-even":
        raise InputError("format", f"stochastic rounding needs a binary format's name, got {f}")
    return f


@dataclass(frozen=True)
class Stochastic:
    """A binary format's stochastic rounding: the two neighbours of a real and their probabilities."""

    fmt: BinaryFormat

    @cached_property
    def _largest(self) -> Fraction:
        return to_fraction(self.fmt.max_finite)

    @cached_property
    def reach(self) -> Fraction:
        """`curve_reach` of the format."""
        return curve_reach(self.fmt)

    @cached_property
    def below_one(self) -> Fraction:
        """The format's value just below 1."""
        return to_fraction(self.fmt.value_at(self.fmt.index_of(self.fmt.round(1)) - 1))

    def _split(self, num: int, den: int) -> tuple[int, int, int, int]:
        """x = num/den > 0 as (n + rem/scale)·2^q, 2^q the quantum of x's binade (0 ≤ rem < scale): x lies
        between the neighbours n·2^q and (n + 1)·2^q (on n·2^q where rem = 0); refused past the largest value."""
        e = num.bit_length() - den.bit_length()  # 2^e ≤ x < 2^(e+1) once corrected
        if (num << max(0, -e)) < (den << max(0, e)):
            e -= 1
        q = max(e, self.fmt.emin) - (self.fmt.precision - 1)
        scale = den << q if q >= 0 else den
        n, rem = divmod(num if q >= 0 else num << -q, scale)
        top = self._largest
        if rem and ((n + 1) << max(q, 0)) * top.denominator > top.numerator << max(-q, 0):
            raise ArithmeticError(f"{num}/{den} overflows {self.fmt.name}")  # up would mean ∞
        return n, q, rem, scale

    def outcomes(self, x: Fraction) -> list[tuple[Fraction, Fraction]]:
        """[(value, probability)] of SR(x) for a real x ≥ 0 (one outcome where x is a value of the format)."""
        if x == 0:
            return [(x, Fraction(1))]
        n, q, rem, scale = self._split(x.numerator, x.denominator)
        if rem == 0:
            return [(x, Fraction(1))]
        step = Fraction(1 << q) if q >= 0 else Fraction(1, 1 << -q)
        up = Fraction(rem, scale)
        return [(n * step, 1 - up), ((n + 1) * step, up)]

    def dyadic_outcomes(self, x: Dyadic) -> list[tuple[Dyadic, Dyadic]]:
        """`outcomes` of a dyadic x = m/2^k, in dyadics: values in lowest terms, probabilities as they come."""
        m, k = x
        if m == 0:
            return [((0, 0), (1, 0))]
        n, q, rem, scale = self._split(m, 1 << k)
        if rem == 0:
            return [(_lowest(m, k), (1, 0))]
        j = scale.bit_length() - 1  # scale = 2^j: x's denominator is a power of two
        return [(_lowest(n, -q), (scale - rem, j)), (_lowest(n + 1, -q), (rem, j))]


Dyadic: TypeAlias = tuple[int, int]  # (m, k): the dyadic rational m/2^k, k ≥ 0 or a value in lowest terms


def _lowest(m: int, k: int) -> Dyadic:
    """m/2^k (k of any sign) as (m', k') in lowest terms, k' ≥ 0."""
    if k <= 0:
        return m << -k, 0
    zeros = min((m & -m).bit_length() - 1, k) if m else k
    return m >> zeros, k - zeros


def _add(a: Dyadic, b: Dyadic) -> Dyadic:
    k = max(a[1], b[1])
    return (a[0] << (k - a[1])) + (b[0] << (k - b[1])), k


@dataclass(frozen=True)
class StochasticTop:
    """The top output of the max-shifted softmax at one gap under stochastic rounding."""

    gap: Fraction
    p_top_one: Fraction  # probability that the top output is exactly 1
    expected_top: Fraction  # its expectation
    sum_support: int  # distinct values the running sum can end at


def _exp_neg(fmt: BinaryFormat, gap: Fraction) -> Fraction:
    """e^−gap at EXP_BITS bits, as a rational."""
    with mpmath.workprec(EXP_BITS):
        return to_fraction(mpmath.exp(-mpmath.mpf(gap.numerator) / gap.denominator))


def stochastic_top(fmt: BinaryFormat | str, gap, classes: int = 2) -> StochasticTop:
    """Exact P(top output = 1) and E[top output] of the max-shifted softmax of [gap, 0 × (classes − 1)], every
    operation stochastically rounded, the rivals summed after the top (see the module docstring)."""
    return _top(Stochastic(binary_format(fmt)), gap, classes)


def _top(sr: Stochastic, gap, classes: int) -> StochasticTop:
    g = to_fraction(gap)
    if g < 0 or classes < 2:
        raise InputError("gap", f"needs a gap ≥ 0 and classes ≥ 2, got {gap}, {classes}")
    if g > 2 * sr.reach:
        raise InputError("gap", f"e^−{float(g):g} is too small to enumerate exactly (gaps up to "
                                f"{float(2 * sr.reach):g} in {sr.fmt.name})")
    # every value and probability of the enumeration is dyadic (e^−g too, at EXP_BITS): integers until 1/s
    x = _exp_neg(sr.fmt, g) if g else Fraction(1)
    e = sr.dyadic_outcomes((x.numerator, x.denominator.bit_length() - 1))
    sums: dict[Dyadic, Dyadic] = {(1, 0): (1, 0)}
    for _ in range(classes - 1):
        after: dict[Dyadic, Dyadic] = {}
        for s, ps in sums.items():
            for ev, pe in e:
                for v, pv in sr.dyadic_outcomes(_add(s, ev)):
                    w = (ps[0] * pe[0] * pv[0], ps[1] + pe[1] + pv[1])
                    after[v] = _add(after[v], w) if v in after else w
        sums = after
    # SR(1/s) is 1 with probability 1 where s = 1, (1/s − b)/(1 − b) where 1/s > b (b: the value below 1), else 0
    b = sr.below_one
    p_one = expected = Fraction(0)
    for (sm, sk), (pm, pk) in sums.items():
        total, chance = Fraction(sm, 1 << sk), Fraction(pm, 1 << pk)
        share = chance / total
        expected += share
        if total == 1:
            p_one += chance
        elif b * total < 1:
            p_one += (share - chance * b) / (1 - b)
    return StochasticTop(g, p_one, expected, len(sums))


def curve_reach(fmt: BinaryFormat) -> Fraction:
    """The largest gap a curve enumerates: from there on e^−g < σ·2^−64 (σ the smallest subnormal), so the top
    output is 1 with a probability above 1 − 2^−64 (and still below 1); beyond, the rationals grow without use."""
    with mpmath.workprec(64):
        return Fraction(int(-mpmath.log(fmt.value_at(1))) + 45)


def stochastic_curve(fmt: BinaryFormat | str, classes: int = 2, step: int = 1) -> list[StochasticTop]:
    """`stochastic_top` at every `step`-th non-negative value of the format up to `curve_reach`."""
    sr = Stochastic(binary_format(fmt))
    last = sr.fmt.index_of(sr.fmt.round(curve_reach(sr.fmt)))
    return [_top(sr, sr.fmt.value_at(i), classes) for i in range(0, last + 1, step)]


def first_reaching(curve: list[StochasticTop], levels=(Fraction(1, 2), Fraction(99, 100), Fraction(1))) -> dict:
    """The first gap of the curve whose P(top = 1) reaches each level (None: not on the curve)."""
    return {str(level): next((c.gap for c in curve if c.p_top_one >= level), None) for level in levels}


def monte_carlo_top(fmt: BinaryFormat | str, gap, classes: int = 2, samples: int = 10_000,
                    seed: int = 0) -> tuple[float, float]:
    """P(top = 1) by sampling the same rounding outcomes (an independent check of the enumeration): the estimate
    and the half-width of its 99.9 % normal-approximation confidence interval."""
    sr = Stochastic(binary_format(fmt))
    rng = np.random.default_rng(seed)
    x = _exp_neg(sr.fmt, to_fraction(gap)) if gap else Fraction(1)
    draw = lambda v: (lambda o: o[0][0] if len(o) == 1 or rng.random() >= float(o[1][1]) else o[1][0])(
        sr.outcomes(v))
    hits = 0
    for _ in range(samples):
        s = Fraction(1)
        for _ in range(classes - 1):
            s = draw(s + draw(x))
        hits += draw(1 / s) == 1
    p = hits / samples
    return p, 3.29 * float(np.sqrt(max(p * (1 - p), 1 / samples) / samples))
