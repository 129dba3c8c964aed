"""The real kernels: registry, dtype grids, measured thresholds, agreement with emulation, exhaustive certificates.

References are computed independently: by calling the library directly on the one row at the threshold and on
the row one grid step below, never through the code under test.
"""
import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from precision.emulated.thresholds import thresholds
from precision.formats.dtypes import ALL_DTYPES
from precision.formats.named_formats import BUILTIN
from precision.kernels import scan as kt
from precision.kernels.certificate import INTERVALS_KEPT, OTHERS_WHEN_ONE_BOUND_ULPS, VerifyError, verify
from precision.kernels.registry import DTYPES, KERNELS, Kernel, KernelError, get_kernel
from precision.kernels.scan import agreement, kernel_thresholds, sample_rows, two_class_rows
from tests.precision.cpu_path import on_this_path

AVAILABLE = [pytest.param(k, d, id=f"{k.name}-{d}",
                          marks=[] if k.available() else pytest.mark.skip(reason=f"{k.package} not installed "
                                                                                 f"(extra {k.extra})"))
             for k in KERNELS.values() for d in k.dtypes]


@pytest.mark.parametrize("name", list(DTYPES))
@given(data=st.data())
def test_grid_index_is_the_bit_pattern_of_the_exact_format(name, data):
    d = DTYPES[name]
    i = data.draw(st.integers(0, d.max_index))
    value = d.values(np.array([i]))[0]
    assert float(value) == float(BUILTIN[name].value_at(i))
    assert d.index(np.array([value]))[0] == i


def test_largest_index_is_the_largest_finite_value():
    for d in DTYPES.values():
        top = d.values(np.array([d.max_index, d.max_index + 1])).astype(np.float64)
        assert top[0] == float(d.format.max_finite)
        if d.format.overflow == "finite":  # FP6/FP4: neither infinity nor NaN; the next pattern sets the sign bit
            assert top[1] == 0 and np.signbit(top[1])
        else:
            assert not np.isfinite(top[1])


@pytest.mark.parametrize("kernel, dtype", AVAILABLE)
def test_every_kernel_runs_in_every_dtype_it_declares(kernel, dtype):
    d = ALL_DTYPES[dtype]
    far = min(60.0, float(d.format.max_finite) / 2)  # past every threshold, within e3m4's 15.5 and FP4's 6
    x = d.cast(np.array([[0.0, 0.0], [1.0, 0.0], [far, 0.0]]))
    p = kernel(x, dtype).astype(np.float64)
    assert kernel(x, dtype).dtype == d.storage
    if kernel.log_space:
        p = np.exp(p)
    assert p[0, 0] == pytest.approx(0.5, rel=0.07) and p[2, 0] == 1.0
    if d.format.precision > 2:
        assert 0.6 < p[1, 0] < 0.8  # e/(e + 1) = 0.731
    else:  # FP4: e^−1 rounds to 0.5, and 1/1.5 to 0.5 (it has no value between 0.5 and 1)
        assert p[1, 0] == 0.5


def test_bad_kernel_dtype_and_missing_package_name_the_culprit():
    with pytest.raises(KernelError, match="unknown 'tf'.*torch"):
        get_kernel("tf")
    with pytest.raises(KernelError, match="scipy does not take dtype 'bfloat16'; it takes float16"):
        get_kernel("scipy").check("bfloat16")
    with pytest.raises(KernelError, match="runs on the CPU only"):
        get_kernel("numpy").check("float32", "cuda")
    ghost = Kernel("ghost", "ghost.softmax", "no_such_package_xyz", "kernels", ("float32",), None, None)
    with pytest.raises(KernelError, match=r"pip install 'softmax-saturation\[kernels\]'"):
        ghost.check("float32")


def _torch_top(dtype, gap, classes=2):
    torch = pytest.importorskip("torch")
    x = torch.zeros(1, classes, dtype=getattr(torch, dtype))
    x[0, 0] = gap
    return float(torch.softmax(x, dim=-1)[0, 0])


