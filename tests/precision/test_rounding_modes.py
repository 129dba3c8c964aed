"""Rounding modes as a property of the arithmetic: scalar rounding against the definitions on an enumerated grid,
the float64 carrier against the exact scalar operations, thresholds of the carrier against the pure-Python path,
and the closed forms against the computed thresholds."""
from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from precision.common.errors import InputError
from precision.emulated.thresholds import thresholds
from precision.formats.arithmetic import Arithmetic
from precision.formats.binary import BinaryFormat
from precision.formats.named_formats import get_format
from precision.formats.number_formats import to_fraction
from precision.formats.rounding import ROUNDING_MODES

SMALL = ("float8_e4m3fn", "float8_e5m2")


def reference_round(values: list[Fraction], x: Fraction, mode: str, fmt: BinaryFormat) -> Fraction | float:
    """x rounded by the definition of `mode` onto the sorted non-negative `values` (and their negatives)."""
    neg, a = x < 0, abs(x)
    top = values[-1]
    if a > top:  # IEEE 754 §7.4 (nearest: from max + half a step on), or the saturating cast
        step = Fraction(2) ** (fmt.emax - fmt.precision + 1)
        to_inf = a >= top + step / 2 if mode in ("nearest-even", "nearest-away") else (
            mode == ("toward-negative" if neg else "toward-positive"))
        if to_inf and fmt.overflow == "inf":
            return -math.inf if neg else math.inf
        return -top if neg else top
    i = next(k for k, v in enumerate(values) if v >= a)
    if values[i] == a:
        return x
    lo, hi = values[i - 1], values[i]
    down = {"nearest-even": None, "nearest-away": None, "toward-zero": True, "toward-positive": neg,
            "toward-negative": not neg, "to-odd": (i - 1) % 2 == 1}[mode]
    if down is None:
        d = (a - lo) - (hi - a)
        down = d < 0 or (d == 0 and (mode == "nearest-even" and (i - 1) % 2 == 0))
    r = lo if down else hi
    return -r if neg else r


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("mode", ROUNDING_MODES)
def test_scalar_rounding_is_the_definition_on_every_gap_of_a_float8(name, mode):
    fmt = get_format(name).with_rounding(mode)
    values = [to_fraction(fmt.value_at(i)) for i in range(fmt.max_index + 1)]
    probes = {Fraction(0)}
    for lo, hi in zip(values, values[1:]):
        w = hi - lo
        probes |= {lo, lo + w / 4, lo + w / 2, lo + 3 * w / 4, lo + w / 2 - w / 1024, lo + w / 2 + w / 1024}
    top = values[-1]
    probes |= {top * Fraction(k, 32) for k in range(32, 80)} | {values[1] / 3, values[1] / 2, values[1] * 2 / 3}
    for x in sorted(probes) + [-p for p in probes]:
        want = reference_round(values, x, mode, fmt)
        got = fmt.round(x)
        assert (float(got) == want) if isinstance(want, float) else to_fraction(got) == want, (name, mode, x)
        if fmt.carrier and float(x) == x:
            arr = fmt.round_array(np.array([float(x)]))[0]
            assert arr == float(got), (name, mode, x, arr, got)


@pytest.mark.parametrize("mode", ROUNDING_MODES)
@settings(max_examples=60, deadline=None)
@given(a=st.floats(-1e4, 1e4, allow_subnormal=True), b=st.floats(-1e4, 1e4, allow_subnormal=True))
def test_carrier_operations_equal_the_exact_operations(mode, a, b):
    for name in ("bfloat16", "float16", "float8_e5m2"):
        fmt = get_format(name).with_rounding(mode)
        ar = Arithmetic(fmt)
        x, y = ar.array(np.array([a, b]))
        mx, my = mpmath.mpf(float(x)), mpmath.mpf(float(y))
        for op in ("add", "sub", "mul", "div"):
            if op == "div" and y == 0:
                continue
            got = getattr(ar, op)(np.array([x]), np.array([y]))[0]
            want = getattr(fmt, op)(mx, my)
            assert got == float(want), (name, mode, op, x, y)
        for op, ok in (("exp", x <= 80), ("log", x > 0), ("log1p", x > -1)):
            if ok:
                assert getattr(ar, op)(np.array([x]))[0] == float(getattr(fmt, op)(mx)), (name, mode, op, x)


def test_the_exact_exp_of_a_tiny_argument_is_rounded_by_its_side_of_1():
    """exp(6.09e-22) is above 1: rounding up gives 1's next value (mpmath's interval exp at 56 bits says [1, 1];
    hypothesis found it in CI)."""
    a = mpmath.mpf(6.088049308390284e-22)
    assert get_format("bfloat16@toward-positive").exp(a) == 1 + 2.0**-7
    assert get_format("bfloat16@toward-negative").exp(-a) == 1 - 2.0**-8
    assert get_format("bfloat16").exp(a) == 1


def test_carrier_sees_the_side_of_an_exact_result_next_to_a_grid_point():
    """1 + 2^-60 is 1.0 in float64 but above 1: rounding up must see it (and 1 − 2^-60 below 1)."""
    ar = Arithmetic(get_format("float16@toward-positive"))
    assert ar.add(np.array([1.0]), np.array([2.0**-24]))[0] == 1 + 2.0**-10
    down = Arithmetic(get_format("float16@toward-negative"))
    assert down.sub(np.array([1.0]), np.array([2.0**-24]))[0] == 1 - 2.0**-11
    assert down.div(np.array([1.0]), np.array([1.0 + 2.0**-10]))[0] == 1 - 2 * 2.0**-11
    assert down.exp(np.array([-(2.0**-40)]))[0] == 1 - 2.0**-11


