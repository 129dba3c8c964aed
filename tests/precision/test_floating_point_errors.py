"""NumPy set to raise on every floating-point error (`np.seterr(all="raise")`, as some users run): overflow,
underflow and invalid operations are what this tool measures, so the library's numbers come out unchanged and
nothing raises FloatingPointError."""
import numpy as np
import pytest

from precision.emulated.algorithms import ALGORITHMS, softmax
from precision.emulated.thresholds import thresholds
from precision.kernels.scan import kernel_thresholds
from precision.logits.rows import saturation_of

ROWS = np.array([[1000.0, 0.0], [30.0, 0.0], [1e-30, 0.0], [-1e5, 1e5], [20.0, -20.0]])
FORMATS = ("float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2", "float4_e2m1fn")


def _everything() -> list:
    out = [softmax(ROWS, f, a) for f in FORMATS for a in ALGORITHMS]
    out.append(thresholds("float16", "shifted", 1000).as_dict())
    out.append(kernel_thresholds("numpy", "float16", 2).as_dict())
    for kernel in ("numpy", "torch") if _has_torch() else ("numpy",):
        s = saturation_of(ROWS, kernel=kernel, dtypes=("float16", "bfloat16", "float32"))
        out.append(repr(s))
    return out


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def test_numpy_raising_on_every_error_changes_no_number():
    quiet = _everything()
    with np.errstate(all="raise"):
        loud = _everything()
    assert repr(loud) == repr(quiet)


def test_the_errstate_is_the_callers_again_afterwards():
    with np.errstate(all="raise"):
        softmax(ROWS, "float16", "naive")
        with pytest.raises(FloatingPointError):
            np.array([1e300]) * 1e300
