"""`precision.testing.assert_softmax_conforms` on every built-in kernel available here, and on kernels broken on
purpose (tests/precision/broken_kernels.py): each is flagged by the property it breaks, with a readable message."""
import math
import time

import numpy as np
import pytest

from precision.kernels.registry import KERNELS, Kernel
from precision.testing import PROPERTIES, SoftmaxConformanceError, assert_softmax_conforms, in_format_threshold
from tests.precision import broken_kernels as bk
from tests.precision.cpu_path import on_this_path

MOD = "tests.precision.broken_kernels"
EXAMPLES = 12  # per dtype × classes × rivals: 5 configurations per dtype under the `ci` profile
# Kernels that add the rivals to the top's exp one at a time in the dtype, so that from M classes on their top
# output is exactly 1 while the rivals together still hold far more than 2u: NumPy on bfloat16 and float8 (ml_dtypes
# has no wider accumulator; up to 983u at M = 1000), torch float32 and its log_softmax with fewer classes than a
# vector has float32 lanes (a scalar loop: 10 classes on AVX512's 16 lanes, 9u; 7 on AVX2's 8, 6u, measured on
# each path; TORCH_SCALAR_LOOP). Findings, kept visible: each
# conforms with two classes, is flagged (sum bound, or for log-space kernels saturating too early) at M, and
# conforms within the sequential bound there. (JAX absorbs too, in calls of under about 4,096 logits: the `jax`
# kernels call it 1,024 rows at a time and conform; jax.nn.softmax called as it comes is below.)
ABSORBS = {("numpy", "bfloat16"): 10, ("numpy", "float8_e4m3fn"): 1000, ("numpy", "float8_e5m2"): 10,
           ("numpy", "float8_e4m3"): 1000, ("numpy", "float8_e3m4"): 10, ("numpy", "float8_e4m3fnuz"): 10,
           ("numpy", "float8_e5m2fnuz"): 10, ("numpy", "float8_e4m3b11fnuz"): 10, ("numpy", "float6_e3m2fn"): 10,
           ("torch", "float32"): None, ("torch-log", "float32"): None}
# NumPy in the "fnuz" formats (no infinity): where x − max overflows, the difference is NaN, and so is the row —
# a rival at −240 below a top of 8 in e4m3fnuz (−248 rounds to 256, past its largest). Kept visible: flagged
# 'finite' with a far rival.
SUBTRACTION_NAN = {("numpy", "float8_e4m3fnuz"), ("numpy", "float8_e5m2fnuz"), ("numpy", "float8_e4m3b11fnuz")}
# NumPy in FP6 E2M3 (neither infinity nor NaN: an overflow is the largest value, 7.5): 1,000 equal logits give a sum
# of exps that stops at 7.5, so every output is 1/7.5 → 0.125 and they sum to 125. Flagged 'sum bound' there; it
# conforms at 2 and 10 classes. (FP4 E2M1's sum stops at 4, where 4 + 1 ties to 4, and 1/4 ties to 0: outputs
# summing to 0, which its (M + 1)·u = 250.25 lets through, u being 1/4.)
SUM_SATURATES = {("numpy", "float6_e2m3fn"): 1000}
TORCH_SCALAR_LOOP = {"AVX512": 10, "AVX2": 7}

BUILT_IN = [pytest.param(k.name, d, id=f"{k.name}-{d}",
                         marks=[] if k.available() else pytest.mark.skip(reason=f"{k.package} not installed"))
            for k in KERNELS.values() for d in k.dtypes]