@pytest.mark.parametrize("dtype, classes, method", [
    ("float16", 2, "exhaustive"), ("bfloat16", 2, "exhaustive"), ("bfloat16", 1000, "exhaustive"),
    ("float32", 2, "search + ±4096-step window"), ("float32", 1000, "search + ±4096-step window"),
    ("float64", 2, "search + ±4096-step window"),
    # a vocabulary: every 16-bit gap would be 4·10⁹ logits, so a search and a narrower window (about a second)
    ("float16", 128256, "search + ±523-step window"), ("bfloat16", 128256, "search + ±523-step window"),
    ("float32", 128256, "search + ±523-step window")])
def test_torch_saturates_at_the_measured_gap_and_not_one_grid_step_below(dtype, classes, method):
    t = kernel_thresholds("torch", dtype, classes, "equal")
    d = DTYPES[dtype]
    at = d.index(np.array([t.top_is_one_from_gap]))[0]
    below = float(d.values(np.array([at - 1]))[0])
    assert _torch_top(dtype, t.top_is_one_from_gap, classes) == 1.0
    assert _torch_top(dtype, below, classes) < 1.0
    assert t.method == method


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_others_are_zero_from_the_measured_gap_at_a_vocabulary_and_not_one_step_below(dtype):
    torch = pytest.importorskip("torch")
    t = kernel_thresholds("torch", dtype, 128256, "equal")
    d = DTYPES[dtype]
    below = float(d.values(d.index(np.array([t.others_zero_from_gap])) - 1)[0])

    def others(gap):
        x = torch.zeros(1, 128256, dtype=getattr(torch, dtype))
        x[0, 0] = gap
        return torch.softmax(x, dim=-1)[0, 1:]
    assert (others(t.others_zero_from_gap) == 0).all() and not (others(below) == 0).all()


def test_torch_16_bit_thresholds_are_not_the_emulated_in_format_ones():
    pytest.importorskip("torch")
    # torch widens 16-bit inputs to float32 and rounds once: later than a softmax rounded in the format
    assert kernel_thresholds("torch", "bfloat16", 2).top_is_one_from_gap == 6.25  # emulated in bfloat16: 5.5625
    assert kernel_thresholds("torch", "float16", 2).top_is_one_from_gap == 8.3203125  # emulated: 7.625
    big = kernel_thresholds("torch", "bfloat16", 1000).top_is_one_from_gap
    assert big > 2 * 5.5625


def test_a_non_monotone_kernel_is_found_out():
    def naive(x, d, device):  # exp(x) / Σ exp(x): overflows to NaN, and leaves 1 before that
        with np.errstate(all="ignore"):
            e = np.exp(x)
            return e / e.sum(axis=1, keepdims=True)
    k = Kernel("naive", "np.exp(x) / sum", "numpy", "", ("float16",), naive, None)
    t = kernel_thresholds(k, "float16", 2)
    assert t.nan_from_gap is not None and t.top_not_one_after_first
    cert = verify(k, "float16", 2, progress=False)
    assert not cert.holds and not cert.nan_free and not cert.never_leaves_one
    assert (cert.nan_from_gap, cert.others_zero_from_gap, cert.sum_exceeds_one) == \
           (t.nan_from_gap, t.others_zero_from_gap, t.sum_exceeds_one)
    kept = cert.top_not_one_after_first  # the first INTERVALS_KEPT of them
    assert len(kept) == INTERVALS_KEPT and kept == t.top_not_one_after_first[:INTERVALS_KEPT]


def _step_kernel(zero_from: float, one_from: float = 0.0, nan_from: float | None = None,
                 others_again: tuple[float, float] | None = None, log_space: bool = False,
                 name: str = "step") -> Kernel:
    """A made-up kernel of the gap alone: the top output exactly 1 from gap `one_from` (0.75 below), the others
    positive below `zero_from` (and in `others_again`, a [lo, hi) of gaps) and 0 elsewhere, the top NaN from
    `nan_from`."""
    def compute(x, d, device):
        g = x[:, 0].astype(np.float64) - x[:, 1].astype(np.float64)
        p = np.zeros(x.shape)
        p[:, 0] = np.where(g >= one_from, 1.0, 0.75)
        positive = g < zero_from
        if others_again is not None:
            positive |= (g >= others_again[0]) & (g < others_again[1])
        p[positive, 1:] = 0.25 / (x.shape[1] - 1)
        if nan_from is not None:
            p[g >= nan_from, 0] = np.nan
        with np.errstate(divide="ignore"):
            return (np.log(p) if log_space else p).astype(x.dtype)
    return Kernel(name, "a step", "numpy", "", ("float16",), compute, None, log_space=log_space)


