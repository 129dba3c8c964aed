"""Where the max-shifted softmax's subtraction of the logits overflows, the emulation gives what the real dtype
gives: float16 overflows to −∞, e^−∞ = 0, and the row is still (1, 0); float8_e4m3fn has no infinity and its
arithmetic (ml_dtypes': no torch kernel computes in it) gives NaN, although its cast saturates as torch's does."""
import ml_dtypes
import numpy as np
import pytest

from precision.emulated.algorithms import softmax
from precision.formats.arithmetic import arithmetic
from precision.kernels.backends.numpy_scipy import numpy_softmax

ROWS = [("float8_e4m3fn", ml_dtypes.float8_e4m3fn, [448.0, -448.0], [np.nan, np.nan]),  # 896 overflows: NaN
        ("float8_e4m3fn", ml_dtypes.float8_e4m3fn, [448.0, -16.0], [1.0, 0.0]),  # 464 rounds to 448 (tie, even)
        ("float8_e4m3fn", ml_dtypes.float8_e4m3fn, [448.0, -24.0], [np.nan, np.nan]),  # 472: past the tie
        ("float16", np.float16, [60000.0, -60000.0], [1.0, 0.0]),  # −120000 overflows to −∞, e^−∞ = 0
        ("float16", np.float16, [32000.0, -32000.0], [1.0, 0.0])]  # −64000 is finite


@pytest.mark.parametrize("fmt,dtype,row,expected", ROWS, ids=[f"{r[0]}{r[2]}" for r in ROWS])
def test_overflowing_subtraction_matches_ml_dtypes(fmt, dtype, row, expected):
    with np.errstate(over="ignore", invalid="ignore"):
        real = numpy_softmax(np.array([row], dtype=dtype), None, "cpu").astype(np.float64)[0]
    np.testing.assert_array_equal(real, expected)  # the dtype itself: NumPy in ml_dtypes' float8, or float16
    np.testing.assert_array_equal(softmax(row, fmt, "shifted"), expected)


def test_e4m3fn_operations_overflow_to_nan_while_its_cast_saturates():
    ar = arithmetic("float8_e4m3fn")
    assert np.isnan(ar.sub(np.array([448.0]), np.array([-448.0])))[0]
    assert ar.array(np.array([1e9]))[0] == 448.0  # the cast of an input: torch's saturation
    assert ar.add(np.array([448.0]), np.array([16.0]))[0] == 448.0  # the tie rounds to the even 448
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(np.array([448.0], ml_dtypes.float8_e4m3fn) - np.array([-448.0], ml_dtypes.float8_e4m3fn))[0]
