"""torch.compile'd kernels (precision.kernels.backends.compiled), measured on Inductor's own code: thresholds,
agreement with the eager kernel, the compiled cross-entropy. Few widths and dtypes: every one is a compile of
several seconds."""
import numpy as np
import pytest

from precision.common.errors import InputError
from precision.formats.dtypes import DTYPES
from precision.kernels.backends import compiled
from precision.kernels.registry import KERNELS, available_kernels, get_kernel, kernel_versions
from precision.kernels.scan import kernel_thresholds, sample_rows

torch = pytest.importorskip("torch")


def test_compiled_kernels_are_opt_in_and_found_by_name():
    assert "torch-compile" not in KERNELS and "torch-compile" not in [k.name for k in available_kernels()]
    assert get_kernel("torch-compile").name == "torch-compile"
    assert get_kernel("torch-compile-log").log_space
    with pytest.raises(InputError, match="torch-compile-log"):  # the error lists the opt-in kernels too
        get_kernel("torch-compiled")


def test_compiled_softmax_float32_thresholds_are_eager_ones_and_rows_within_one_step():
    k = get_kernel("torch-compile")
    t = kernel_thresholds(k, "float32", 2)
    assert (t.top_is_one_from_gap, t.others_zero_from_gap) == (16.63553237915039, 103.97208404541016)
    x = DTYPES["float32"].cast(sample_rows(2, 512))
    ours, eager = k(x, "float32").astype(np.float64), get_kernel("torch")(x, "float32").astype(np.float64)
    ulps = np.abs(ours.view(np.int64) - eager.view(np.int64)) >> 29  # float64 view of float32 values: 2^29 per step
    assert ulps.max() <= 1
    assert "softmax float32 M=2 cpu" in compiled.compile_seconds()
    versions = kernel_versions([k])
    assert versions["inductor_vec_isa"] and versions["inductor_fallback_random"] == "False"


def test_compiled_log_softmax_bfloat16_keeps_float32_inside():
    """Eager bfloat16 log_softmax rounds log Σ to bfloat16 (top log-probability 0 once 1 + e^−g rounds to 1 in
    bfloat16: 5.5625); Inductor keeps float32 throughout and rounds once, so 0 comes at float32's 16.6355…, on the
    bfloat16 grid 16.75."""
    from precision.kernels.log_probabilities import log_thresholds
    eager, ours = (log_thresholds(k, "bfloat16", 2) for k in ("torch-log", "torch-compile-log"))
    assert eager.top_log_zero_from_gap == 5.5625
    assert ours.top_log_zero_from_gap == 16.75


def test_compiled_cross_entropy_teaches_longer_in_bfloat16():
    from precision.kernels.log_probabilities import cross_entropy_thresholds
    eager = cross_entropy_thresholds("bfloat16", 2)
    ours = cross_entropy_thresholds("bfloat16", 2, compiled=True)
    assert eager.loss_zero_from_gap == 5.5625 and ours.loss_zero_from_gap == 16.75
    assert ours.loss_zero_from_gap == ours.top_gradient_zero_from_gap
    assert ours.gradient_zero_from_gap == eager.gradient_zero_from_gap


def test_a_batch_is_cut_into_calls_of_one_shape():
    d = DTYPES["float32"]
    assert compiled.rows_per_call(2) == 1 << 20 and compiled.rows_per_call(1 << 23) == 1
    x = d.cast(sample_rows(2, 5))
    one = compiled.compiled_rows("softmax", x, d, "cpu")
    np.testing.assert_array_equal(one[2:3], compiled.compiled_rows("softmax", x[2:3], d, "cpu"))


def test_compiled_bfloat16_softmax_is_its_emulated_model_bit_for_bit():
    """float32 inside, one rounding to bfloat16 at the end: the model 'shifted, accumulate float32' reproduces it."""
    from precision.kernels.scan import agreement
    a = agreement("torch-compile", "bfloat16", sample_rows(2, 256), "sample")
    assert a.bit_for_bit and a.model == "shifted, accumulate float32, pairwise"


@pytest.mark.parametrize("dtype, seq_len", [("bfloat16", 16)])
def test_compiled_attention_has_the_flash_backends_thresholds_not_the_math_ones(dtype, seq_len):
    """torch.compile'd scaled_dot_product_attention on the CPU: Inductor keeps the fused op, and its one-hot points
    are flash_attention's (bfloat16, 16 keys: top 1 from 8.9375, one-hot from 87.5; math: 9.0 and 93.0), measured
    on the compiled kernel itself."""
    import warnings

    from precision.kernels.attention import attention_rows, attention_thresholds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, flash, math_ = (attention_thresholds(b, dtype, seq_len) for b in ("compiled", "flash_attention", "math"))
        assert (ours.top_one_from_gap, ours.one_hot_from_gap) == (flash.top_one_from_gap, flash.one_hot_from_gap)
        assert ours.one_hot_from_gap < math_.one_hot_from_gap
        d = DTYPES[dtype]
        below = float(d.values(d.index(np.array([ours.one_hot_from_gap])) - 1)[0])
        rows = attention_rows(np.array([ours.one_hot_from_gap, below]), dtype, seq_len, "compiled")
    assert (rows[0, 1:] == 0).all() and (rows[1, 1:] > 0).any()