@pytest.mark.parametrize("one_from, zero_from, log_space, window", [
    (3.0, 5.0, False, (3.0, 5.0)), (3.0, np.inf, False, (3.0, None)),  # the others never all 0: open-ended
    (3.0, 3.0, False, None), (3.0, 2.0, False, None),  # others 0 with the top's 1, or before it: no window
    (3.0, 5.0, True, None)])  # log-probabilities: no sum to exceed
def test_sum_exceeds_one_window_is_the_same_rule_in_thresholds_and_certificate(one_from, zero_from, log_space, window):
    k = _step_kernel(zero_from, one_from, log_space=log_space)
    t, cert = kernel_thresholds(k, "float16", 2), verify(k, "float16", 2, progress=False)
    zero = None if zero_from == np.inf else zero_from
    assert (t.top_is_one_from_gap, t.others_zero_from_gap) == (cert.top_is_one_from_gap, cert.others_zero_from_gap) \
        == (one_from, zero)
    assert t.sum_exceeds_one == cert.sum_exceeds_one == window


@pytest.mark.parametrize("kernel, dtype", [("torch", "float16"), ("torch", "bfloat16"), ("torch-float32", "float16"),
                                           ("torch-float32", "bfloat16"), ("numpy", "bfloat16"),
                                           ("onnxruntime", "float16")])
def test_emulation_reproduces_the_kernel_bit_for_bit(kernel, dtype):
    k = get_kernel(kernel)
    if not k.available():
        pytest.skip(f"{k.package} not installed (extra {k.extra})")
    assert agreement(k, dtype, two_class_rows(dtype), "every two-class gap").bit_for_bit
    assert agreement(k, dtype, sample_rows(1000, 32), "M = 1000").bit_for_bit


def test_where_emulation_differs_the_difference_is_measured():
    a = agreement("numpy", "float32", sample_rows(1000, 16), "M = 1000")
    assert a.differing > 0 and 0 < a.max_ulps < 64  # vectorised exp: faithful, not correctly rounded


def test_verify_certifies_every_gap_and_agrees_with_the_thresholds(tmp_path):
    pytest.importorskip("torch")
    cert = verify("torch", "float16", 2, progress=False)
    t = kernel_thresholds("torch", "float16", 2)
    assert cert.holds and cert.monotone and cert.never_leaves_one and cert.nan_free
    assert cert.gaps_evaluated == DTYPES["float16"].max_index + 1
    assert cert.top_is_one_from_gap == t.top_is_one_from_gap and cert.others_zero_from_gap == t.others_zero_from_gap
    assert cert.sum_exceeds_one == t.sum_exceeds_one


def test_emulated_and_measured_thresholds_and_a_certificate_share_one_vocabulary():
    facts = ("top_is_one_from_gap", "others_zero_from_gap", "sum_exceeds_one", "nan_from_gap",
             "top_not_one_after_first", "gaps_evaluated")
    emulated = thresholds("float16", "shifted", 2).as_dict()  # NumPy's float16 softmax is this, bit for bit
    measured = kernel_thresholds("numpy", "float16", 2).as_dict()
    cert = verify("numpy", "float16", 2, progress=False).as_dict()
    assert [emulated[k] for k in facts] == [measured[k] for k in facts] == [cert[k] for k in facts]
    assert emulated["sum_exceeds_one"] == ["7.625", "17.34375"]  # every gap one exact decimal string
    naive = thresholds("float16", "naive", 2)
    d = json.loads(json.dumps(naive.as_dict()))
    assert Fraction(d["nan_from_gap"]) == naive.nan_from_gap
    assert d["top_not_one_after_first"][-1] == ["11.09375", "65504"]
    f32 = kernel_thresholds("numpy", "float32", 2)  # a float32 value written out exactly, not as its shortest repr
    assert Fraction(f32.as_dict()["top_is_one_from_gap"]) == Fraction(f32.top_is_one_from_gap)


