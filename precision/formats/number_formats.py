"""What every number format is: `Format`, exact rounding of any real the way the real dtypes do, and the helpers
its families share (exact conversions, mpmath interval contexts).

Three families, each in its module: IEEE-style binary formats (`precision.formats.binary`: binary16, bfloat16,
binary32, binary64, float8/6/4, and arbitrary precision with an unbounded exponent), decimal with k significant
digits and the paper's fixed grid of step δ (`precision.formats.decimal_grid`); `precision.formats.named_formats`
resolves their names. Every format offers exact rounding of an exact real (`round`), the four operations and
exp/log/log1p correctly rounded (exact result, then one rounding), and an index over its non-negative values so that
searches and scans can walk the grid.

Values: binary formats use `mpmath.mpf` (exact dyadic rationals), decimal formats `decimal.Decimal`, the δ-grid
`fractions.Fraction`. Signed zeros are not modelled: they never change a softmax output.
"""
from __future__ import annotations

import decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any, Callable, Generic, Literal, TypeAlias, TypeVar, Union, get_args

import mpmath
import numpy as np
from mpmath.ctx_iv import MPIntervalContext

from precision.common.errors import InputError
from precision.formats.mpmath_adapter import interval_ends, mpf_parts
from precision.formats.rounding import (
    DEFAULT_ROUNDING,
    RoundingMode,
    check_rounding,
)


def to_fraction(x: Real | np.generic) -> Fraction:
    """The exact rational value of an mpf, Decimal, Fraction, int or float (Python, NumPy or ml_dtypes scalar)."""
    if isinstance(x, mpmath.mpf):
        if not mpmath.isfinite(x):
            raise ValueError(f"x must be finite, got {x}")
        negative, man, exp = mpf_parts(x)
        man = -man if negative else man
        return Fraction(man * 2**exp) if exp >= 0 else Fraction(man, 2**-exp)
    if isinstance(x, np.generic):  # Fraction takes no NumPy or ml_dtypes float scalar; float() is exact to 64 bits
        x = int(x) if isinstance(x, np.integer) else float(x)
    if isinstance(x, float) and not np.isfinite(x):
        raise ValueError(f"x must be finite, got {x}")
    return Fraction(x)


def mpf_of(x: Real) -> mpmath.mpf:
    """An exact rational (Fraction, int, float, str) as an mpf at the current mpmath precision."""
    q = Fraction(x)
    return mpmath.mpf(q.numerator) / q.denominator


@lru_cache(maxsize=64)
def interval_context(prec: int) -> MPIntervalContext:
    """A private mpmath interval context at `prec` bits: the process's `mpmath.iv` is never changed (it has no
    workprec of its own, and its precision is shared by every caller)."""
    ctx = MPIntervalContext()
    ctx.prec = prec
    return ctx


def interval(x, prec: int):
    """An interval of `interval_context(prec)` that contains the exact value of x."""
    iv = interval_context(prec)
    if isinstance(x, mpmath.mpf):
        return iv.mpf(x)
    q = to_fraction(x)
    return iv.mpf(q.numerator) / q.denominator


# A format's own value: mpmath.mpf (binary formats), decimal.Decimal (decimal) or Fraction (the δ-grid). mpmath
# ships no type information, so to a type checker an mpf is Any.
Value: TypeAlias = Union[mpmath.mpf, decimal.Decimal, Fraction]
V = TypeVar("V", mpmath.mpf, decimal.Decimal, Fraction)  # the value type of one format
Real: TypeAlias = Union[int, float, str, Fraction, decimal.Decimal, mpmath.mpf]  # an exact real, as the formats take it

# a binary format's overflow: to ±inf (IEEE), to ±largest finite, to NaN (the "fnuz" formats, which have no
# infinity: ml_dtypes' casts give NaN past the largest finite value and for ±inf), or "finite": the OCP FP6/FP4
# formats, with neither infinity nor NaN, saturate and take ±inf to ±largest finite (a NaN stays a NaN here: the
# emulation reports it where ml_dtypes would store −0)
Overflow = Literal["inf", "saturate", "nan", "finite"]
OVERFLOWS: tuple[Overflow, ...] = get_args(Overflow)
DeltaRule = Literal["nearest", "paper"]  # the δ-grid's rounding rule (see `DeltaGrid`)
DELTA_RULES: tuple[DeltaRule, ...] = get_args(DeltaRule)


