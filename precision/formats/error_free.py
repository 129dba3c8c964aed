"""The sign of a float64 operation's rounding error, exactly: what lets a float64 carrier round + − × ÷ under
every rounding mode, not only to nearest-even.

A narrow format (p ≤ 26 bits) computes each operation in float64 and rounds the result s once more. Under
nearest-even that second rounding is innocuous (Figueroa 1995); under a directed mode it is not when s lands on a
value or midpoint of the narrow format while the exact result lies just beside it. Knowing on which side
(`error_sign`) and moving s one float64 step that way (`toward_exact`) puts it strictly inside the same gap of
the narrow format as the exact result, so both round alike under every mode.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

_SPLIT = 134217729.0  # 2^27 + 1, Veltkamp's splitter for float64
_SAFE = (2.0**-960, 2.0**990)  # where Dekker's product and its error neither underflow nor overflow


def _two_product_error(x: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """x·y − p exactly, p = fl(x·y) (Dekker 1971), where |x|, |y|, |p| lie in `_SAFE`."""
    def split(v):
        c = _SPLIT * v
        hi = c - (c - v)
        return hi, v - hi
    xh, xl = split(x)
    yh, yl = split(y)
    return ((xh * yh - p) + xh * yl + xl * yh) + xl * yl


def _exact_sign(name: str, a: float, b: float, s: float) -> int:
    """sign(exact − s) in rationals, for the few elements outside the error-free transforms' range."""
    x, y, r = Fraction(a), Fraction(b), Fraction(s)
    exact = {"add": x + y, "sub": x - y, "mul": x * y, "div": x / y if y else r}[name]
    return (exact > r) - (exact < r)


def error_sign(name: str, a: np.ndarray, b: np.ndarray, s: np.ndarray) -> np.ndarray:
    """sign(a ∘ b − s) per element, ∘ the operation `name`, s = fl(a ∘ b) in float64; 0 where s is not finite."""
    a, b, s = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), s)
    finite = np.isfinite(s) & np.isfinite(a) & np.isfinite(b)
    with np.errstate(all="ignore"):
        if name in ("add", "sub"):  # Knuth's TwoSum: exact for every finite pair that does not overflow
            y = b if name == "add" else -b
            yv = s - a
            err = (a - (s - yv)) + (y - yv)
            safe = finite
        elif name == "mul":
            err = _two_product_error(a, b, s)
            safe = finite & (np.abs(s) >= _SAFE[0]) & (np.abs(s) <= _SAFE[1]) & (np.abs(a) <= _SAFE[1]) \
                & (np.abs(b) <= _SAFE[1])
        else:  # div: a − q·b = (a − P) − E with P + E = q·b (Dekker), a − P exact (Sterbenz); then over b
            prod = s * b
            rem = (a - prod) - _two_product_error(s, b, prod)
            err = rem * np.sign(b)
            safe = finite & (b != 0) & (np.abs(prod) >= _SAFE[0]) & (np.abs(prod) <= _SAFE[1]) \
                & (np.abs(s) >= _SAFE[0]) & (np.abs(s) <= _SAFE[1])
    zero = (a == 0) | ((b == 0) & (name == "mul"))  # 0 × b, a × 0 and 0 / b are exact
    out = np.where(safe & ~zero, np.sign(err), 0).astype(np.int8)
    for i in zip(*np.nonzero(finite & ~safe & ~zero)):
        out[i] = _exact_sign(name, float(a[i]), float(b[i]), float(s[i]))
    return out


def toward_exact(s: np.ndarray, sign: np.ndarray, precision: int, emin: int) -> np.ndarray:
    """s moved one float64 step toward the exact result (side `sign`) where s is a value or a midpoint of the
    format of `precision` bits and smallest normal exponent `emin`; elsewhere s is already strictly inside the
    exact result's gap of the format (it is within half a float64 step of it, and 53 > p + 1)."""
    with np.errstate(all="ignore"):
        _, e2 = np.frexp(s)
        q = np.maximum(e2 - 1, emin) - precision  # the quantum of the (p+1)-bit grid of values and midpoints
        scaled = np.ldexp(s, -q)
        on_grid = (sign != 0) & np.isfinite(s) & (scaled == np.rint(scaled))
    return np.where(on_grid, np.nextafter(s, np.where(sign > 0, np.inf, -np.inf)), s)
