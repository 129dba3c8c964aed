"""Saturation thresholds are exact on the format's grid."""

from decimal import Decimal
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from precision.emulated.algorithms import softmax
from precision.emulated.thresholds import GapScan, closed_forms, sum_exceeds_one, thresholds
from precision.formats.named_formats import get_format
from precision.formats.number_formats import to_fraction


def top(fmt, algorithm, gap, classes=2, **kw):
    return softmax([[gap] + [0.0] * (classes - 1)], fmt, algorithm, **kw)[0, 0]


@pytest.mark.parametrize("fmt", ["float16", "bfloat16", "float32", "float64", "float8_e5m2"])
@pytest.mark.parametrize("algorithm", ["shifted", "shifted_reciprocal", "online", "logsumexp"])
@pytest.mark.parametrize("classes", [2, 10])
def test_threshold_saturates_and_the_gap_just_below_does_not(fmt, algorithm, classes):
    t = thresholds(fmt, algorithm, classes)
    f = get_format(fmt)
    g = to_fraction(t.top_is_one_from_gap)
    below = f.value_at(f.index_of(f.round(g)) - 1)
    assert top(fmt, algorithm, float(g), classes) == 1
    assert top(fmt, algorithm, float(below), classes) < 1
    z = to_fraction(t.others_zero_from_gap) if t.others_zero_from_gap else None
    if z is not None:
        zb = float(f.value_at(f.index_of(f.round(z)) - 1))
        assert np.all(softmax([[float(z)] + [0.0] * (classes - 1)], fmt, algorithm)[0, 1:] == 0)
        assert np.any(softmax([[zb] + [0.0] * (classes - 1)], fmt, algorithm)[0, 1:] != 0)


@pytest.mark.parametrize("algorithm", ["shifted", "online", "naive", "logsumexp_log1p"])
def test_search_agrees_with_exhaustive_scan_on_float16(algorithm):
    a = thresholds("float16", algorithm, 10, exhaustive=True)
    b = thresholds("float16", algorithm, 10, exhaustive=False)
    assert a.method == "exhaustive" and b.method.startswith("search")
    assert (a.top_is_one_from_gap, a.others_zero_from_gap, a.nan_from_gap) == \
           (b.top_is_one_from_gap, b.others_zero_from_gap, b.nan_from_gap)


def test_two_class_float_thresholds_match_the_closed_form_p_ln2():
    """Max-shifted, two classes: the sum 1 + e^−g rounds to 1 from g = p·ln 2 (rounded up onto the grid)."""
    for fmt in ("float16", "bfloat16", "float32", "float64"):
        t = thresholds(fmt, "shifted", 2)
        f = get_format(fmt)
        cf = closed_forms(f, 2, "equal")["shifted_sum_absorbs"]
        assert abs(float(t.top_is_one_from_gap) - cf) <= 2 * float(f.epsilon) * cf + 1e-12


def test_float32_two_class_numbers():
    t = thresholds("float32", "shifted", 2)
    assert t.top_is_one_from_gap == 16.63553237915039  # the engine carries the float32 values themselves
    assert t.others_zero_from_gap == 103.97208404541016
    assert t.sum_exceeds_one == (16.63553237915039, 103.97208404541016)
    assert t.as_dict()["sum_exceeds_one"] == ["16.635532379150390625", "103.97208404541015625"]  # exact, at the edge


def test_sum_exceeds_one_is_the_gaps_from_top_one_to_others_zero():
    one, zero = mpmath.mpf("5.5625"), mpmath.mpf(93)
    assert sum_exceeds_one(one, zero) == (one, zero)
    assert sum_exceeds_one(Fraction(1, 2), None) == (Fraction(1, 2), None)  # the others never all 0
    assert sum_exceeds_one(Decimal("2.5"), Decimal("2.50")) is None  # 0 with the top's 1: the sum is 1
    assert sum_exceeds_one(7.0, 0.0) is None and sum_exceeds_one(None, 93.0) is None
    assert sum_exceeds_one(one, zero, log_space=True) is None and sum_exceeds_one(one, None, log_space=True) is None


def test_naive_overflows_to_nan_and_that_is_reported():
    t = thresholds("float16", "naive", 2)
    assert t.nan_from_gap == 11.09375  # e^11.09375 > 65504
    assert t.top_not_one_after_first[-1] == (11.09375, 65504.0)


def test_delta_grid_thresholds_follow_the_rounding_rule():
    nearest, paper = thresholds("delta0.01", "shifted", 2), thresholds("delta0.01-paper", "shifted", 2)
    assert nearest.top_is_one_from_gap > paper.top_is_one_from_gap


def test_exhaustive_counts_distinct_top_outputs():
    t = thresholds("float8_e4m3fn", "shifted", 2)
    assert t.method == "exhaustive" and t.distinct_top_outputs == 8


@pytest.mark.parametrize("kw, message", [
    ({"classes": 1}, "classes: must be an integer ≥ 2"), ({"rivals": "many"}, "rivals: must be"),
    ({"rivals": [1.0, 2.0]}, "needs classes−1"), ({"algorithm": "x"}, "algorithm: unknown")])
def test_bad_configurations_are_refused(kw, message):
    args = {"fmt": "float32", "algorithm": "shifted", "classes": 2, "rivals": "equal"} | kw
    with pytest.raises(ValueError, match=message):
        GapScan(**args)