@dataclass(frozen=True, eq=True)
class ObjectOnly(BinaryFormat):
    """The same format computed on exact mpf values (the pure-Python path) instead of float64 arrays."""

    @property
    def carrier(self) -> bool:
        return False


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("mode", ROUNDING_MODES)
def test_thresholds_of_the_carrier_equal_the_exact_path(name, mode):
    fmt = get_format(name).with_rounding(mode)
    exact = ObjectOnly(**{k: getattr(fmt, k) for k in fmt.__dataclass_fields__})
    for algorithm, classes in (("shifted", 2), ("naive", 2), ("logsumexp", 2), ("shifted", 5)):
        a = thresholds(fmt, algorithm, classes, exhaustive=True).as_dict()
        b = thresholds(exact, algorithm, classes, exhaustive=True).as_dict()
        assert a == b, (name, mode, algorithm, classes)


def _first_gap_above(fmt, bound: float | None):
    if bound is None:
        return None
    i = fmt.index_of(fmt.round(Fraction(bound)))
    while to_fraction(fmt.value_at(i)) <= Fraction(bound):
        i += 1
    return to_fraction(fmt.value_at(i))


@pytest.mark.parametrize("name", ("bfloat16", "float16", "float32", *SMALL))
@pytest.mark.parametrize("mode", ROUNDING_MODES[1:])
def test_closed_forms_give_the_computed_thresholds(name, mode):
    t = thresholds(f"{name}@{mode}", "shifted", 2)
    form = t.closed_form
    fmt = get_format(name)
    got = lambda v: None if v is None else to_fraction(v)
    assert got(t.top_is_one_from_gap) == _first_gap_above(fmt, form["shifted_sum_absorbs"])
    assert got(t.others_zero_from_gap) == _first_gap_above(fmt, form["others_zero"])
    if mode in ("toward-zero", "toward-negative"):  # (p − 1)·ln 2: ln 2 before nearest-even's p·ln 2
        assert form["shifted_sum_absorbs"] == pytest.approx((fmt.precision - 1) * math.log(2))
    # the top-first sum keeps the same threshold with many equal rivals
    many = thresholds(f"{name}@{mode}", "shifted", 1000 if name in SMALL else 50)
    assert got(many.top_is_one_from_gap) == got(t.top_is_one_from_gap)


def test_a_wrong_closed_form_is_caught():
    t = thresholds("bfloat16@toward-zero", "shifted", 2)
    assert to_fraction(t.top_is_one_from_gap) != _first_gap_above(get_format("bfloat16"), 8 * math.log(2))


def test_nearest_even_is_the_default_format_itself():
    assert get_format("bfloat16@nearest-even") == get_format("bfloat16")
    assert get_format("bfloat16@nearest-even").name == "bfloat16"
    assert "rounding" not in thresholds("bfloat16", "shifted", 2).closed_form


def test_rounding_modes_refused_where_the_format_has_none():
    with pytest.raises(InputError, match="rounding"):
        get_format("delta0.01@toward-zero")
    with pytest.raises(InputError, match="unknown mode"):
        get_format("float16@sideways")


def test_directed_modes_overflow_as_ieee_says():
    up, zero = get_format("float16@toward-positive"), get_format("float16@toward-zero")
    assert up.round(70000) == mpmath.inf and up.round(-70000) == -65504
    assert zero.round(1e300) == 65504 and zero.round(-1e300) == -65504
    assert get_format("float16@toward-negative").round(-70000) == -mpmath.inf


def test_cli_thresholds_rounding():
    run = lambda *a: subprocess.run([sys.executable, "-m", "softmax_sat", "thresholds", *a],
                                    capture_output=True, text=True)
    ok = run("--format", "bfloat16", "--rounding", "toward-zero")
    assert ok.returncode == 0 and '"top_is_one_from_gap": "4.875"' in ok.stdout
    refused = run("--kernel", "numpy", "--rounding", "toward-zero")
    assert refused.returncode == 2 and "--rounding" in refused.stderr


def test_report_section_lists_every_mode_with_its_closed_form():
    from precision.report.rounding_modes import rounding_mode_markdown, rounding_mode_rows
    rows = rounding_mode_rows(["float8_e5m2", "delta0.01"])
    assert [r["format"] for r in rows if r["classes"] == 2] == \
        ["float8_e5m2" if m == "nearest-even" else f"float8_e5m2@{m}" for m in ROUNDING_MODES]
    md = rounding_mode_markdown(rows)
    assert "| float8_e5m2@toward-zero | 2 | 1.5 | 1.38629 | 12 | 11.0904 |" in md
    # toward +inf, 999 additions each round up a whole step: the sum overflows and every output is 0
    up = next(r for r in rows if r["format"] == "float8_e5m2@toward-positive" and r["classes"] == 1000)
    assert up["top_is_one_from_gap"] is None and up["others_zero_from_gap"] == "0"


def test_the_exact_exp_of_an_argument_far_below_any_precision_rounds_as_its_side_of_1():
    """mp113's exponents reach 2^-(2^40): the working precision stays bounded (the report once aborted in GMP,
    "overflow in mpz type"), and the result is still the side of 1 the argument is on."""
    a = mpmath.ldexp(1, -(2**39))
    assert to_fraction(get_format("mp113").exp(a)) == 1
    assert to_fraction(get_format("mp113@toward-positive").exp(a)) == 1 + Fraction(1, 2**112)
    assert to_fraction(get_format("mp113@toward-negative").exp(-a)) == 1 - Fraction(1, 2**113)
    assert get_format("float16@toward-positive").exp(a) == 1 + 2.0**-10
