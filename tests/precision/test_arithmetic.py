"""Rounded operations: bit for bit against NumPy/ml_dtypes arithmetic, exp/log correctly rounded."""
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import example, given

from precision.formats.arithmetic import Arithmetic
from precision.formats.named_formats import get_format
from precision.strategies import signed_values

ml_dtypes = pytest.importorskip("ml_dtypes")
DTYPES = {"float16": np.float16, "float32": np.float32, "bfloat16": ml_dtypes.bfloat16}
OPS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


@pytest.mark.parametrize("name", sorted(DTYPES))
@pytest.mark.parametrize("op", sorted(OPS))
def test_operations_match_native_dtype_bit_for_bit(name, op):
    fmt, ar = get_format(name), Arithmetic(name)
    rng = np.random.default_rng(7)
    idx = rng.integers(0, fmt.max_index, size=(2, 20000))
    a, b = fmt.values_at(idx[0]) * rng.choice([-1, 1], 20000), fmt.values_at(idx[1])
    with np.errstate(all="ignore"):
        native = OPS[op](a.astype(DTYPES[name]), b.astype(DTYPES[name])).astype(np.float64)
    assert np.array_equal(getattr(ar, op)(a, b), native, equal_nan=True)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64", "float8_e4m3fn"])
@pytest.mark.parametrize("fn", ["exp", "log", "log1p"])
def test_functions_are_correctly_rounded(name, fn):
    """Carrier results (libm plus the ±2^-50 guard) equal the format's own Ziv-rounded value."""
    fmt, ar = get_format(name), Arithmetic(name)
    rng = np.random.default_rng(3)
    x = fmt.round_array(rng.uniform(0 if fn != "exp" else -100, 90, 300))
    x = x[x > 0] if fn == "log" else x
    got = getattr(ar, fn)(x)
    want = np.array([float(getattr(fmt, fn)(mpmath.mpf(v))) for v in x])
    assert np.array_equal(got, want, equal_nan=True)  # e4m3fn: exp past 464 overflows to NaN, as ml_dtypes


@given(x=signed_values("float16", 11))
@example(x=Fraction(0))
def test_exp_rounding_is_within_half_ulp_of_the_real_exp(x):
    fmt = get_format("float16")
    y = fmt.exp(mpmath.mpf(x.numerator) / x.denominator)
    with mpmath.workprec(300):
        exact = mpmath.exp(mpmath.mpf(x.numerator) / x.denominator)
        neighbours = [fmt.value_at(fmt.index_of(y) + d) for d in (-1, 1)] if y > 0 else []
        assert all(abs(exact - y) <= abs(exact - n) for n in neighbours)


@pytest.mark.parametrize("name", ["mp80", "decimal9", "delta0.001"])
def test_object_formats_round_every_operation(name):
    ar = Arithmetic(name)
    a, b = ar.array([Fraction(1), Fraction(2)]), ar.array([Fraction(3), Fraction(7)])
    q = ar.div(a, b)
    assert all(v == ar.fmt.round(Fraction(x, y)) for v, x, y in zip(q, (1, 2), (3, 7)))
    e = ar.exp(ar.array([Fraction(-5)]))[0]
    with mpmath.workprec(400):
        assert e == ar.fmt.round(Fraction(mpmath.nstr(mpmath.exp(-5), 100)))
