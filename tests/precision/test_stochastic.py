"""Stochastic rounding enumerated exactly: outcome probabilities against gfloat's stochastic rounding (every one of
its random draws enumerated), the enumeration against sampling, and exact values where they are known."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from precision.common.errors import InputError
from precision.emulated.stochastic import Stochastic, first_reaching, monte_carlo_top, stochastic_curve, stochastic_top
from precision.formats.named_formats import get_format
from precision.formats.number_formats import to_fraction


@pytest.mark.parametrize("name", ["bfloat16", "float8_e5m2", "float8_e4m3fn"])
def test_outcome_probabilities_equal_gfloats_enumerated_draws(name):
    gfloat = pytest.importorskip("gfloat")
    from gfloat import formats as gf
    fi = {"bfloat16": gf.format_info_bfloat16, "float8_e5m2": gf.format_info_ocp_e5m2,
          "float8_e4m3fn": gf.format_info_ocp_e4m3}[name]
    sr = Stochastic(get_format(name))
    bits = 10
    rng = np.random.default_rng(3)
    for x in np.concatenate([rng.random(20) * 3, [1.2, 0.3, 0.001]]):
        o = sr.outcomes(Fraction(float(x)))
        ours = float(o[1][1]) if len(o) == 2 else 0.0
        ups = sum(gfloat.round_float(fi, float(x), gfloat.RoundMode.Stochastic, srbits=k, srnumbits=bits) > x
                  for k in range(2**bits))
        assert abs(ups / 2**bits - ours) <= 2.0**-bits, (name, x, ups, ours)  # gfloat draws 10 bits


@pytest.mark.parametrize("name, gap, classes", [("bfloat16", 5.5625, 2), ("bfloat16", 5.5625, 3),
                                                ("float8_e5m2", 2.5, 2), ("float8_e4m3fn", 3.0, 4)])
def test_enumeration_agrees_with_sampling(name, gap, classes):
    exact = float(stochastic_top(name, gap, classes).p_top_one)
    estimate, half_width = monte_carlo_top(name, gap, classes, samples=4000, seed=1)
    assert abs(estimate - exact) <= half_width, (exact, estimate, half_width)


def test_known_values():
    at_zero = stochastic_top("bfloat16", 0)  # 1/(1 + 1) = 1/2 exactly: never 1
    assert at_zero.p_top_one == 0 and at_zero.expected_top == Fraction(1, 2)
    t = stochastic_top("float8_e5m2", 2.5)
    assert 0 < t.p_top_one < 1 and t.sum_support == 2


def test_curve_never_reaches_one_and_its_levels_are_ordered():
    curve = stochastic_curve("float8_e4m3fn")
    first = first_reaching(curve)
    assert first["1"] is None and 0 < curve[-1].p_top_one < 1  # e^−g > 0 rounds up with a positive probability
    assert first["1/2"] < first["99/100"]
    assert Fraction(first["1/2"]) == Fraction(3)  # e4m3fn, 2 classes (computed; nearest-even's threshold is 2.75)


def test_refusals():
    with pytest.raises(InputError):
        stochastic_top("bfloat16@toward-zero", 1.0)
    with pytest.raises(InputError):
        stochastic_top("float8_e5m2", 1e30)


def test_report_rows_and_figure(tmp_path):
    from precision.report.rounding_modes import stochastic_figure, stochastic_markdown, stochastic_rows
    rows = stochastic_rows(["float8_e5m2"])
    assert rows[0]["first_reaching"] == {"1/2": "2.5", "99/100": "6", "1": None}
    assert "| float8_e5m2 | 2.5 | 6 | never |" in stochastic_markdown(rows)
    assert stochastic_figure(rows, tmp_path).stat().st_size > 1000


@pytest.mark.parametrize("name", ["bfloat16", "float16", "float8_e4m3fn", "float8_e5m2fnuz", "float4_e2m1fn"])
def test_outcomes_are_the_two_directed_roundings(name):
    fmt = get_format(name)
    sr, down, up = Stochastic(fmt), fmt.with_rounding("toward-zero"), fmt.with_rounding("toward-positive")
    rng = np.random.default_rng(5)
    top = to_fraction(fmt.max_finite)
    xs = [Fraction(int(n), int(d)) * top for n, d in zip(rng.integers(1, 10**6, 200), rng.integers(10**6, 10**9, 200))]
    xs += [to_fraction(fmt.value_at(i)) for i in range(min(40, fmt.max_index + 1))]
    xs += [to_fraction(fmt.smallest_subnormal) / 3, Fraction(1) + to_fraction(fmt.epsilon) / 2]
    for x in xs:
        lo, hi = to_fraction(down.round(x)), to_fraction(up.round(x))
        expected = [(x, 1)] if lo == x else [(lo, (hi - x) / (hi - lo)), (hi, (x - lo) / (hi - lo))]
        assert sr.outcomes(x) == expected, (name, x)


def test_the_bfloat16_curve_reaches_its_levels_where_the_readme_says():
    first = first_reaching(stochastic_curve("bfloat16"))
    assert first == {"1/2": Fraction("5.5625"), "99/100": Fraction("9.5"), "1": None}