class Format(Generic[V]):
    """A set of representable numbers and a rounding rule onto it; its values are of type V."""

    name: str

    @property
    def precision_bits(self) -> int:
        """Roughly how many bits a value carries; sets the working precision for exp/log."""
        raise NotImplementedError

    @property
    def carrier(self) -> bool:
        """True when float64 arrays can carry the values and ops stay exact (see Arithmetic)."""
        return False

    @property
    def rounding(self) -> RoundingMode:
        """The rounding mode of every operation (see precision.formats.rounding)."""
        return DEFAULT_ROUNDING

    def with_rounding(self, mode: str) -> "Format":
        """The same values rounded under another mode: binary formats only (decimal and the δ-grid round to
        nearest)."""
        if check_rounding(mode) == self.rounding:
            return self
        raise InputError("rounding", f"{self.name} rounds to nearest only; rounding modes apply to the binary "
                                     "formats (float16 … float64, float8/6/4, mpBITS)")

    def round(self, x: Real) -> V:
        """The format's value nearest to the exact real x (the format's tie rule)."""
        raise NotImplementedError

    def from_value(self, v: Real) -> V:
        """Convert a float/str/int/Fraction/mpf input into this format (rounded)."""
        if isinstance(v, str):
            v = Fraction(v)
        if isinstance(v, float):
            if not np.isfinite(v):
                raise InputError("logits", f"must be finite, got {v}")
            v = Fraction(v)
        return self.round(v)

    def round_result(self, x) -> V:
        """An operation's exact result rounded into the format: as `round` (a cast), except that a format whose cast
        saturates overflows to NaN here (`BinaryFormat.result_overflow`)."""
        return self.round(x)

    # Exact operation, then one rounding. Subclasses with a cheaper exact route override these.
    def add(self, a: V, b: V) -> V:
        return self.round_result(to_fraction(a) + to_fraction(b))

    def sub(self, a: V, b: V) -> V:
        return self.round_result(to_fraction(a) - to_fraction(b))

    def mul(self, a: V, b: V) -> V:
        return self.round_result(to_fraction(a) * to_fraction(b))

    def div(self, a: V, b: V) -> V:
        return self.round_result(to_fraction(a) / to_fraction(b))

    # exp(0), log(1) and log1p(0) are the only exact values at a rational argument (Lindemann): Ziv's loop would
    # never separate them from a neighbour under a directed mode, so they are answered first.
    def exp(self, a: V) -> V:
        if a == 0:
            return self.round_result(1)
        # mpmath's interval exp returns [1, 1] for an argument below its working precision's ulp of 1 (exp(6e-22) at
        # 56 bits), which no directed rounding survives: start where the argument still shows in 1 + a. Below
        # 2^-(2·bits + 8), exp(a) lies strictly between 1 and 1 ± 2^-(2·bits + 7), where no value of the format and
        # no midpoint is: every such a rounds as that bound does (and the precision stays bounded for mpBITS,
        # whose exponents reach 2^-(2^40))
        tiny = -(2 * self.precision_bits + 8)
        magnitude = int(mpmath.mag(self.to_mpf(a)))
        if magnitude < tiny:
            a, magnitude = mpmath.ldexp(mpmath.sign(self.to_mpf(a)), tiny), tiny
        return self.round_function(lambda iv, x: iv.exp(x), a, extra_bits=max(0, -magnitude))

    def log(self, a: V) -> V:
        if a == 0:  # formats with an infinity return it; the δ-grid has none and refuses
            return self.round_result(mpmath.mpf("-inf"))
        if a == 1:
            return self.round_result(0)
        return self.round_function(lambda iv, x: iv.log(x), a)

    def log1p(self, a: V) -> V:
        if a == 0:
            return self.round_result(0)
        return self.round_function(lambda iv, x: iv.log(1 + x), a)

    def round_function(self, f: Callable[[Any, Any], Any], x: V, extra_bits: int = 0) -> V:
        """Correctly rounded f(iv, x), f an interval function of the context iv: widen an enclosing interval until
        both ends round alike (Ziv's loop), from `extra_bits` more than twice the format's precision."""
        prec = start = 2 * self.precision_bits + 40 + extra_bits
        while prec < 64 * start:
            y = f(interval_context(prec), interval(x, prec))
            lo, hi = (self.round_result(end) for end in interval_ends(y))
            if lo == hi or (lo != lo and hi != hi):  # (both NaN: an overflow of a format without infinity)
                return lo
            prec *= 2
        raise ArithmeticError(f"could not round {f} at {x} in {self.name}")

    def to_mpf(self, v: Real, prec: int = 113) -> mpmath.mpf:
        """The value as an mpf at `prec` bits (exact for binary formats)."""
        if isinstance(v, mpmath.mpf):
            return v
        q = to_fraction(v)
        with mpmath.workprec(prec):
            return mpmath.mpf(q.numerator) / q.denominator

    # The grid of non-negative values, indexed 0 (zero) .. max_index (largest finite).
    @property
    def max_index(self) -> int:
        """Grid index of the largest value a search walks to."""
        raise NotImplementedError

    def value_at(self, i: int) -> V:
        raise NotImplementedError

    def index_of(self, v: V) -> int:
        raise NotImplementedError

    def round_array(self, x: np.ndarray) -> np.ndarray:
        """Round float64 values to this format, elementwise: only formats whose `carrier` is True."""
        raise TypeError(f"{self.name} values are not carried by float64 arrays (carrier is False)")

    def values_at(self, idx: np.ndarray) -> np.ndarray:
        """float64 values at grid indices: only formats whose `carrier` is True."""
        raise TypeError(f"{self.name} values are not carried by float64 arrays (carrier is False)")

    @property
    def addition_dtype(self):
        """A NumPy dtype whose + rounds every sum exactly as this format does, or None."""
        return None

    @property
    def max_finite(self) -> V | None:
        """The largest finite value, or None where the format has none (decimal, the δ-grid)."""
        return None

    @property
    def searchable_range(self) -> bool:
        """True when the finite values form a range to search whole (a real exponent range)."""
        return False

    @property
    def grid_step(self) -> Fraction | None:
        """The step δ of the paper's fixed grid; None for floating-point formats."""
        return None

    @property
    def rounds_near_one_up(self) -> bool:
        """True for the paper's rule: everything above 1 − δ (and below 1) rounds to 1."""
        return False

    def __str__(self) -> str:
        return self.name
