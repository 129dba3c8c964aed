"""Elementwise arithmetic over arrays that rounds every operation in a `Format`.

Two carriers, one behaviour:
- float64 arrays, for binary64 and for binary formats of at most 26 significand bits. +, −, ×, ÷ are done in
  float64 and rounded once more to the format; under nearest-even that second rounding is innocuous because
  53 ≥ 2p + 2 (Figueroa, "When is double rounding innocuous?", 1995), under the other modes the exact sign of
  the float64 error first moves the result off a value or midpoint of the format (`error_free`). Binary64 is
  carried under nearest-even only. exp/log/log1p come from libm and are kept only
  where the libm value ±4 ulps rounds to the same format value (libm's error is below 1 ulp); every other
  element, and every element for binary64, is rounded correctly through mpmath interval arithmetic.
- numpy object arrays of the format's own exact values (mpf, Decimal, Fraction) for everything else.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import mpmath
import numpy as np

from precision.formats.binary import BinaryFormat
from precision.formats.error_free import error_sign, toward_exact
from precision.formats.named_formats import get_format
from precision.formats.number_formats import Format, Overflow
from precision.formats.repeated_addition import MIN_REPEATS, add_repeatedly, constant_tail
from precision.formats.rounding import DEFAULT_ROUNDING

_LONG_BITS = np.finfo(np.longdouble).nmant  # 63 on x86 (80-bit), 112 where long double is quad, 52 elsewhere
_TINY = 2.0**-1074  # float64's smallest subnormal: below half the smallest subnormal of every p ≤ 26 carrier


class Arithmetic:
    """Rounded elementwise +, −, ×, ÷, exp, log, log1p and max over arrays of one format's values."""

    def __init__(self, fmt: Format | str):
        self.fmt = get_format(fmt)
        self.vectorized = bool(self.fmt.carrier)
        f = self.fmt
        # results overflow as the format's arithmetic does where its cast differs (float8_e4m3fn: NaN, not saturation)
        self.result_overflow: Overflow | None = (
            f.result_overflow if isinstance(f, BinaryFormat) and f.result_overflow != f.overflow else None)
        exact: dict[str, Callable[..., Any]] = {"add": f.add, "sub": f.sub, "mul": f.mul, "div": f.div,
                                                "exp": f.exp, "log": f.log, "log1p": f.log1p}
        # scans repeat the same operands across rows (equal rivals, shared maxima): remember results
        self._exact: dict[str, Callable[..., Any]] = {name: lru_cache(maxsize=1 << 16)(op)
                                                      for name, op in exact.items()}
        if not self.vectorized:
            self._ops = {name: np.frompyfunc(op, 2 if name in ("add", "sub", "mul", "div") else 1, 1)
                         for name, op in self._exact.items()}

    def __repr__(self) -> str:
        return f"Arithmetic({self.fmt.name})"

    # --- values in and out -------------------------------------------------------------------------
    def array(self, values) -> np.ndarray:
        """Round real inputs (floats, ints, strings, Fractions, mpf) into the format."""
        if self.vectorized and isinstance(values, np.ndarray) and values.dtype.kind == "f":
            return self.fmt.round_array(values.astype(np.float64))
        flat = np.asarray(values, dtype=object)
        out = np.frompyfunc(self.fmt.from_value, 1, 1)(flat)
        return np.asarray(out, dtype=np.float64) if self.vectorized else out

    def convert(self, values: np.ndarray, source: "Arithmetic") -> np.ndarray:
        """Values of `source`'s format rounded into this format."""
        if self.vectorized and source.vectorized:
            return self.fmt.round_array(values)
        exact = values if not source.vectorized else np.frompyfunc(mpmath.mpf, 1, 1)(values)
        out = np.frompyfunc(self.fmt.round, 1, 1)(exact)
        return np.asarray(out, dtype=np.float64) if self.vectorized else out

    def to_float(self, values: np.ndarray) -> np.ndarray:
        """Nearest float64 of each value (for plots and JSON)."""
        if self.vectorized:
            return np.asarray(values, dtype=np.float64)
        return np.asarray(np.frompyfunc(lambda v: float(self.fmt.to_mpf(v, 64)), 1, 1)(values), dtype=np.float64)

    def constant(self, value) -> np.ndarray:
        return self.array(np.array([value], dtype=object))[0]

    # --- the operations -----------------------------------------------------------------------------
    def _binary(self, name, a, b, op):
        if self.vectorized:
            with np.errstate(all="ignore"):
                s = op(a, b)
            f = self.fmt
            if f.rounding != DEFAULT_ROUNDING and isinstance(f, BinaryFormat):
                s = toward_exact(s, error_sign(name, a, b, s), f.precision, f.emin)
            return self._round_result(s)
        return self._each(name, a, b)

    def _each(self, name: str, *operands) -> np.ndarray:
        """The exact operation elementwise on object arrays (`per_distinct`)."""
        return per_distinct(self._ops[name], *operands)

    def add(self, a, b):
        return self._binary("add", a, b, np.add)

    def sub(self, a, b):
        return self._binary("sub", a, b, np.subtract)

    def mul(self, a, b):
        return self._binary("mul", a, b, np.multiply)

    def div(self, a, b):
        return self._binary("div", a, b, np.divide)

    def exp(self, a):
        return self._function("exp", a, np.exp)

    def log(self, a):
        return self._function("log", a, np.log)

    def log1p(self, a):
        return self._function("log1p", a, np.log1p)

    def _round_result(self, x: np.ndarray) -> np.ndarray:
        """An operation's float64 results rounded into the format, overflowing as its arithmetic does."""
        if self.result_overflow is None:
            return self.fmt.round_array(x)
        assert isinstance(self.fmt, BinaryFormat)
        return self.fmt.round_array(x, overflow=self.result_overflow)

    def sum_sequential(self, cols: np.ndarray) -> np.ndarray:
        """Σ along rows, left to right, every addition rounded."""
        dtype = self.fmt.addition_dtype if self.vectorized else None
        if dtype is not None:  # NumPy's accumulate is strictly sequential and rounds each step in dtype
            with np.errstate(all="ignore"):
                return np.add.accumulate(cols.astype(dtype), axis=1)[:, -1].astype(np.float64)
        # equal terms at the end of every row (a scan's equal rivals): added in closed form, a binade at a time
        f = self.fmt
        closed = isinstance(f, BinaryFormat) and f.precision <= 53 and f.emin >= -1022 and f.emax <= 1023
        n = cols.shape[1]
        last = constant_tail(cols) if closed else n - 1
        last = last if n - 1 - last >= MIN_REPEATS else n - 1
        s = cols[:, 0]
        for j in range(1, last + 1):
            s = self.add(s, cols[:, j])
        return s if last == n - 1 else self._add_repeatedly(s, cols[:, last], n - 1 - last)

    def _add_repeatedly(self, s: np.ndarray, t: np.ndarray, count: int) -> np.ndarray:
        """s ← s + t, `count` times, every addition rounded (`add_repeatedly`; binary64 under a mode is carried
        by object arrays of mpf, whose values float64 holds exactly)."""
        assert isinstance(self.fmt, BinaryFormat)
        if self.vectorized:
            return add_repeatedly(self.fmt, s, t, count, self.add)
        floats = np.frompyfunc(float, 1, 1)
        exact = lambda x: np.frompyfunc(mpmath.mpf, 1, 1)(x)
        add = lambda a, b: floats(self.add(exact(a), exact(b))).astype(np.float64)
        return exact(add_repeatedly(self.fmt, floats(s).astype(np.float64), floats(t).astype(np.float64), count,
                                    add))

    def _function(self, name, a, libm):
        if not self.vectorized:
            return self._each(name, a)
        a = np.asarray(a, dtype=np.float64)
        if a.size >= 1 << 16 and self.fmt.precision > 26:  # long double is slow, and wide rows repeat their
            # rivals: evaluate each distinct argument once
            values, inverse = np.unique(a, return_inverse=True)
            if len(values) <= a.size // 8:
                return self._function(name, values, libm)[inverse.reshape(a.shape)]
        # libm in a carrier of w ≥ p + 10 bits: its value ± a band of 2^(5−w) (16+ of its ulps, far more than
        # libm's error) rounds to one format value for nearly every input; the rest go through mpmath.
        wide = np.float64 if self.fmt.precision <= 26 else (np.longdouble if _LONG_BITS >= 63 else None)
        with np.errstate(all="ignore"):
            if wide is None:
                out = self._round_result(libm(a))
                unsure = np.isfinite(a) & (a != 0)
            else:
                y = libm(a.astype(wide))
                if name == "exp" and self.fmt.rounding != DEFAULT_ROUNDING:  # exp(a) > 0: an underflow to 0 is
                    # no exact 0 for a directed mode; any positive float far below the format's values rounds alike
                    y = np.where(np.isfinite(a), np.maximum(y, wide(_TINY)), y)
                band = np.abs(y) * wide(2.0 ** (5 - (53 if wide is np.float64 else _LONG_BITS + 1)))
                out = self._round_result(y.astype(np.float64))
                lo = self._round_result((y - band).astype(np.float64))
                unsure = np.isfinite(a) & ~(np.isnan(lo) & np.isnan(out)) & (
                    lo != self._round_result((y + band).astype(np.float64)))
        if name == "exp" and wide is np.float64 and self.fmt.rounding != DEFAULT_ROUNDING:
            # exp(a) for 0 < |a| < 2^-30 lies strictly between 1 and its float64 neighbour's side, inside a gap
            # of every p ≤ 26 format: the libm band would straddle 1, so round the neighbour instead
            near = (a != 0) & (np.abs(a) < 2.0**-30)
            out[near] = self.fmt.round_array(np.nextafter(1.0, np.where(a[near] > 0, np.inf, -np.inf)))
            unsure &= ~near
        if unsure.any():
            values, inverse = np.unique(a[unsure], return_inverse=True)
            exact = np.array([float(self._exact[name](mpmath.mpf(float(v)))) for v in values])
            out[unsure] = exact[inverse.reshape(-1)]
        return out


