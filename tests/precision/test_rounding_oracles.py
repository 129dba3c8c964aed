"""The project's rounding against two independent emulators, gfloat and pychop: every gap of each 8-bit format
(every value, midpoint and quarter point, and past the largest finite value) in every deterministic mode, and
10^5 random values per mode for the 16- and 32-bit formats. Each disagreement is judged by the definition of the
mode in exact rational arithmetic; the project must be right at every one, and the libraries' wrong answers must
be the known ones listed in `KNOWN` (a new kind fails the test, naming the library, the value and the answers).
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

from precision.formats.named_formats import get_format
from precision.formats.number_formats import to_fraction
from precision.formats.rounding import ROUNDING_MODES

gfloat = pytest.importorskip("gfloat")
pychop = pytest.importorskip("pychop")
from gfloat import formats as gf  # noqa: E402

GFLOAT_MODES = {"nearest-even": gfloat.RoundMode.TiesToEven, "nearest-away": gfloat.RoundMode.TiesToAway,
                "toward-zero": gfloat.RoundMode.TowardZero, "toward-positive": gfloat.RoundMode.TowardPositive,
                "toward-negative": gfloat.RoundMode.TowardNegative}  # gfloat 0.5 has no deterministic to-odd
PYCHOP_MODES = {"nearest-even": 1, "toward-positive": 2, "toward-negative": 3, "toward-zero": 4,
                "nearest-away": 8, "to-odd": 9}
# gfloat names no IEEE-style e4m3 (largest 240, then ∞): built as its e5m2 is, with 4 bits of precision, bias 7 and the
# seven NaN patterns of an all-ones exponent
IEEE_E4M3 = dataclasses.replace(gf.format_info_ocp_e5m2, name="ieee_e4m3", precision=4, bias=7, num_high_nans=7)
FORMATS = {"float8_e4m3fn": (gf.format_info_ocp_e4m3, (4, 3)), "float8_e4m3": (IEEE_E4M3, (4, 3)),
           "float8_e5m2": (gf.format_info_ocp_e5m2, (5, 2)),
           "float16": (gf.format_info_binary16, (5, 10)), "bfloat16": (gf.format_info_bfloat16, (8, 7)),
           "float32": (gf.format_info_binary32, (8, 23))}
# pychop's e4m3 is IEEE-style (largest 240, then ∞), not e4m3fn: compared below 240 only, where the grids agree.
PYCHOP_RANGE = {"float8_e4m3fn": 240.0}
# Wrong answers of pychop 0.6.2 found by this test, each judged by the exact definition:
# - "overflow": past the largest finite value it returns 0, 2^(emax+1) (not a value) or ±∞ where IEEE 754 §7.4
#   gives ±largest finite (toward zero, and toward the other infinity);
# - "odd-moves-exact": its round-to-odd moves a value of the format with an even significand to an odd
#   neighbour (round-to-odd keeps exact values: Boldo & Melquiond 2008);
# - "negative-tie-toward-zero": its ties-away rounds a negative tie toward zero (toward +∞), not away from zero.
KNOWN = {"pychop": {"overflow", "odd-moves-exact", "negative-tie-toward-zero"}, "gfloat": set()}


def definition(fmt, x: float, mode: str) -> float:
    """x rounded under `mode` onto the IEEE-style grid of `fmt`, in rationals (the mode's definition)."""
    if x == 0:
        return 0.0
    neg, a = x < 0, Fraction(abs(x))
    e = math.frexp(abs(x))[1] - 1
    q = Fraction(2) ** (max(e, fmt.emin) - fmt.precision + 1)
    n = a // q
    lo, rest = n * q, a - n * q
    if rest == 0:
        r = lo
    else:
        up = {"nearest-even": rest > q / 2 or (rest == q / 2 and n % 2 == 1), "nearest-away": rest >= q / 2,
              "toward-zero": False, "toward-positive": not neg, "toward-negative": neg, "to-odd": n % 2 == 0}[mode]
        r = lo + q if up else lo
    top = to_fraction(fmt.max_finite)
    if r > top:
        away = mode in ("nearest-even", "nearest-away") or mode == ("toward-negative" if neg else "toward-positive")
        r = math.inf if away and fmt.overflow == "inf" else top
    return -float(r) if neg else float(r)


def every_gap(fmt) -> np.ndarray:
    v = fmt.values_at(np.arange(fmt.max_index + 1))
    x = np.concatenate([v, (v[:-1] + v[1:]) / 2, 0.75 * v[:-1] + 0.25 * v[1:], 0.25 * v[:-1] + 0.75 * v[1:],
                        v[-1] * np.linspace(1, 2.5, 61)])
    return np.concatenate([x, -x])


def random_values(fmt, n: int = 100_000) -> np.ndarray:
    rng = np.random.default_rng(26)
    e = rng.integers(fmt.emin - fmt.precision - 2, fmt.emax + 3, n)
    x = np.ldexp(1 + rng.random(n), e) * rng.choice([-1.0, 1.0], n)
    halves = np.ldexp(np.floor(np.ldexp(x[: n // 4], fmt.precision)) + 0.5, -fmt.precision)  # ties near 1
    return np.concatenate([halves, x[n // 4:]])


def kind(fmt, x: float, theirs: float, mode: str) -> str:
    if abs(x) > float(fmt.max_finite):
        return "overflow"
    if mode == "to-odd" and definition(fmt, x, "toward-zero") == x:
        return "odd-moves-exact"
    low, high = definition(fmt, x, "toward-zero"), definition(fmt, x, "toward-negative" if x < 0 else "toward-positive")
    if mode == "nearest-away" and x < 0 and x - high == low - x and theirs == low:
        return "negative-tie-toward-zero"
    return f"other: {mode} x={x!r} gives {theirs!r}"


def compare(name: str, mode: str, x: np.ndarray, library: str, theirs: np.ndarray) -> set[str]:
    fmt = get_format(name).with_rounding(mode)
    ours = fmt.round_array(x)
    differ = ~((ours == theirs) | (np.isnan(ours) & np.isnan(theirs)))
    kinds = set()
    for xi, oi, ti in zip(x[differ], ours[differ], theirs[differ]):
        right = definition(fmt, float(xi), mode)
        assert oi == right, f"{name} {mode} x={xi!r}: ours {oi!r}, {library} {ti!r}, definition {right!r}"
        kinds.add(kind(fmt, float(xi), float(ti), mode))
    return kinds


def gfloat_round(name, mode, x):
    fi = FORMATS[name][0]
    return np.asarray(gfloat.round_ndarray(fi, x, GFLOAT_MODES[mode], sat=get_format(name).overflow == "saturate"),
                      dtype=np.float64)


def pychop_round(name, mode, x):
    x = x[np.abs(x) < PYCHOP_RANGE[name]] if name in PYCHOP_RANGE else x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return x, np.asarray(pychop.Chop(*FORMATS[name][1], rmode=PYCHOP_MODES[mode])(x.copy()), dtype=np.float64)


@pytest.mark.parametrize("name", list(FORMATS))
def test_rounding_agrees_with_gfloat_and_pychop_or_the_library_is_wrong(name):
    fmt = get_format(name)
    x = every_gap(fmt) if fmt.max_index < 256 else random_values(fmt)
    found: dict[str, set[str]] = {"gfloat": set(), "pychop": set()}
    for mode in ROUNDING_MODES:
        if mode in GFLOAT_MODES:
            found["gfloat"] |= compare(name, mode, x, "gfloat", gfloat_round(name, mode, x))
        xs, theirs = pychop_round(name, mode, x)
        found["pychop"] |= compare(name, mode, xs, "pychop", theirs)
    for library, kinds in found.items():
        assert kinds <= KNOWN[library], f"{library} {name}: new kind of disagreement {kinds - KNOWN[library]}"


def test_the_judge_catches_a_wrong_rounding():
    """The definition is no rubber stamp: a library answer one step off is a new kind, which fails the test."""
    fmt = get_format("float8_e5m2")
    assert definition(fmt, 1.125, "nearest-even") == 1.0 and definition(fmt, 1.125, "nearest-away") == 1.25
    kinds = compare("float8_e5m2", "toward-zero", np.array([1.3, 1.25]), "a broken library", np.array([1.5, 1.25]))
    assert kinds == {"other: toward-zero x=1.3 gives 1.5"} and not kinds <= KNOWN["pychop"]
