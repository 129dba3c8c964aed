"""The k-ulp threshold interval (pure mathematics, in precision) and the measured exp error of the real kernels."""
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from precision import get_format
from precision.emulated import exp_error as iv
from precision.formats.dtypes import DTYPES
from precision.kernels import exp_error as ke
from precision.kernels.registry import KERNELS
from precision.report.kernel_sections import exp_error_markdown


@pytest.mark.parametrize("fmt", ["float16", "bfloat16", "float32", "float8_e4m3fn", "float8_e5m2"])
def test_interval_pins_the_threshold_at_half_an_ulp_and_widens(fmt):
    T = iv.top_threshold(fmt)
    assert iv.threshold_interval(fmt, Fraction(1, 2)) == (T, T)
    prev = (T, T)
    for k in (1, 2, 4):
        lo, hi = iv.threshold_interval(fmt, k)
        assert lo <= prev[0] <= T <= prev[1] <= hi
        prev = (lo, hi)


def test_thresholds_are_read_exactly_by_the_formats_rule():
    from precision.emulated.thresholds import thresholds
    for fmt in DTYPES:
        gap = thresholds(fmt, "shifted", classes=2).top_is_one_from_gap
        assert iv.top_threshold(fmt) == Fraction(float(gap)) and type(iv.top_threshold(fmt)) is Fraction


def test_interval_ends_are_tight():
    """At pred(T_hi) some value within k ulps is above 2^-p; at T_lo, one is at most 2^-p (brute force)."""
    fmt, k = "float8_e4m3fn", Fraction(1)
    i = iv.interval(fmt, k)
    p, emin = i.p, i.emin
    b = mpmath.mpf(2) ** -p
    succ_b = b + mpmath.mpf(2) ** max(1 - 2 * p, emin)
    x = iv._exp_neg(iv.predecessor(i.hi, p, emin))
    assert x + k * iv.ulp(x, p, emin) >= succ_b
    x = iv._exp_neg(i.lo)
    assert x - k * iv.ulp(x, p, emin) <= b


def test_precision_does_not_import_proofs():
    import sys
    assert "proofs" not in iv.__dict__ and not any(m.startswith("proofs") for m in vars(iv).get("__all__", []))
    assert all(not name.startswith("proofs") for name in sys.modules if name.startswith("precision.emulated.exp"))


def test_covering_k():
    assert iv.covering_k(0.4999) == Fraction(1, 2) and iv.covering_k(0.6) == 1 and iv.covering_k(1.94) == 2
    assert iv.covering_k(2.3) == 3


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float8_e4m3fn"])
def test_correctly_rounded_exp_measures_at_most_half_an_ulp(dtype):
    """The error measure on the project's correctly rounded exp (precision.get_format(dtype).exp): ≤ 1/2 ulp, and
    one value off is more than 1/2."""
    x = ke.exp_inputs(dtype)[::7]
    fmt = get_format(dtype)
    r = np.array([float(fmt.exp(mpmath.mpf(float(v)))) for v in x]).astype(DTYPES[dtype].storage)
    assert ke.errors_in_ulps(x, r, dtype) <= 0.5
    bumped = r.copy()
    i = len(r) // 2
    up = fmt.values_at(np.array([fmt.index_of(mpmath.mpf(float(r[i]))) + 1]))
    bumped[i] = up.astype(bumped.dtype)[0]
    assert ke.errors_in_ulps(x, bumped, dtype) > 0.5


def test_exp_inputs_cover_the_gaps_that_matter():
    x = ke.exp_inputs("float16").astype(np.float64)
    T = float(iv.top_threshold("float16"))
    assert x.max() == 0 and x.min() <= -T - 1 and len(np.unique(x)) == len(x)
    x32 = ke.exp_inputs("float32").astype(np.float64)
    assert np.any(x32 == -np.float32(T := float(iv.top_threshold("float32")))) and x32.min() <= -T


def test_numpy_exp_error_and_onnx_not_measurable():
    assert ke.exp_error_ulps(KERNELS["numpy"], "float8_e4m3fn") <= 0.5  # ml_dtypes: float32 exp, rounded once
    assert ke.exp_error_ulps(KERNELS["onnxruntime"], "float32") is None
    row = ke.exp_error_rows([KERNELS["onnxruntime"]], [{"kernel": "onnxruntime", "dtype": "float32", "classes": 2,
                                                       "rivals": "equal", "top_is_one_from_gap": "16.5"}])[0]
    assert row["note"] == KERNELS["onnxruntime"].exp_note and "inside the operator" in row["note"]


def test_verdict_and_markdown():
    T = iv.top_threshold("float16")
    inside = ke.verdict(0.9, "float16", str(T))
    assert inside["k"] == "1" and inside["inside"] and inside["proved_in_coq"]
    outside = ke.verdict(0.4, "float16", "9.5")
    assert outside["inside"] is False and "not explained" in outside["note"]
    assert ke.verdict(None, "float16", "7")["inside"] is None
    rows = [{"kernel": "a", "dtype": "float16"} | inside, {"kernel": "b", "dtype": "float16"} | outside]
    md = "\n".join(exp_error_markdown(rows))
    assert "| a | float16 | 0.9 | 1 (Coq)" in md and "**no**" in md and "b (float16)" in md


def test_rows_from_threshold_table():
    table = [{"kernel": "numpy", "dtype": "float8_e4m3fn", "classes": 2, "rivals": "equal",
              "top_is_one_from_gap": str(iv.top_threshold("float8_e4m3fn"))},
             {"kernel": "numpy", "dtype": "float8_e4m3fn", "classes": 1000, "rivals": "equal",
              "top_is_one_from_gap": "99"}]
    rows = ke.exp_error_rows([KERNELS["numpy"]], table)
    assert len(rows) == 1 and rows[0]["inside"] is True and rows[0]["k"] == "1/2"
