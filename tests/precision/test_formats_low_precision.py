"""ml_dtypes' other narrow formats (float8 e4m3, e3m4 and the fnuz ones, float6, float4) as formats of the emulated
arithmetic: rounding equal to ml_dtypes' casts on every gap, overflow as each format defines it, thresholds."""
from __future__ import annotations

import ml_dtypes
import mpmath
import numpy as np
import pytest

from precision.emulated.thresholds import thresholds
from precision.formats.named_formats import LOW_PRECISION, get_format

NAMES = [f.name for f in LOW_PRECISION]


@pytest.mark.parametrize("name", NAMES)
def test_rounding_equals_ml_dtypes_on_every_gap(name):
    fmt = get_format(name)
    v = fmt.values_at(np.arange(fmt.max_index + 1))
    x = np.concatenate([v, (v[:-1] + v[1:]) / 2, 0.7 * v[:-1] + 0.3 * v[1:], v[-1] * np.linspace(1, 3, 50),
                        [np.inf]])
    x = np.concatenate([x, -x])
    with np.errstate(over="ignore"):
        native = x.astype(getattr(ml_dtypes, name)).astype(np.float64)
    assert np.array_equal(fmt.round_array(x), native, equal_nan=True)
    assert np.array_equal([float(fmt.round(mpmath.mpf(t))) for t in x], native, equal_nan=True)
    assert float(fmt.max_finite) == float(ml_dtypes.finfo(getattr(ml_dtypes, name)).max)


def test_overflow_means_what_each_format_says():
    assert mpmath.isnan(get_format("float8_e4m3fnuz").round(1000))  # no infinity: past the largest, NaN
    assert get_format("float6_e2m3fn").round(1000) == 7.5  # neither: saturate
    assert get_format("float8_e3m4").round(1000) == mpmath.inf  # IEEE-style
    assert get_format("float8_e4m3").round(247.9) == 240 and get_format("float8_e4m3").round(248) == mpmath.inf
    # under toward-zero an fnuz overflow is the largest finite, as IEEE's ∞ would be
    assert get_format("float8_e4m3fnuz@toward-zero").round(1000) == 240


@pytest.mark.parametrize("name, top, zero, nan", [
    # e4m3, by hand: 1 + e^-g rounds to 1 from e^-g ≤ 2^-4 (as e4m3fn: the same p); e^-g to 0 from 2^-10 (half its
    # least subnormal 2^-9: 7, not 6.5); e^g to ∞ from 240 + 8 (6, not 5.5)
    ("float8_e4m3", "2.75", "7", "6"),
    ("float8_e3m4", "3.25", "5", "2.875"), ("float8_e4m3fnuz", "2.75", "8", "6"), ("float8_e5m2fnuz", "2", "14", "12"),
    ("float8_e4m3b11fnuz", "2.75", "10", "3.5"), ("float6_e2m3fn", "3", "3", None),
    ("float6_e3m2fn", "2", "3.5", None), ("float4_e2m1fn", "1.5", "1.5", None)])
def test_two_class_thresholds(name, top, zero, nan):
    shifted, naive = thresholds(name, "shifted", 2).as_dict(), thresholds(name, "naive", 2).as_dict()
    assert (shifted["top_is_one_from_gap"], shifted["others_zero_from_gap"]) == (top, zero)
    assert naive["nan_from_gap"] == nan  # exp(u) overflows: to NaN (fnuz), to ∞ then ∞/∞ (e3m4); saturates (FP6/4)


@pytest.mark.parametrize("name", NAMES)
def test_dtype_bit_patterns_are_the_grid(name):
    from precision.formats.dtypes import DTYPES
    d = DTYPES[name]
    idx = np.arange(d.max_index + 1)
    assert np.array_equal(d.values(idx).astype(np.float64), d.format.values_at(idx))
    assert np.array_equal(d.index(d.values(idx)), idx)


@pytest.mark.parametrize("name", NAMES)
def test_numpy_kernel_in_these_dtypes_is_its_emulated_model_bit_for_bit(name):
    """The NumPy kernel run in each dtype against the emulated model on every two-class gap, and its measured
    thresholds against the emulated ones at 2 and 1,000 classes."""
    from precision.kernels.scan import agreement, kernel_thresholds, two_class_rows
    assert agreement("numpy", name, two_class_rows(name), "every two-class gap").as_dict()["bit_for_bit"]
    for classes, rivals in ((2, "equal"), (1000, "equal"), (1000, "one")):
        measured = kernel_thresholds("numpy", name, classes, rivals, "cpu").as_dict()
        emulated = thresholds(name, "shifted", classes, rivals).as_dict()
        assert measured["top_is_one_from_gap"] == emulated["top_is_one_from_gap"]
        assert measured["others_zero_from_gap"] == emulated["others_zero_from_gap"]
