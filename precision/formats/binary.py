"""IEEE-style binary formats: precision p, exponent range, overflow rule and rounding mode, rounding any real
exactly (`BinaryFormat`); the float64 carrier rounds arrays of them elementwise."""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import ml_dtypes
import mpmath
import numpy as np

from precision.formats.mpmath_adapter import mpf_parts
from precision.formats.number_formats import (
    Format,
    Overflow,
    to_fraction,
)
from precision.formats.rounding import (
    DEFAULT_ROUNDING,
    RoundingMode,
    check_rounding,
    overflows_to_infinity,
    round_integers,
    rounds_up,
)


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


_NUMPY_DTYPES = {(11, -14, 15, "inf", None): np.float16, (24, -126, 127, "inf", None): np.float32,
                 (53, -1022, 1023, "inf", None): np.float64}
_ADDITION_DTYPES = {"bfloat16": ml_dtypes.bfloat16}