@pytest.mark.parametrize("kernel, dtype", BUILT_IN)
def test_every_built_in_kernel_conforms(kernel, dtype):
    start = time.perf_counter()
    if (kernel, dtype) in ABSORBS:
        m = ABSORBS[kernel, dtype] or on_this_path(TORCH_SCALAR_LOOP)
        assert_softmax_conforms(kernel, dtypes=(dtype,), classes=(2,), max_examples=EXAMPLES, derandomize=True)
        with pytest.raises(SoftmaxConformanceError, match="breaks '(sum bound|not too early)'"):
            assert_softmax_conforms(kernel, dtypes=(dtype,), classes=(m,), rivals=("equal",), max_examples=200,
                                    derandomize=True)
        assert_softmax_conforms(kernel, dtypes=(dtype,), classes=(m,), rivals=("equal",), absorbed_ulps=m,
                                early_tolerance=math.log(m) + 1, max_examples=EXAMPLES, derandomize=True)
    elif (kernel, dtype) in SUM_SATURATES:
        m = SUM_SATURATES[kernel, dtype]
        assert_softmax_conforms(kernel, dtypes=(dtype,), classes=(2, 10), max_examples=EXAMPLES, derandomize=True)
        with pytest.raises(SoftmaxConformanceError, match="breaks 'sum bound': the outputs sum to 1 ±"):
            assert_softmax_conforms(kernel, dtypes=(dtype,), classes=(m,), rivals=("equal",), max_examples=200,
                                    derandomize=True)
    else:
        assert_softmax_conforms(kernel, dtypes=(dtype,), max_examples=EXAMPLES, derandomize=True)
    if (kernel, dtype) in SUBTRACTION_NAN:
        with pytest.raises(SoftmaxConformanceError, match="breaks 'finite'"):
            assert_softmax_conforms(kernel, dtypes=(dtype,), classes=(10,), rivals=("one",), max_examples=200,
                                    derandomize=True)
    assert time.perf_counter() - start < 30


def test_jax_called_on_a_few_rows_at_a_time_breaks_the_sum_bound():
    jax = pytest.importorskip("jax")
    as_it_comes = Kernel.from_callable(lambda x: np.asarray(jax.nn.softmax(x, axis=-1)), dtypes=("float32",),
                                       name="jax.nn.softmax")
    assert_softmax_conforms(as_it_comes, dtypes=("float32",), classes=(2,), max_examples=EXAMPLES, derandomize=True)
    with pytest.raises(SoftmaxConformanceError, match="breaks 'sum bound'"):
        assert_softmax_conforms(as_it_comes, dtypes=("float32",), classes=(10,), rivals=("equal",),
                                max_examples=200, derandomize=True)


@pytest.mark.parametrize("name, dtype, prop", [
    ("naive", "float16", "monotone|stays 1|finite|shift invariance"),
    ("low_precision_sum", "float16", "sum bound|not too early"),
    ("leaves_one", "float32", "monotone|stays 1"),
    ("snaps_to_one", "float32", "not too early"),
    ("bfloat16_inside", "float32", "shift invariance"),
])
def test_a_broken_kernel_is_flagged_by_the_property_it_breaks(name, dtype, prop):
    with pytest.raises(SoftmaxConformanceError, match=f"breaks '({prop})'") as e:
        assert_softmax_conforms(getattr(bk, name), dtypes=(dtype,), classes=(2, 10), max_examples=200,
                                derandomize=True)
    lines = str(e.value).splitlines()
    assert lines[0].startswith(f"softmax {MOD}:{name} breaks")
    assert lines[1].startswith(f"  dtype {dtype}, ") and lines[2].startswith("  input row [")
    assert lines[3].startswith("  outputs   [")


def test_the_counterexample_is_shrunk_to_a_small_row():
    with pytest.raises(SoftmaxConformanceError) as e:
        assert_softmax_conforms(bk.low_precision_sum, dtypes=("float16",), classes=(10,), rivals=("equal",),
                                max_examples=200, derandomize=True)
    # the first gap at which the left-to-right float16 sum absorbs a rival: ln 2^11 ≈ 7.62
    assert "input row [7.625, 0, 0, 0, 0, 0, …]" in str(e.value)


def test_right_user_kernels_conform_on_numpy_and_torch():
    assert_softmax_conforms(bk.stable, dtypes=("float16", "bfloat16", "float32"), classes=(2, 1000),
                            max_examples=EXAMPLES)
    pytest.importorskip("torch")
    assert_softmax_conforms(bk.torch_softmax, torch=True, dtypes=("bfloat16",), classes=(2, 10),
                            max_examples=EXAMPLES)
    assert_softmax_conforms(bk.log_without_saying, log_space=True, dtypes=("float32",), classes=(2, 10),
                            max_examples=EXAMPLES)


def test_a_contract_error_is_not_shrunk_into_a_property():
    with pytest.raises(SoftmaxConformanceError, match="breaks its contract: .*returned float64 values for float16"):
        assert_softmax_conforms(bk.wrong_dtype, dtypes=("float16",), classes=(2,), max_examples=5)


def test_the_reference_threshold_and_the_properties():
    assert in_format_threshold("float16", 2, "equal") == 7.625  # the max-shifted sum 1 + e^−g absorbs e^−g
    assert in_format_threshold("float16", 1000, "equal") > 13  # 999 rivals summed pairwise first
    assert len(PROPERTIES) == 7 and "shift invariance" in PROPERTIES