def object_ids(x: np.ndarray) -> np.ndarray:
    """The identity of each element of an object array, as int64, in x's shape."""
    return np.fromiter(map(id, x.ravel()), dtype=np.int64, count=x.size).reshape(x.shape)


def per_distinct(op: Callable[..., Any], *operands) -> np.ndarray:
    """op (a NumPy ufunc over object arrays) elementwise, called once per distinct tuple of operand objects: a
    scan's rows share their rivals' objects, and the elements of one tuple get the same result object."""
    args = np.broadcast_arrays(*(np.asarray(x, dtype=object) for x in operands))
    if args[0].size < 64:
        return op(*args)
    key = np.zeros(args[0].size, dtype=np.int64)
    for x in args:  # each operand's objects numbered densely, the numbers combined into one key per tuple
        _, code = np.unique(object_ids(x).ravel(), return_inverse=True)
        key = key * (int(code.max()) + 1) + code.reshape(-1)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    distinct = np.asarray(op(*(x.ravel()[first] for x in args)))
    return distinct[inverse.reshape(-1)].reshape(args[0].shape)


def equals(x: np.ndarray, value) -> np.ndarray:
    """x == value elementwise, as booleans (object arrays: compared once per distinct object)."""
    if x.dtype != object:
        return np.asarray(x == value)
    return per_distinct(np.frompyfunc(lambda v: v == value, 1, 1), x).astype(bool)


