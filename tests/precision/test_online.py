"""The online-softmax model (precision.emulated.online) against torch's CPU flash attention, output for output, and
against itself: the equal-rivals fast path against the full emulation, the fused multiply-add against exact
rationals."""
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from precision.common.errors import InputError
from precision.emulated import online as on
from precision.emulated import online_thresholds as ot
from precision.formats.arithmetic import arithmetic
from precision.formats.dtypes import DTYPES

torch = pytest.importorskip("torch")
F = pytest.importorskip("torch.nn.functional")
attention = pytest.importorskip("torch.nn.attention")
NARROW = ("bfloat16", "float16", "float32")


def flash(x: np.ndarray, dtype: str) -> np.ndarray:
    """torch's CPU flash SDPA: queries = rows of scores, keys = values = identity, scale 1 (output = weights)."""
    t = getattr(torch, dtype)
    q = torch.from_numpy(x).to(t)[None, None]
    eye = torch.eye(x.shape[1], dtype=t)[None, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with attention.sdpa_kernel([attention.SDPBackend.FLASH_ATTENTION]):
            return F.scaled_dot_product_attention(q, eye, eye, scale=1.0)[0, 0].double().numpy()


f32 = st.floats(-(2.0 ** 60), 2.0 ** 60, width=32)


@given(f32, f32, f32)
def test_fma_rounds_once(a, b, c):
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    got = on.fma(arithmetic("float32"), np.array([a]), np.array([b]), np.array([c]))[0]
    assert got == float(arithmetic("float32").fmt.round(exact))


def test_fma_breaks_a_tie_that_two_roundings_miss():
    # (1 + 2^-12)² = 1 + 2^-11 + 2^-24 is a float32 tie; + 2^-80 lifts it above, but not its float64 sum
    a, c = 1 + 2.0 ** -12, 2.0 ** -80
    exact = float(arithmetic("float32").fmt.round(Fraction(a) ** 2 + Fraction(c)))
    assert exact == 1 + 2.0 ** -11 + 2.0 ** -23 != float(np.float32(a * a + c))
    assert on.fma(arithmetic("float32"), np.array([a]), np.array([a]), np.array([c]))[0] == exact


@pytest.mark.parametrize("dtype", NARROW)
def test_torch_flash_gap_rows_are_reproduced_bit_for_bit(dtype):
    d = DTYPES[dtype]
    rng = np.random.default_rng(1)
    g = d.cast(np.concatenate([rng.uniform(0, 25, 96), np.linspace(0, 110, 32)])).astype(np.float64)
    for keys in (2, 12, 520):  # all in the scalar remainder; vector and remainder; two blocks
        x = np.zeros((len(g), keys))
        x[:, 0] = g
        np.testing.assert_array_equal(on.attention_weights(x, dtype, on.torch_cpu_flash(dtype)), flash(x, dtype))


@pytest.mark.parametrize("dtype", NARROW)
def test_torch_flash_random_rows_with_a_moving_max(dtype):
    """The max grows block after block (rescales): bit for bit, except float16 where a row may differ by one
    subnormal step at a near tie (measured: 1 row in 32 at 1,500 keys, 401·(1/l) = 322.50004 steps; not explained)."""
    d = DTYPES[dtype]
    rng = np.random.default_rng(2)
    x = d.cast(rng.normal(0, 4, (16, 1100)) + np.linspace(0, 30, 1100)).astype(np.float64)
    em, tr = on.attention_weights(x, dtype, on.torch_cpu_flash(dtype)), flash(x, dtype)
    if dtype != "float16":
        np.testing.assert_array_equal(em, tr)
    diff = em != tr
    assert diff.any(axis=1).sum() <= 1
    assert (np.abs(em - tr)[diff] <= 2.0 ** -24).all()


def test_the_vector_exp_matters():
    """With the correctly rounded exp instead of torch's `fexp_u20`, the model misses torch's bfloat16 rows."""
    g = DTYPES["bfloat16"].cast(np.random.default_rng(1).uniform(0, 25, 128)).astype(np.float64)
    x = np.zeros((len(g), 16))
    x[:, 0] = g
    wrong = on.attention_weights(x, "bfloat16", on.TORCH_CPU_FLASH.with_(exp="exact"))
    assert (wrong != flash(x, "bfloat16")).any()


CONFIGS = [on.torch_cpu_flash("bfloat16"), on.FLASH2_CUDA, on.FLASH3_FP8, on.TORCH_CPU_FLASH.with_(block=16, lanes=4),
           on.TORCH_CPU_FLASH.with_(sum_of="rounded_p", division="divide", lanes=1, block=7)]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
@pytest.mark.parametrize("dtype", NARROW)
def test_equal_rivals_fast_path_is_the_full_emulation(cfg, dtype):
    d = DTYPES[dtype]
    g = d.cast(np.concatenate([np.random.default_rng(3).uniform(0, 120, 40), [0, 1, 88, 104]])).astype(np.float64)
    for keys in (3, 9, 530):
        x = np.zeros((len(g), keys))
        x[:, 0] = g
        full = on.attention_weights(x, dtype, cfg)
        top, rival = ot.EqualRivals(cfg, dtype, keys).outputs(g)
        np.testing.assert_array_equal(top, full[:, 0])
        np.testing.assert_array_equal(rival, np.abs(full[:, 1:]).max(axis=1))


@pytest.mark.parametrize("dtype", ("bfloat16", "float16"))
def test_thresholds_are_torch_flash_measured(dtype):
    from precision.kernels.attention import attention_thresholds
    model = ot.one_hot_thresholds(on.torch_cpu_flash(dtype), dtype, 128)
    measured = attention_thresholds("flash_attention", dtype, 128)
    assert (model.top_is_one_from_gap, model.others_zero_from_gap) == (
        measured.top_one_from_gap, measured.others_zero_from_gap)
    assert model.method == "exhaustive"


def test_float32_top_one_stops_moving_with_the_sequence_length():
    """Each 512-key block's sum is added to l on its own: once 512·e^−g is absorbed by 1, more blocks change nothing
    (the unblocked sum would need e^−g·(L − 1) absorbed: a gap growing with ln L)."""
    cfg = on.torch_cpu_flash("float32")
    t1k, t128k = (ot.one_hot_thresholds(cfg, "float32", n) for n in (1024, 131072))
    assert t1k.top_is_one_from_gap == t128k.top_is_one_from_gap
    assert ot.one_hot_thresholds(cfg, "float32", 128).top_is_one_from_gap < t1k.top_is_one_from_gap
    # exp_u20 returns 0 once ⌊x·log₂e + ½⌋ = −126: every rival weight is 0 from a gap of about 87, not ~104
    assert 86.9 < t128k.others_zero_from_gap < 87.0


def test_bad_configurations_are_refused():
    with pytest.raises(InputError, match="lanes"):
        on.OnlineSoftmax("x", lanes=3)
    with pytest.raises(InputError, match="accumulate"):
        on.OnlineSoftmax("x", accumulate="float64")
    with pytest.raises(InputError, match="values of"):
        on.attention_weights(np.array([[0.1, 0.0]]), "bfloat16")


def test_exp2_is_correctly_rounded():
    import mpmath
    ar = arithmetic("float32")
    a = np.float32(np.random.default_rng(0).uniform(-140, 120, 300)).astype(np.float64)
    exact = [float(ar.fmt.round_function(lambda iv, x: iv.exp(x * iv.log(2)), mpmath.mpf(float(v)))) for v in a]
    np.testing.assert_array_equal(on.Step(on.FLASH2_CUDA).exp2(a), exact)
