"""Log-probability kernels, the fused cross-entropy, and the log1p log-softmax.

References are independent of the code under test: mpmath at high precision for values (as scipy's
test_logsumexp does), and the framework itself called on the one row at a measured threshold and on the row one
grid step below it for every threshold quoted.
"""
import mpmath
import numpy as np
import pytest

from precision.common.errors import InputError
from precision.formats.dtypes import DTYPES
from precision.kernels.accurate import log_softmax
from precision.kernels.log_probabilities import cross_entropy_thresholds, log1p_gain, log_thresholds, ulps
from precision.kernels.registry import KERNELS, get_kernel
from precision.kernels.scan import kernel_thresholds
from tests.precision.cpu_path import on_this_path

torch = pytest.importorskip("torch")
F = pytest.importorskip("torch.nn.functional")


def _mp_log_softmax(row) -> list[float]:
    """log p_i = u_i − log Σ e^{u_j}, rounded to float64, with digits enough for e^−spread beside 1."""
    finite = [float(v) for v in row if np.isfinite(v)]
    with mpmath.workdps(60 + int(max(finite) - min(finite))):
        u = [mpmath.mpf(float(v)) for v in row]
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in u if v != -mpmath.inf))
        return [float(v - lse) for v in u]


def _below(dtype: str, gap: float) -> float:
    """The dtype's value one grid step below a non-negative gap."""
    d = DTYPES[dtype]
    return float(d.values(d.index(np.array([gap])) - 1)[0])


def _row(dtype: str, gap: float, classes: int):
    x = torch.zeros(1, classes, dtype=getattr(torch, dtype))
    x[0, 0] = gap
    return x


EXTREME_ROWS = [
    [0.0, 0.0], [1.0, 2.0, 3.0], [20.0, 0.0], [50.0, 0.0, -3.0], [100.0, 0.0], [700.0, 0.0],
    [-1000.0, -1000.5, -1001.0], [1e5, 1e5 - 40, 1e5 - 80], [30.0] + [0.0] * 999, [5.0, 5.0, 0.0],
    [10.0, -np.inf, 0.0],  # a masked token
]


@pytest.mark.parametrize("row", EXTREME_ROWS, ids=range(len(EXTREME_ROWS)))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_log1p_log_softmax_agrees_with_mpmath_to_a_few_ulps(row, dtype):
    x = np.array(row, dtype=dtype)
    tolerance = 2 + int(np.ceil(np.log2(len(row)))) // 2  # exp faithful, then a sum of M − 1 rounded terms
    exact = np.array(_mp_log_softmax(x), dtype=dtype)
    for out in (log_softmax(x), log_softmax(torch.from_numpy(x)).numpy()):
        assert out.dtype == x.dtype
        finite = np.isfinite(exact)
        assert (out[~finite] == exact[~finite]).all()
        # distance in grid steps: both non-positive
        assert ulps(DTYPES[dtype], out[finite], exact[finite]).max() <= tolerance, (out, exact)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16_bit_inputs_are_computed_in_float32_and_rounded_once(dtype):
    rng = np.random.default_rng(1)
    x = DTYPES[dtype].cast(np.concatenate([rng.normal(0, 4, (8, 50)), [[12.0] + [0.0] * 49]]))
    exact = DTYPES[dtype].cast(np.array([_mp_log_softmax(r) for r in x.astype(np.float64)]))
    out = log_softmax(x)
    assert out.dtype == x.dtype and ulps(DTYPES[dtype], out, exact).max() <= 1
    tensor = log_softmax(torch.from_numpy(x.astype(np.float32)).to(getattr(torch, dtype)))
    assert tensor.dtype == getattr(torch, dtype)
    assert (tensor.float().numpy() == out.astype(np.float32)).all()


def test_log1p_log_softmax_has_torchs_gradient_and_any_dim():
    x = torch.tensor([[3.0, 1.0, -2.0, 3.0], [40.0, 0.0, 1.0, -5.0]], dtype=torch.float64, requires_grad=True)
    y = x.detach().clone().requires_grad_(True)
    w = torch.tensor([[0.3, -1.0, 2.0, 0.5], [1.0, 1.0, -2.0, 0.25]], dtype=torch.float64)
    (log_softmax(x) * w).sum().backward()
    (torch.log_softmax(y, dim=-1) * w).sum().backward()
    torch.testing.assert_close(x.grad, y.grad)
    torch.testing.assert_close(log_softmax(x.detach().T, dim=0), torch.log_softmax(x.detach().T, dim=0))


