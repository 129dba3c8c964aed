"""The one place that reads mpmath's internals: the exact parts of an mpf, and the exact ends of an interval.

mpmath exposes neither through its public API without rounding, and exact rounding needs both.
"""
from __future__ import annotations

import mpmath


def mpf_parts(x: mpmath.mpf) -> tuple[bool, int, int]:
    """(negative, mantissa, exponent) with |x| = mantissa · 2^exponent exactly (x finite)."""
    negative, man, exp, _ = x._mpf_
    return bool(negative), int(man), int(exp)  # int(): with gmpy2, mpmath hands out gmpy2.mpz


def interval_ends(y) -> tuple[mpmath.mpf, mpmath.mpf]:
    """The two ends of a `mpmath.iv` interval as exact mpf values (no re-rounding to the working precision)."""
    return tuple(mpmath.mp.make_mpf(end) for end in y._mpi_)