def running_max(x: np.ndarray) -> np.ndarray:
    """The running maximum along each row (object arrays: the distinct objects ranked once, the ranks maximised)."""
    if x.dtype != object:
        return np.maximum.accumulate(x, axis=1)
    _, first, inverse = np.unique(object_ids(x).ravel(), return_index=True, return_inverse=True)
    distinct = x.ravel()[first]
    order = sorted(range(len(distinct)), key=lambda i: distinct[i])
    rank, value = np.empty(len(distinct), dtype=np.int64), np.empty(len(distinct), dtype=object)
    r = 0
    for k, i in enumerate(order):  # equal values share a rank (and the first of them stands for it)
        if k and distinct[i] != distinct[order[k - 1]]:
            r += 1
        rank[i] = r
        if value[r] is None:
            value[r] = distinct[i]
    return value[np.maximum.accumulate(rank[inverse.reshape(-1)].reshape(x.shape), axis=1)]


@lru_cache(maxsize=64)  # bounded: mpBITS, decimalDIGITS and δ-grids are formats without end
def _arithmetic_of(fmt: Format) -> Arithmetic:
    return Arithmetic(fmt)


def arithmetic(fmt: Format | str | Arithmetic) -> Arithmetic:
    """The arithmetic of a format, one instance per format (or a ready Arithmetic)."""
    return fmt if isinstance(fmt, Arithmetic) else _arithmetic_of(get_format(fmt))

