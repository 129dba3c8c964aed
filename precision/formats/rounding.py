"""Rounding modes: how a real between two neighbouring values of a format is rounded, as one rule used by the
scalar (exact integer) and the array (float64 carrier) rounding of every binary format.

Every mode rounds the magnitude n + f (n an integer, 0 ≤ f < 1) to n or n + 1 given the sign: the nearest modes
by f against 1/2 (a tie to the even n, or away from zero), the directed ones by the sign alone, round-to-odd to
whichever of n and n + 1 is odd when f ≠ 0 (Boldo & Melquiond 2008; exact values are kept).
"""
from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from precision.common.errors import InputError

RoundingMode = Literal["nearest-even", "nearest-away", "toward-zero", "toward-positive", "toward-negative",
                       "to-odd"]
ROUNDING_MODES: tuple[RoundingMode, ...] = get_args(RoundingMode)
DEFAULT_ROUNDING: RoundingMode = "nearest-even"
NEAREST: tuple[RoundingMode, ...] = ("nearest-even", "nearest-away")


def check_rounding(mode: str) -> RoundingMode:
    """The mode itself, or one clear line naming the modes."""
    if mode not in ROUNDING_MODES:
        raise InputError("rounding", f"unknown mode {mode!r}; expected one of {', '.join(ROUNDING_MODES)}")
    return mode


def rounds_up(n: int, rem: int, half: int, negative: bool, mode: RoundingMode) -> bool:
    """Whether the magnitude n + rem/(2·half) (0 ≤ rem < 2·half) rounds to n + 1 rather than n."""
    if rem == 0:
        return False
    if mode == "nearest-even":
        return rem > half or (rem == half and bool(n & 1))
    if mode == "nearest-away":
        return rem >= half
    if mode == "toward-zero":
        return False
    if mode == "toward-positive":
        return not negative
    if mode == "toward-negative":
        return negative
    return not n & 1  # to-odd


def overflows_to_infinity(mode: RoundingMode, negative: bool) -> bool:
    """IEEE 754 §7.4: a result past the largest finite value becomes ±∞ under the nearest modes and when rounded
    away from zero; toward zero (and round-to-odd, whose largest finite significand 1.1…1 is odd) it becomes
    ±largest finite."""
    if mode in NEAREST:
        return True
    return (mode == "toward-positive" and not negative) or (mode == "toward-negative" and negative)


def round_integers(v: np.ndarray, mode: RoundingMode) -> np.ndarray:
    """float64 values rounded to integers under `mode` (|v| < 2^52, so v ± 1/2 is exact)."""
    if mode == "nearest-even":
        return np.rint(v)
    if mode == "nearest-away":
        return np.copysign(np.floor(np.abs(v) + 0.5), v)
    if mode == "toward-zero":
        return np.trunc(v)
    if mode == "toward-positive":
        return np.ceil(v)
    if mode == "toward-negative":
        return np.floor(v)
    t = np.trunc(v)  # to-odd: the truncation where exact or already odd, else the odd neighbour away from zero
    return np.where((t == v) | (np.fmod(t, 2) != 0), t, t + np.sign(v))
