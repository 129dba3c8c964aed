"""Exact rounding of every format, checked bit for bit against the real dtypes."""
import decimal
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from precision.formats.named_formats import BUILTIN, decimal_format, delta_grid, get_format, mp_format
from precision.formats.number_formats import to_fraction

ml_dtypes = pytest.importorskip("ml_dtypes")
torch = pytest.importorskip("torch")

NATIVE = {"float16": np.float16, "float32": np.float32, "bfloat16": ml_dtypes.bfloat16,
          "float8_e5m2": ml_dtypes.float8_e5m2}

doubles = st.floats(allow_nan=False, allow_infinity=False, width=64)


def midpoints(fmt_name):
    """Exact ties between neighbouring values of a format (as doubles: all are representable)."""
    f = get_format(fmt_name)
    idx = np.arange(0, f.max_index, max(1, f.max_index // 3000))
    v = f.values_at(idx)
    nxt = f.values_at(idx + 1)
    return np.concatenate([(v + nxt) / 2, -(v + nxt) / 2])


@pytest.mark.parametrize("name", sorted(NATIVE))
def test_scalar_round_matches_native_cast_bit_for_bit(name):
    fmt = get_format(name)
    rng = np.random.default_rng(1)
    x = np.concatenate([midpoints(name), rng.normal(0, 1, 3000) * 2.0 ** rng.integers(-160, 140, 3000),
                        [float(fmt.max_finite) * 1.0001, float(fmt.smallest_subnormal) / 2, 5e-324]])
    with np.errstate(over="ignore"):
        native = x.astype(NATIVE[name]).astype(np.float64)
    emulated = np.array([float(fmt.round(mpmath.mpf(v))) for v in x])
    assert np.array_equal(native, emulated, equal_nan=True)
    assert np.array_equal(fmt.round_array(x), native)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float8_e5m2", "float8_e4m3fn"])
@given(x=doubles)
@example(x=2.0**-25)  # half the float16 subnormal: ties to 0
@example(x=3 * 2.0**-25)  # tie between subnormals 2^-24 and 2^-23: to even
@example(x=65520.0)  # float16 overflow threshold: rounds to inf
def test_round_array_equals_scalar_round(name, x):
    fmt = get_format(name)
    assert fmt.round_array(np.array([x]))[0] == float(fmt.round(mpmath.mpf(x)))


def test_e4m3fn_saturates_like_torch():
    fmt = get_format("float8_e4m3fn")
    x = np.array([448.0, 464.0, 470.0, 480.0, 1e9, -500.0, 0.0009765625, 0.001953125 * 1.5, 17.0, 19.0])
    native = torch.tensor(x).to(torch.float8_e4m3fn).double().numpy()
    assert np.array_equal(fmt.round_array(x), native)
    assert [float(fmt.round(mpmath.mpf(v))) for v in x] == list(native)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_grid_index_walks_values_in_order(name):
    fmt = get_format(name)
    idx = np.unique(np.linspace(0, fmt.max_index, 500).astype(np.int64))
    vals = [fmt.value_at(int(i)) for i in idx]
    assert all(a < b for a, b in zip(vals, vals[1:]))
    assert [fmt.index_of(v) for v in vals] == [int(i) for i in idx]
    assert np.array_equal(fmt.values_at(idx), np.array([float(v) for v in vals]))
    assert fmt.value_at(fmt.max_index) == fmt.max_finite


@given(q=st.fractions(max_denominator=10**9).filter(lambda q: q != 0), k=st.integers(1, 12))
def test_decimal_rounding_matches_python_decimal(q, k):
    fmt = decimal_format(k)
    ctx = decimal.Context(prec=k, rounding=decimal.ROUND_HALF_EVEN, Emin=-999999999, Emax=999999999)
    # Python's decimal divides numerator by denominator with one correct rounding: the reference
    assert fmt.round(q) == ctx.divide(decimal.Decimal(q.numerator), decimal.Decimal(q.denominator))


def test_decimal_ties_go_to_even():
    fmt = decimal_format(2)
    assert fmt.round(Fraction("0.125")) == decimal.Decimal("0.12")
    assert fmt.round(Fraction("0.135")) == decimal.Decimal("0.14")


def test_delta_grid_rules():
    nearest, paper = delta_grid("0.01"), delta_grid("0.01", "paper")
    assert nearest.round(Fraction("0.005")) == 0 and nearest.round(Fraction("0.015")) == Fraction("0.02")
    assert nearest.round(Fraction("0.007")) == Fraction("0.01")  # nearest: (δ/2, δ) goes up to δ
    assert paper.round(Fraction("0.007")) == 0  # the paper: below δ is 0
    assert nearest.round(Fraction("0.992")) == Fraction("0.99") and paper.round(Fraction("0.992")) == 1


def test_mp_format_has_the_precision_it_says():
    f = mp_format(113)
    third = f.div(mpmath.mpf(1), mpmath.mpf(3))
    assert abs(to_fraction(third) - Fraction(1, 3)) < Fraction(1, 2**114)
    assert f.add(mpmath.mpf(1), mpmath.ldexp(1, -113)) == 1  # tie to even
    assert f.add(mpmath.mpf(1), mpmath.ldexp(3, -114)) == mpmath.fadd(1, mpmath.ldexp(1, -112), exact=True)


def test_to_fraction_is_exact_for_every_kind_of_value():
    """The one exact-rational rule: mpf (signed), NumPy and ml_dtypes float scalars, floats, Decimal, Fraction."""
    assert to_fraction(mpmath.ldexp(-3, -1100)) == Fraction(-3, 2**1100)
    assert to_fraction(mpmath.ldexp(7, 300)) == 7 * 2**300
    assert to_fraction(np.float32(16.63553237915039)) == Fraction(4360905, 2**18)
    for t in (np.float16, ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn):
        assert to_fraction(np.array([-2.75], dtype=t)[0]) == Fraction(-11, 4)
    assert to_fraction(np.int64(3)) == 3 and to_fraction(0.1) == Fraction(0.1)
    assert to_fraction(decimal.Decimal("0.1")) == Fraction(1, 10)
    for bad in (np.float32(np.inf), mpmath.mpf("nan"), float("-inf")):
        with pytest.raises(ValueError, match="finite"):
            to_fraction(bad)


@pytest.mark.parametrize("bad, message", [
    ("float17", "format: unknown name"), ("delta0.5", "deltaSTEP needs a step in"),
    ("delta0", "deltaSTEP needs a step in"), ("mp100000", "up to 16384 bits"),
    ("mp1", "mpBITS needs BITS ≥ 2"), ("decimal0", "decimalDIGITS needs DIGITS ≥ 1")])
def test_bad_format_names_are_refused_clearly(bad, message):
    with pytest.raises(ValueError, match=message):
        get_format(bad)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2"])
@pytest.mark.parametrize("value", [0.0, 1.0, -np.inf, 0.5])
def test_exactly_is_the_dtypes_own_equality(name, value):
    from precision.formats.dtypes import DTYPES, exactly
    d = DTYPES[name]
    every = d.values(np.arange(d.max_index + 1)) if d.max_index < 1 << 16 else \
        d.cast(np.array([0.0, 1.0, 0.5, 1e-30, np.inf, np.nan, 3.0]))
    x = np.concatenate([every, -every, d.cast(np.array([np.inf, -np.inf, np.nan]))])  # ±0, ±inf, NaN, every value
    with np.errstate(invalid="ignore"):
        assert (exactly(x, value) == (x.astype(np.float64) == value)).all()
