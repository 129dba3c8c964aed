"""Number formats that round any real number exactly, the way the real dtypes do.

Three families: IEEE-style binary formats (binary16, bfloat16, binary32, binary64, float8, and arbitrary
precision with an unbounded exponent), decimal with k significant digits, and the paper's fixed grid of step
δ. Every format offers exact rounding of an exact real (`round`), the four operations and exp/log/log1p
correctly rounded (exact result, then one rounding), and an index over its non-negative values so that
searches and scans can walk the grid.

Values: binary formats use `mpmath.mpf` (exact dyadic rationals), decimal formats `decimal.Decimal`, the δ-grid
`fractions.Fraction`. Signed zeros are not modelled: they never change a softmax output.
"""
from __future__ import annotations

import decimal
import re
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import Any, Callable, Generic, Literal, TypeAlias, TypeVar, Union, get_args

import ml_dtypes
import mpmath
import numpy as np
from mpmath.ctx_iv import MPIntervalContext

from precision.common.errors import InputError
from precision.formats.mpmath_adapter import interval_ends, mpf_parts
from precision.formats.rounding import (
    DEFAULT_ROUNDING,
    RoundingMode,
    check_rounding,
    overflows_to_infinity,
    round_integers,
    rounds_up,
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


@dataclass(frozen=True, eq=True)
class BinaryFormat(Format[mpmath.mpf]):
    """IEEE-style binary floating point: gradual underflow, overflow per `overflow`, every result rounded under
    `rounding` (round to nearest even by default; the name of another mode's format ends in @MODE)."""

    name: str
    precision: int  # significand bits, the implicit bit included
    emin: int  # exponent of the smallest normal number
    emax: int  # exponent of the largest finite binade
    overflow: Overflow = "inf"  # "inf" (IEEE), "saturate" (to ±largest finite, as torch casts to float8_e4m3fn)
    largest_significand: int | None = None  # e4m3fn stops at 1.110×2^8 = 448, not 1.111×2^8
    rounding: RoundingMode = DEFAULT_ROUNDING  # a field here, a property on Format

    def with_rounding(self, mode: str) -> "BinaryFormat":
        """This format rounding every result under `mode`, named NAME@MODE (NAME for nearest-even)."""
        mode = check_rounding(mode)
        base = self.name.split("@")[0]
        return replace(self, name=base if mode == DEFAULT_ROUNDING else f"{base}@{mode}", rounding=mode)

    @property
    def precision_bits(self) -> int:
        return self.precision

    @property
    def searchable_range(self) -> bool:
        return self.emax < 1 << 20  # mp formats' ±2^40 stands in for an unbounded exponent

    @property
    def carrier(self) -> bool:  # binary64 itself (nearest-even only: no spare bits to see the exact result by),
        # or narrow enough that a float64 result and the sign of its error decide every mode (p ≤ 26)
        # (other modes: subnormals far above float64's, so that libm's underflow to 0 or to a subnormal is no risk)
        nearest_even = self.rounding == DEFAULT_ROUNDING
        low = self.emin >= -1022 if nearest_even else self.emin - self.precision >= -990
        return (self.precision <= 26 or (self.precision == 53 and nearest_even)) and low and self.emax <= 1023

    @cached_property
    def _largest(self) -> tuple[int, int]:
        n = self.largest_significand or (1 << self.precision) - 1
        return n, self.emax - self.precision + 1

    @cached_property
    def max_finite(self) -> mpmath.mpf:
        n, q = self._largest
        return mpmath.ldexp(n, q)

    @cached_property
    def smallest_subnormal(self) -> mpmath.mpf:
        return mpmath.ldexp(1, self.emin - self.precision + 1)

    @cached_property
    def epsilon(self) -> mpmath.mpf:
        """Distance from 1 to the next larger value."""
        return mpmath.ldexp(1, 1 - self.precision)

    def _round_parts(self, man: int, exp: int, negative: bool = False) -> tuple[int, int]:
        """Round ±man·2^exp (man > 0) to (n, q) with n·2^q in the format's precision (exponent unbounded above)."""
        e = exp + man.bit_length() - 1
        q = max(e, self.emin) - (self.precision - 1)
        shift = q - exp
        if shift <= 0:
            return man << -shift, q
        n = man >> shift
        rem = man - (n << shift)
        if rounds_up(n, rem, 1 << (shift - 1), negative, self.rounding):
            n += 1
        return n, q

    @property
    def result_overflow(self) -> Overflow:
        """How an operation's result overflows: as the cast does, except where the cast saturates (float8_e4m3fn,
        as torch casts): the format has no infinity, and its arithmetic, which only ml_dtypes runs (in float32,
        cast back), gives NaN, e.g. 448 − (−448)."""
        return "nan" if self.overflow == "saturate" else self.overflow

    def round_result(self, x) -> mpmath.mpf:
        return self.round(x, self.result_overflow)

    def round(self, x, overflow: Overflow | None = None) -> mpmath.mpf:
        """x rounded into the format, overflowing per `overflow` (default: the format's own, that of a cast)."""
        overflow = overflow or self.overflow
        if isinstance(x, mpmath.mpf):
            if not mpmath.isfinite(x):
                if overflow == "finite" and not mpmath.isnan(x):
                    return self.max_finite * mpmath.sign(x)
                return mpmath.nan if overflow == "nan" else x
            negative, man, exp = mpf_parts(x)
            sign = -1 if negative else 1
        else:
            r = to_fraction(x)
            sign = -1 if r < 0 else 1
            num, den = abs(r.numerator), r.denominator
            if num == 0:
                return mpmath.mpf(0)
            # scale to an integer with enough bits, remembering whether anything was dropped (sticky bit)
            k = self.precision + 3 + den.bit_length() - num.bit_length()
            scaled, rem = divmod(num << k if k >= 0 else num, den if k >= 0 else den << -k)
            man, exp = (scaled << 1) | (rem != 0), -k - 1
        if man == 0:
            return mpmath.mpf(0)
        lead = exp + man.bit_length() - 1  # x ∈ [2^lead, 2^(lead+1))
        if lead < self.emin - self.precision:  # below half the smallest subnormal: 0 or it, whatever the rest
            up = rounds_up(0, 1, 2, sign < 0, self.rounding)
            return mpmath.ldexp(sign, self.emin - self.precision + 1) if up else mpmath.mpf(0)
        if lead > self.emax + 1:  # far past the largest finite value: skip building a huge integer
            man, exp = 1, self.emax + 2
        n, q = self._round_parts(man, exp, sign < 0)
        n_max, q_max = self._largest
        if self._exceeds(n, q, n_max, q_max):
            if overflow in ("saturate", "finite") or not overflows_to_infinity(self.rounding, sign < 0):
                n, q = n_max, q_max
            elif overflow == "nan":
                return mpmath.nan
            else:
                return mpmath.mpf("inf") * sign
        return mpmath.ldexp(sign * n, q)

    @staticmethod
    def _exceeds(n: int, q: int, n_max: int, q_max: int) -> bool:
        """n·2^q > n_max·2^q_max, without building huge integers."""
        top, top_max = q + n.bit_length(), q_max + n_max.bit_length()
        if top != top_max:
            return top > top_max
        d = q - q_max  # |d| ≤ precision here
        return (n << d) > n_max if d >= 0 else n > (n_max << -d)

    # Rounding to 2p+2 bits first and then to p bits is innocuous for + − × ÷ under nearest-even (Figueroa
    # 1995); unlike an exact sum it stays cheap when the exponents are 2^40 apart. Other modes take the exact
    # result's two (2p+2)-bit neighbours: no value or midpoint of the format lies strictly between them, so
    # their midpoint rounds as the exact result does under every mode.
    def _rounded(self, op, a: mpmath.mpf, b: mpmath.mpf) -> mpmath.mpf:
        bits = 2 * self.precision + 2
        if self.rounding == DEFAULT_ROUNDING:
            return self.round_result(op(a, b, prec=bits, rounding="n"))
        lo, hi = op(a, b, prec=bits, rounding="f"), op(a, b, prec=bits, rounding="c")
        return self.round_result(lo if lo == hi else mpmath.ldexp(mpmath.fadd(lo, hi, exact=True), -1))

    def add(self, a: mpmath.mpf, b: mpmath.mpf) -> mpmath.mpf:
        return self._rounded(mpmath.fadd, a, b)

    def sub(self, a: mpmath.mpf, b: mpmath.mpf) -> mpmath.mpf:
        return self._rounded(mpmath.fsub, a, b)

    def mul(self, a: mpmath.mpf, b: mpmath.mpf) -> mpmath.mpf:
        return self._rounded(mpmath.fmul, a, b)

    def div(self, a: mpmath.mpf, b: mpmath.mpf) -> mpmath.mpf:
        if b == 0:
            return mpmath.nan if a == 0 or mpmath.isnan(a) else self.round_result(mpmath.inf * mpmath.sign(a))
        return self._rounded(mpmath.fdiv, a, b)

    def exp(self, a: mpmath.mpf) -> mpmath.mpf:
        if not mpmath.isfinite(a):
            return a if a > 0 or mpmath.isnan(a) else mpmath.mpf(0)
        return super().exp(a)

    @cached_property
    def numpy_dtype(self):
        """The NumPy dtype with exactly this format's values and IEEE arithmetic (nearest-even), if there is one."""
        if self.rounding != DEFAULT_ROUNDING:
            return None
        return _NUMPY_DTYPES.get((self.precision, self.emin, self.emax, self.overflow, self.largest_significand))

    @cached_property
    def addition_dtype(self):
        # ml_dtypes' bfloat16 adds in float32 and rounds once more: innocuous, as 24 ≥ 2·8 + 2 (Figueroa 1995)
        if self.rounding != DEFAULT_ROUNDING:
            return None
        return self.numpy_dtype if self.numpy_dtype is not None else _ADDITION_DTYPES.get(self.name)

    def round_array(self, x: np.ndarray, overflow: Overflow | None = None) -> np.ndarray:
        """Round float64 values to this format, elementwise (the float64 carrier's rounding); `overflow` replaces
        the format's own, that of a cast (`result_overflow` for an operation's results)."""
        x = np.asarray(x, dtype=np.float64)
        if self.precision == 53:
            return x
        overflow = overflow or self.overflow
        if self.numpy_dtype is not None and overflow == self.overflow:  # NumPy's double→float/half casts round
            # once, to nearest even
            with np.errstate(all="ignore"):
                return x.astype(self.numpy_dtype).astype(np.float64)
        with np.errstate(all="ignore"):
            _, e2 = np.frexp(x)
            q = np.maximum(e2 - 1, self.emin) - (self.precision - 1)
            r = np.ldexp(round_integers(np.ldexp(x, -q), self.rounding), q)
            big = np.abs(r) > float(self.max_finite)
            if overflow in ("saturate", "finite"):
                r = np.where(big, np.copysign(float(self.max_finite), x), r)
            elif self.rounding == DEFAULT_ROUNDING and overflow == "inf":
                r = np.where(big, np.copysign(np.inf, x), r)
            else:
                to_inf = np.array([overflows_to_infinity(self.rounding, False),
                                   overflows_to_infinity(self.rounding, True)])[(x < 0).astype(int)]
                past = np.nan if overflow == "nan" else np.inf
                r = np.where(big, np.copysign(np.where(to_inf, past, float(self.max_finite)), x), r)
            outside = x  # ±∞ and NaN inputs: kept, except where the format has no infinity
            if overflow == "nan":
                outside = np.full_like(x, np.nan)
            elif overflow == "finite":
                outside = np.where(np.isnan(x), x, np.copysign(float(self.max_finite), x))
            return np.where(np.isfinite(x), r, outside)

    @cached_property
    def max_index(self) -> int:
        return self.index_of(self.max_finite)

    def index_of(self, v) -> int:
        negative, man, exp = mpf_parts(v if isinstance(v, mpmath.mpf) else mpmath.mpf(v))  # mpf(mpf) would re-round
        if negative:
            raise ValueError(f"index_of needs a non-negative value, got {v}")
        if man == 0:
            return 0
        n, q = self._round_parts(man, exp)
        if mpmath.ldexp(n, q) != v:
            raise ValueError(f"{v} is not a {self.name} value")
        e = q + self.precision - 1
        return n + (e - self.emin) * (1 << (self.precision - 1))

    def value_at(self, i: int) -> mpmath.mpf:
        half = 1 << (self.precision - 1)
        if i < half:
            return mpmath.ldexp(i, self.emin - self.precision + 1)
        k, m = divmod(i, half)
        return mpmath.ldexp(half + m, self.emin + k - self.precision)

    def values_at(self, idx: np.ndarray) -> np.ndarray:
        """float64 values at grid indices (carrier formats)."""
        idx = np.asarray(idx, dtype=np.int64)
        half = 1 << (self.precision - 1)
        k, m = np.divmod(idx, half)
        with np.errstate(all="ignore"):  # np.where evaluates both branches
            normal = np.ldexp((half + m).astype(np.float64), (self.emin + k - self.precision).astype(np.int64))
            sub = np.ldexp(idx.astype(np.float64), self.emin - self.precision + 1)
        return np.where(idx < half, sub, normal)


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


_NUMPY_DTYPES = {(11, -14, 15, "inf", None): np.float16, (24, -126, 127, "inf", None): np.float32,
                 (53, -1022, 1023, "inf", None): np.float64}
_ADDITION_DTYPES = {"bfloat16": ml_dtypes.bfloat16}
FLOAT16 = BinaryFormat("float16", 11, -14, 15)
BFLOAT16 = BinaryFormat("bfloat16", 8, -126, 127)
FLOAT32 = BinaryFormat("float32", 24, -126, 127)
FLOAT64 = BinaryFormat("float64", 53, -1022, 1023)
FLOAT8_E4M3FN = BinaryFormat("float8_e4m3fn", 4, -6, 8, overflow="saturate", largest_significand=0b1110)
FLOAT8_E5M2 = BinaryFormat("float8_e5m2", 3, -14, 15)
# ml_dtypes' other narrow formats (its casts round to nearest even): e3m4 is IEEE-style; the "fnuz" ones have no
# infinity and one NaN, and overflow to it; the OCP FP6/FP4 ones have neither and saturate
LOW_PRECISION = (BinaryFormat("float8_e3m4", 5, -2, 3), BinaryFormat("float8_e4m3fnuz", 4, -7, 7, overflow="nan"),
                 BinaryFormat("float8_e5m2fnuz", 3, -15, 15, overflow="nan"),
                 BinaryFormat("float8_e4m3b11fnuz", 4, -10, 4, overflow="nan"),
                 BinaryFormat("float6_e2m3fn", 4, 0, 2, overflow="finite"),
                 BinaryFormat("float6_e3m2fn", 3, -2, 4, overflow="finite"),
                 BinaryFormat("float4_e2m1fn", 2, 0, 2, overflow="finite"))
BUILTIN = {f.name: f for f in (FLOAT16, BFLOAT16, FLOAT32, FLOAT64, FLOAT8_E4M3FN, FLOAT8_E5M2, *LOW_PRECISION)}
ALIASES = {"binary16": "float16", "half": "float16", "binary32": "float32", "single": "float32",
           "binary64": "float64", "double": "float64"}

_UNBOUNDED_EXP = 1 << 40


MAX_MP_BITS = 16384  # beyond this a threshold search would take hours in interval arithmetic
MAX_DECIMAL_DIGITS = 4000  # about as many bits as MAX_MP_BITS, and below Python's 4300-digit int-string limit


def mp_format(bits: int) -> BinaryFormat:
    """Arbitrary binary precision (mpmath-style): `bits` significand bits, an exponent range of ±2^40."""
    if not isinstance(bits, int) or bits < 2:
        raise InputError("format", f"mpBITS needs BITS ≥ 2, got {bits!r}")
    if bits > MAX_MP_BITS:
        raise InputError("format", f"mpBITS supports up to {MAX_MP_BITS} bits, got {bits}")
    return BinaryFormat(f"mp{bits}", bits, -_UNBOUNDED_EXP, _UNBOUNDED_EXP)


def decimal_format(digits: int) -> DecimalFormat:
    """Decimal with `digits` significant digits."""
    if not isinstance(digits, int) or digits < 1:
        raise InputError("format", f"decimalDIGITS needs DIGITS ≥ 1, got {digits!r}")
    if digits > MAX_DECIMAL_DIGITS:
        raise InputError("format", f"decimalDIGITS supports up to {MAX_DECIMAL_DIGITS} digits, got {digits}")
    return DecimalFormat(f"decimal{digits}", digits)


def delta_grid(delta, rule: DeltaRule = "nearest") -> DeltaGrid:
    """The paper's fixed grid of step δ, δ ∈ (0, 0.1)."""
    try:
        d = Fraction(str(delta)) if isinstance(delta, float) else Fraction(delta)
    except (ValueError, ZeroDivisionError):
        raise InputError("format", f"deltaSTEP needs a number as its step, got {delta!r}") from None
    if not 0 < d < Fraction(1, 10):
        raise InputError("format", f"deltaSTEP needs a step in (0, 0.1) as in the paper, got {delta}")
    if rule not in DELTA_RULES:
        raise InputError("rule", f"must be one of {', '.join(map(repr, DELTA_RULES))}, got {rule!r}")
    suffix = "" if rule == "nearest" else "-paper"
    return DeltaGrid(f"delta{delta}{suffix}", d, rule)


def get_format(name: str | Format) -> Format:
    """A format by name: float16, bfloat16, float32, float64, float8_e4m3fn, float8_e5m2, mpBITS,
    decimalDIGITS, deltaSTEP or deltaSTEP-paper (for example mp113, decimal7, delta0.01); NAME@MODE rounds every
    result of a binary format under a mode of precision.formats.rounding (for example bfloat16@toward-zero).

    >>> get_format("bfloat16").round(1 + 2**-9)  # a tie: to the even neighbour
    mpf('1.0')
    """
    if isinstance(name, Format):
        return name
    if not isinstance(name, str):
        raise TypeError(f"format must be a format name or a Format, got {type(name).__name__}")
    if "@" in name:
        base, mode = name.rsplit("@", 1)
        return get_format(base).with_rounding(mode)
    key = ALIASES.get(name.lower(), name.lower())
    if key in BUILTIN:
        return BUILTIN[key]
    if m := re.fullmatch(r"mp(\d+)", key):
        return mp_format(int(m.group(1)))
    if m := re.fullmatch(r"decimal(\d+)", key):
        return decimal_format(int(m.group(1)))
    if m := re.fullmatch(r"delta([0-9.e-]+?)(-paper)?", key):
        return delta_grid(m.group(1), "paper" if m.group(2) else "nearest")
    raise InputError("format", f"unknown name {name!r}; expected one of {', '.join(BUILTIN)}, "
                     "mpBITS, decimalDIGITS, deltaSTEP or deltaSTEP-paper")