def test_bad_input_names_the_argument():
    with pytest.raises(InputError, match="floating-point"):
        log_softmax(torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(InputError, match="at least one class"):
        log_softmax(np.zeros((2, 0)))


def test_log_kernels_are_registered_in_log_space():
    for name in ("torch-log", "torch-log1p", "jax-log", "scipy-log"):
        assert KERNELS[name].log_space and KERNELS[name].one == 0.0
    assert "bfloat16" not in get_kernel("scipy-log").dtypes


@pytest.mark.parametrize("kernel, dtype", [("torch-log", "float16"), ("torch-log", "float32"),
                                           ("torch-log1p", "bfloat16"), ("scipy-log", "float16")])
def test_log_thresholds_agree_with_the_kernel_scan(kernel, dtype):
    k = get_kernel(kernel)
    if not k.available():
        pytest.skip(f"{k.package} not installed")
    assert log_thresholds(k, dtype, 2).top_log_zero_from_gap == kernel_thresholds(k, dtype, 2).top_is_one_from_gap


# --- the numbers the README quotes, each checked with the framework at the gap and one grid step below -------
def _torch_top(dtype, gap, classes, fn):
    return float(fn(_row(dtype, gap, classes))[0, 0])


TORCH_LOG = lambda x: torch.log_softmax(x, dim=-1)  # noqa: E731


# torch's log_softmax at 128,256 classes rounds per CPU path (AVX512's 16 float32 lanes, AVX2's 8)
AT_128256 = {"AVX512": {"bfloat16": 17.375, "float32": 27.704214096069336},
             "AVX2": {"bfloat16": 17.25, "float32": 27.704153060913086}}


@pytest.mark.parametrize("dtype, classes, torch_gap, log1p_gap", [
    ("float16", 2, 7.625, 17.34375), ("bfloat16", 2, 5.5625, 93.0), ("float32", 2, 16.63553237915039,
                                                                      102.87346649169922),
    ("bfloat16", 128256, None, 104.0), ("float32", 128256, None, 103.97208404541016)])
def test_where_torch_and_the_log1p_form_first_read_log_p_0(dtype, classes, torch_gap, log1p_gap):
    torch_gap = torch_gap or on_this_path(AT_128256)[dtype]
    for fn, gap in ((TORCH_LOG, torch_gap), (log_softmax, log1p_gap)):
        assert _torch_top(dtype, gap, classes, fn) == 0.0
        assert _torch_top(dtype, _below(dtype, gap), classes, fn) < 0.0
    # the scans give the same numbers
    assert log_thresholds("torch-log", dtype, classes).top_log_zero_from_gap == torch_gap
    assert log_thresholds("torch-log1p", dtype, classes).top_log_zero_from_gap == log1p_gap


@pytest.mark.parametrize("dtype, classes, gap", [("float16", 2, 17.34375), ("bfloat16", 2, 93.0),
                                                 ("float32", 2, 103.97208404541016),
                                                 ("float32", 128256, 103.97208404541016)])
def test_another_tokens_probability_is_exactly_0_from_the_gap_its_log_probability_never_is(dtype, classes, gap):
    def other(g):
        lp = torch.log_softmax(_row(dtype, g, classes), dim=-1)[0, 1]
        return float(lp), float(lp.exp())
    assert other(gap)[1] == 0.0 and other(_below(dtype, gap))[1] > 0.0
    assert np.isfinite(other(gap)[0]) and np.isfinite(other(float(DTYPES[dtype].format.max_finite) / 2)[0])
    if classes == 2:
        t = log_thresholds("torch-log", dtype, 2)
        assert t.other_probability_zero_from_gap == gap and t.other_log_inf_from_gap is None


def test_jax_bfloat16_log_softmax_depends_on_the_number_of_rows():
    k = get_kernel("jax-log")
    if not k.available():
        pytest.skip("jax not installed")
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    def top(g, rows):  # jax itself, one row repeated `rows` times in one call
        x = jnp.zeros((rows, 2), dtype=jnp.bfloat16).at[:, 0].set(g)
        return float(jax.nn.log_softmax(x, axis=-1)[0, 0])
    # under 4096 rows: computed in bfloat16, log p = 0 from gap 5.5625 (as torch's)
    assert top(5.5625, 1) == 0.0 and top(_below("bfloat16", 5.5625), 1) < 0.0 and top(8.0, 4095) == 0.0
    # 4096 rows or more: float32 intermediates, log p = 0 only from gap 16.75
    assert top(8.0, 4096) == -0.000335693359375 and top(16.75, 4096) == 0.0 and top(16.625, 4096) < 0.0
    assert log_thresholds(k, "bfloat16", 2).top_log_zero_from_gap == 5.5625  # the kernel calls 1024 rows at a time


def _ce(dtype, gap, classes, tokens):
    x = _row(dtype, gap, classes).requires_grad_(True)
    loss = F.cross_entropy(x, torch.zeros(1, dtype=torch.long), reduction="none")
    loss.backward(torch.full_like(loss, 1.0 / tokens))
    return float(loss.detach()), x.grad[0, 0].item() == 0.0, bool((x.grad == 0).all())


@pytest.mark.parametrize("dtype, classes, tokens, loss_gap, grad_gap", [
    ("float16", 2, 1, 7.625, 17.34375), ("bfloat16", 2, 1, 5.5625, 93.0),
    ("float32", 2, 1, 16.63553237915039, 103.97208404541016),
    ("bfloat16", 128256, 8192, None, 84.0), ("float32", 128256, 8192, None, 94.96104431152344)])
def test_cross_entropy_loss_and_gradient_are_exactly_zero_from_the_measured_gaps(dtype, classes, tokens, loss_gap,
                                                                                grad_gap):
    loss_gap = loss_gap or on_this_path(AT_128256)[dtype]
    loss, top_zero, _ = _ce(dtype, loss_gap, classes, tokens)
    assert loss == 0.0 and top_zero
    loss, top_zero, _ = _ce(dtype, _below(dtype, loss_gap), classes, tokens)
    assert loss > 0.0 and not top_zero
    assert _ce(dtype, grad_gap, classes, tokens)[2] and not _ce(dtype, _below(dtype, grad_gap), classes, tokens)[2]
    if classes == 2:
        t = cross_entropy_thresholds(dtype, 2, tokens=tokens)
        assert (t.loss_zero_from_gap, t.top_gradient_zero_from_gap, t.gradient_zero_from_gap) == (
            loss_gap, loss_gap, grad_gap)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_the_log1p_form_is_exact_to_an_ulp_where_torch_reads_0(dtype):
    g = log1p_gain(dtype, 2, samples=256)
    assert g.log1p_max_ulps <= 1 and g.torch_ulps[1] > 1000 and g.gaps_compared > 100
    # one gap checked by hand: float32, gap 20, torch says log p = 0, the truth is −2.06e−9
    if dtype == "float32":
        exact = np.float32(float(-mpmath.log1p(mpmath.exp(-20))))
        assert float(torch.log_softmax(_row("float32", 20.0, 2), dim=-1)[0, 0]) == 0.0
        assert ulps(DTYPES["float32"], log_softmax(np.array([20.0, 0.0], dtype=np.float32))[:1],
                    np.array([exact]))[0] <= 1


def test_language_model_section_rows_and_markdown():
    from precision.report.kernel_sections import language_models_markdown
    from precision.report.language_models import language_model_rows
    rows = language_model_rows(dtypes=("float32",), vocabs=(100,), seq_lens=(4,), tokens=8)
    assert {r["kernel"] for r in rows["log_probabilities"]} >= {"torch-log", "torch-log1p"}
    assert rows["log1p_gain"][0]["log1p_max_ulps"] <= 1 and not rows["softcap"][0]["cap_prevents_top_one"]
    md = language_models_markdown(rows)
    assert md.startswith("## Language models") and "| torch-log | float32 | 2 | 16.6355 |" in md
    assert "scaled_dot_product_attention" in md and "| float32 | 100 (" in md