def test_verify_streams_in_chunks_with_the_same_result(monkeypatch):
    whole = verify("numpy", "bfloat16", 2, progress=False)
    import precision.kernels.certificate as v
    monkeypatch.setattr(v, "CELLS", 2 * 1000)  # 1000 gaps per chunk
    chunked = verify("numpy", "bfloat16", 2, progress=False)
    assert chunked.as_dict() | {"seconds": 0, "date": ""} == whole.as_dict() | {"seconds": 0, "date": ""}


def test_verify_refuses_float64():
    with pytest.raises(VerifyError, match="out of reach"):
        verify("numpy", "float64", 2, progress=False)


def test_scan_chunks_bound_the_memory_and_change_nothing(monkeypatch):
    whole = kernel_thresholds("numpy", "float16", 1000, "one")
    monkeypatch.setattr(kt, "CELLS", 50_000)
    assert kernel_thresholds("numpy", "float16", 1000, "one") == whole


def test_large_vocabulary_thresholds():
    pytest.importorskip("torch")
    t = kernel_thresholds("torch", "bfloat16", 128256, "one")
    assert t.top_is_one_from_gap == kernel_thresholds("torch", "bfloat16", 2).top_is_one_from_gap


def test_thresholds_command_measures_a_kernel(capsys):
    pytest.importorskip("torch")
    from softmax_sat import main
    assert main(["thresholds", "--kernel", "torch", "--dtype", "bfloat16", "--classes", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["top_is_one_from_gap"] == "6.25" and out["kernel"] == "torch"


def test_verify_command_writes_a_certificate(tmp_path, capsys):
    from softmax_sat import main
    assert main(["verify", "--kernel", "numpy", "--dtype", "float8_e4m3fn", "--out", str(tmp_path)]) == 0
    cert = json.loads((tmp_path / "verify-numpy-float8_e4m3fn-M2-equal.json").read_text())
    assert cert["holds"] and cert["gaps_evaluated"] == 127 and cert["top_is_one_from_gap"] == "2.75"
    assert "Corrected Lemma 2.1 holds" in capsys.readouterr().out


@pytest.mark.parametrize("kernel, dtype, classes, key, value", [
    ("jax", "float32", 2, "others_zero_from_gap", 87.3365478515625),  # flushes subnormals: not 103.97
    ("jax", "float64", 2, "others_zero_from_gap", 708.3964185322642),
    ("jax", "bfloat16", 1000, "top_is_one_from_gap", 12.5),
    ("onnxruntime", "float16", 2, "top_is_one_from_gap", 8.3203125),
    ("onnxruntime", "float16", 1000, "top_is_one_from_gap", 15.2265625),
    ("numpy", "bfloat16", 1000, "top_is_one_from_gap", 5.5625),  # NumPy's bfloat16 sum stays in bfloat16
    ("numpy", "float16", 1000, "top_is_one_from_gap", 14.5),
    ("torch", "float32", 1000, "top_is_one_from_gap", {"AVX512": 22.850141525268555, "AVX2": 22.8501434326171875}),
    ("torch-log", "bfloat16", 2, "top_is_one_from_gap", 5.5625),
    ("torch", "bfloat16", 128256, "top_is_one_from_gap", {"AVX512": 18.0, "AVX2": 17.875})])  # an LLM vocabulary
def test_the_figures_the_readme_quotes_per_framework(kernel, dtype, classes, key, value):
    k = get_kernel(kernel)
    if not k.available():
        pytest.skip(f"{k.package} not installed (extra {k.extra})")
    if isinstance(value, dict):  # torch on the CPU: the figure of the path this process runs
        value = on_this_path(value)
    assert float(kernel_thresholds(k, dtype, classes, "equal").as_dict()[key]) == value  # JSON: exact decimal


@pytest.mark.parametrize("name", ["jax", "jax-log"])
def test_a_jax_row_does_not_depend_on_how_many_rows_came_with_it(name):
    k = get_kernel(name)
    if not k.available():
        pytest.skip(f"{k.package} not installed (extra {k.extra})")
    import jax
    x = sample_rows(1000, 64).astype(np.float32)
    raw = getattr(jax.nn, "softmax" if name == "jax" else "log_softmax")
    alone = np.concatenate([np.asarray(raw(jax.numpy.asarray(x[i:i + 1]), axis=-1)) for i in range(len(x))])
    assert (alone != np.asarray(raw(jax.numpy.asarray(x), axis=-1))).any()  # XLA itself: it does (jax 0.10.2)
    each = np.concatenate([k(x[i:i + 1], "float32") for i in range(len(x))])
    assert (each == k(x, "float32")).all() and (k(x[:7], "float32") == k(x, "float32")[:7]).all()


@pytest.mark.parametrize("classes, small, large, worst_small, worst_large", [
    (10, 409, 410, (6.25, 6.26), (1.77, 1.78)), (1000, 4, 5, (30.3, 30.4), (1.95, 1.97))])
def test_jax_absorbs_the_rivals_in_a_call_of_under_about_4096_logits(classes, small, large, worst_small, worst_large):
    """The README's figures: jax.nn.softmax float32, equal rivals, the others' sum (in u = 2⁻²⁴) where the top
    output is exactly 1, over 300 gaps in [17, 30], with the row repeated `small` or `large` times in a call; the
    `jax` kernel (1,024 rows a call) reads the large call's."""
    k = get_kernel("jax")
    if not k.available():
        pytest.skip(f"{k.package} not installed (extra {k.extra})")
    import jax
    x = np.zeros((300, classes), dtype=np.float32)
    x[:, 0] = np.linspace(17, 30, 300, dtype=np.float32)

    def others_when_one(p):
        return (p[:, 1:].astype(np.float64).sum(axis=1)[p[:, 0] == 1] / 2.0 ** -24).max()

    def in_calls_of(rows):
        return np.concatenate([np.asarray(jax.nn.softmax(jax.numpy.asarray(np.repeat(row[None], rows, axis=0)),
                                                         axis=-1))[:1] for row in x])
    assert worst_small[0] < others_when_one(in_calls_of(1)) == others_when_one(in_calls_of(small)) < worst_small[1]
    assert worst_large[0] < others_when_one(in_calls_of(large)) == others_when_one(k(x, "float32")) < worst_large[1]
    assert worst_large[1] <= OTHERS_WHEN_ONE_BOUND_ULPS < worst_small[0]


def test_a_jax_kernel_takes_no_rows():
    k = get_kernel("jax")
    if not k.available():
        pytest.skip(f"{k.package} not installed (extra {k.extra})")
    assert k(np.zeros((0, 5), dtype=np.float32), "float32").shape == (0, 5)


@pytest.mark.parametrize("kernel", [
    _step_kernel(5.0, name="monotone"), _step_kernel(5.0, nan_from=10.0, name="nan-later"),
    _step_kernel(10.0, nan_from=10.0, name="zero-only-where-nan"),  # the others are 0 only where outputs are NaN
    _step_kernel(5.0, others_again=(6.0, 7.0), name="non-monotone")], ids=lambda k: k.name)
def test_a_searched_scan_reads_what_an_exhaustive_scan_reads(kernel, monkeypatch):
    import precision.kernels.gaps as gaps
    whole = kernel_thresholds(kernel, "float16", 2)
    monkeypatch.setattr(gaps, "EXHAUSTIVE_MAX_CELLS", 0)  # the rule for wide rows, on the same kernel
    searched = kernel_thresholds(kernel, "float16", 2)
    assert (whole.method, searched.method) == ("exhaustive", "search + ±4096-step window")
    for fact in ("top_is_one_from_gap", "others_zero_from_gap", "nan_from_gap", "sum_exceeds_one"):
        assert getattr(searched, fact) == getattr(whole, fact), fact
