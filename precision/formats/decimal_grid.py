"""The two non-binary families: decimal with k significant digits (`DecimalFormat`) and the paper's fixed grid
of step δ (`DeltaGrid`)."""
from __future__ import annotations

import decimal
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import mpmath

from precision.formats.number_formats import (
    DeltaRule,
    Format,
    to_fraction,
)


def _decimal_context(digits: int) -> decimal.Context:
    return decimal.Context(prec=digits, rounding=decimal.ROUND_HALF_EVEN, Emin=-999_999_999, Emax=999_999_999)


@dataclass(frozen=True, eq=True)
class DecimalFormat(Format[decimal.Decimal]):
    """Decimal floating point with k significant digits, round half to even (Python's decimal module)."""

    name: str
    digits: int

    @property
    def precision_bits(self) -> int:
        return int(self.digits * 3.33) + 1

    @cached_property
    def context(self) -> decimal.Context:
        return _decimal_context(self.digits)

    def round(self, x) -> decimal.Decimal:
        if isinstance(x, decimal.Decimal):
            return self.context.plus(x)
        if isinstance(x, mpmath.mpf) and not mpmath.isfinite(x):
            return decimal.Decimal(str(x).replace("+", ""))
        q = to_fraction(x)
        if q == 0:
            return decimal.Decimal(0)
        # divide at enough digits to be exact up to a sticky digit, then round once
        num, den = abs(q.numerator), q.denominator
        e = len(str(num)) - len(str(den)) - self.digits - 2
        scaled, rem = divmod(num * 10**-e if e < 0 else num, den if e < 0 else den * 10**e)
        d = decimal.Decimal((0 if q > 0 else 1, tuple(int(c) for c in str(scaled * 10 + (rem != 0))), e - 1))
        return self.context.plus(d)

    # decimal's + − × ÷, exp and ln are correctly rounded (Python documentation); log1p goes through Ziv.
    def add(self, a: decimal.Decimal, b: decimal.Decimal) -> decimal.Decimal:
        return self.context.add(a, b)

    def sub(self, a: decimal.Decimal, b: decimal.Decimal) -> decimal.Decimal:
        return self.context.subtract(a, b)

    def mul(self, a: decimal.Decimal, b: decimal.Decimal) -> decimal.Decimal:
        return self.context.multiply(a, b)

    def div(self, a: decimal.Decimal, b: decimal.Decimal) -> decimal.Decimal:
        return self.context.divide(a, b)

    def exp(self, a: decimal.Decimal) -> decimal.Decimal:
        return self.context.exp(a)

    def log(self, a: decimal.Decimal) -> decimal.Decimal:
        return self.context.ln(a)

    max_index = 10**12  # a practical bound: gaps up to ~10^(12/k)·… are plenty for softmax

    def _digits_grid(self) -> int:
        return 9 * 10 ** (self.digits - 1)  # values per decade

    def value_at(self, i: int) -> decimal.Decimal:
        # i = 0 is zero; then decades from 10^-emin_grid upward, each with 9·10^(k-1) values
        if i == 0:
            return decimal.Decimal(0)
        dec, m = divmod(i - 1, self._digits_grid())
        return decimal.Decimal((0, tuple(int(c) for c in str(10 ** (self.digits - 1) + m)), dec - 40 - self.digits + 1))

    def index_of(self, v) -> int:
        v = decimal.Decimal(v)
        if v == 0:
            return 0
        sign, digits, exp = v.normalize(self.context).as_tuple()
        n = int("".join(map(str, digits)))
        n, exp = n * 10 ** (self.digits - len(digits)), exp - (self.digits - len(digits))
        return 1 + (exp + 40 + self.digits - 1) * self._digits_grid() + n - 10 ** (self.digits - 1)


@dataclass(frozen=True, eq=True)
class DeltaGrid(Format[Fraction]):
    """The paper's model: the multiples of δ, "the smallest positive number that can be represented".

    rule="nearest": round to the nearest multiple of δ, ties to the even multiple.
    rule="paper": as the paper states it (Appendix A): a value below δ is 0, a value above 1 − δ and below 1
    is 1, anything else goes to the nearest multiple. The two differ on (δ/2, δ) and (1 − δ, 1 − δ/2).
    """

    name: str
    delta: Fraction
    rule: DeltaRule = "nearest"

    @property
    def precision_bits(self) -> int:  # enough to tell 1 − δ from 1, and a margin
        return (1 / self.delta).__ceil__().bit_length() + 8

    def round(self, x) -> Fraction:
        if isinstance(x, mpmath.mpf) and not mpmath.isfinite(x):
            raise ValueError(f"{self.name} has no infinity or NaN to round {x} to")
        q = to_fraction(x)
        if self.rule == "paper":
            if abs(q) < self.delta:
                return Fraction(0)
            if 1 - self.delta < q < 1:
                return Fraction(1)
        return round(q / self.delta) * self.delta  # Fraction.__round__ ties to even

    @property
    def grid_step(self) -> Fraction:
        return self.delta

    @property
    def rounds_near_one_up(self) -> bool:
        return self.rule == "paper"

    # the grid is closed under + and −
    def add(self, a: Fraction, b: Fraction) -> Fraction:
        return self.round(a + b)

    def sub(self, a: Fraction, b: Fraction) -> Fraction:
        return self.round(a - b)

    max_index = 10**12

    def value_at(self, i: int) -> Fraction:
        return i * self.delta

    def index_of(self, v) -> int:
        n = to_fraction(v) / self.delta
        if n.denominator != 1:
            raise ValueError(f"{v} is not on the grid of step {self.delta}")
        return int(n)
