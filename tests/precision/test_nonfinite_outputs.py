"""A kernel's NaN or infinite outputs for finite logits are counted per row and dtype (`nonfinite_output`), apart
from NaN or overflowing logits, never as saturated or not: in `saturation_of`, the logits analysis of a file and of
a dump (summaries, tables, per-token flags, figure legend) and `watch`."""
import json

import numpy as np
import pytest

from precision.kernels.registry import Kernel, get_kernel
from precision.logits.dumps import analyse_sources
from precision.logits.figures import past_threshold_bars
from precision.logits.rows import emulated_kernel, nonfinite_outputs, saturation_of
from precision.logits.shard_scan import FLAG_BITS
from precision.logits.summary import DtypeStatistics
from softmax_sat import main

# rows 0 and 2: e^12 overflows float16 (65504 ≈ e^11.09), so a naive exp gives inf / inf; row 1 stays finite; row 3
# holds a logit beyond float16's range (an overflowing logit, not a kernel fault)
ROWS = np.array([[12.0, 8.0, 7.5, 8.5], [3.0, 0.0, 1.0, -1.0], [12.5, 2.0, 1.0, 0.0], [70000.0, 0.0, 0.0, 0.0]])
NAIVE_NAN = [True, False, True, False]


@pytest.mark.parametrize("kernel", [emulated_kernel("naive"), "tests.precision.nonfinite_kernels:naive"])
@pytest.mark.parametrize("exact", [True, False])
def test_naive_exp_overflow_is_counted_as_nonfinite_output_apart_from_overflowing_logits(kernel, exact):
    s = saturation_of(ROWS, ("float16", "float32"), kernel, exact_distance=exact)
    f16 = s["float16"]
    assert f16.nonfinite_output.tolist() == NAIVE_NAN
    assert f16.overflow.tolist() == [False, False, False, True] and not f16.nan.any()
    assert not f16.top_is_one[NAIVE_NAN].any() and not f16.others_zero[NAIVE_NAN].any()
    assert np.isnan(f16.threshold[NAIVE_NAN]).all() and not f16.beyond_reach[NAIVE_NAN].any()
    assert np.isfinite(f16.gap[NAIVE_NAN]).all()  # the logits' own numbers stay
    # e^12 is a float32; 70000 is a float32 logit whose e^70000 is not: the kernel's fault there, not the logits'
    assert s["float32"].nonfinite_output.tolist() == [False, False, False, True] and not s["float32"].overflow.any()
    stats = DtypeStatistics.of(f16, np.zeros(4, dtype=np.int64))
    assert (stats.nonfinite_output, stats.overflow, stats.beyond_reach) == (2, 1, int(f16.beyond_reach[1]))
    assert DtypeStatistics.from_dict(stats.as_dict()).nonfinite_output == 2


def test_a_log_space_kernel_is_flagged_for_plus_inf_but_not_for_minus_inf_rivals():
    top = np.array([0, 0, 0])
    p = np.array([[0.0, -np.inf, -np.inf], [-0.5, -1.0, -np.inf], [np.inf, -1.0, -2.0]])
    assert nonfinite_outputs(p, top, log_space=True).tolist() == [False, False, True]
    assert nonfinite_outputs(np.array([[-np.inf, 0.0, 0.0]]), np.array([0]), log_space=True).tolist() == [True]
    assert nonfinite_outputs(np.array([[1.0, 0.0], [np.nan, 0.0]]), np.array([0, 0]), log_space=False).tolist() == \
        [False, True]
    k = Kernel.from_callable(__import__("tests.precision.nonfinite_kernels", fromlist=["x"]).log_plus_inf,
                             log_space=True, name="log_plus_inf")
    s = saturation_of(np.array([[30.0, 0.0], [3.0, 0.0]]), ("float32",), k)["float32"]
    assert s.nonfinite_output.tolist() == [True, False] and s.top_is_one.tolist() == [False, False]


def test_every_real_kernel_reports_no_nonfinite_output_on_ordinary_logits():
    rows = np.array([[12.0, 8.0, 7.5], [30.0, 0.0, 0.0], [3.0, 1.0, 0.0]])
    for name in ("torch", "numpy", "scipy"):
        k = get_kernel(name)
        if not k.available():
            continue
        for d, r in saturation_of(rows, k.dtypes, k).items():
            assert not r.nonfinite_output.any(), (name, d)


def test_report_logits_counts_nan_outputs_in_json_table_and_figure(tmp_path, capsys):
    f = tmp_path / "cls.npy"
    np.save(f, ROWS[:3].astype(np.float32))
    out = tmp_path / "r"
    assert main(["logits", str(f), "--kernel", "emulated", "--algorithm", "naive", "--dtypes",
                 "float16", "--out", str(out)]) == 0
    data = json.loads((out / "logits.json").read_text())
    (summary,) = data["summary"]
    assert (summary["nonfinite_output"], summary["nan"], summary["overflow"], summary["beyond_reach"]) == (2, 0, 0, 0)
    flags = np.load(out / "logits.tokens-00000.npy")["float16.flags"]
    assert ((flags & FLAG_BITS["nonfinite_output"]) > 0).tolist() == NAIVE_NAN[:3]
    md = (out / "logits.md").read_text()
    assert "rows with NaN/inf outputs" in md and "| 2 |" in md and "2 in float16" in md


def test_a_dump_flags_and_counts_nan_outputs_per_token(tmp_path):
    src = tmp_path / "dump"
    src.mkdir()
    np.save(src / "a.npy", ROWS.astype(np.float32))
    out = tmp_path / "r"
    analyse_sources([str(src)], out, ("float16",), "tests.precision.nonfinite_kernels:naive", progress=False,
                    figures=False)
    data = json.loads((out / "logits.json").read_text())
    assert data["summary"][0]["nonfinite_output"] == 2 and data["tokens"]["flag_bits"]["nonfinite_output"] == 128
    flags = np.load(out / "logits.tokens-00000.npy")["float16.flags"]
    assert ((flags & FLAG_BITS["nonfinite_output"]) > 0).tolist() == NAIVE_NAN
    assert "rows with NaN/inf outputs" in (out / "logits.md").read_text()


def test_the_figure_legend_counts_rows_with_nonfinite_outputs():
    h = np.zeros(514, dtype=np.int64)
    bars = past_threshold_bars({"float16": h, "float32": h}, {"float16": 7, "float32": 0})
    assert "7 with NaN/inf outputs" in bars.label("float16") and "NaN" not in bars.label("float32")


def test_watch_counts_and_warns_once_about_nonfinite_outputs():
    torch = pytest.importorskip("torch")
    from precision.logits.watch import NonFiniteLogitsWarning, watch

    model = torch.nn.Identity()
    w = watch(model, ("float16", "float32"), kernel="tests.precision.nonfinite_kernels:naive")
    with w, pytest.warns(NonFiniteLogitsWarning, match="returned NaN or infinite outputs in float16 for 2 of 4"):
        model(torch.tensor(ROWS[[0, 1, 2, 1]], dtype=torch.float32))
        model(torch.tensor(ROWS[[1]], dtype=torch.float32))
    assert [s.nonfinite_output_rows for s in w.steps] == [{"float16": 2, "float32": 0}, {"float16": 0, "float32": 0}]
    f16 = w.summary()[0]
    assert f16["nonfinite_output_rows"] == 2 and f16["saturated_rows"] == 0
    assert "rows with NaN/inf outputs" in w.table()


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_a_kernel_that_overflows_before_the_reach_still_gets_its_threshold(dtype):
    """A user's naive kernel has no model to guess from, and gives NaN at the far end of the search (e^x overflows
    long before a gap of 2048): its threshold is still found where it is, not called beyond reach."""
    from tests.precision.nonfinite_kernels import naive
    row = np.array([[3.0, 0.0, 1.0, -1.0]])
    s = saturation_of(row, (dtype,), "tests.precision.nonfinite_kernels:naive", exact_distance=True)[dtype]
    (t,) = s.threshold
    assert np.isfinite(t) and not s.beyond_reach.any()
    at = np.array([[1.0 + t, 0.0, 1.0, -1.0]], dtype=dtype)
    below = at.copy()
    below[0, 0] = np.nextafter(at[0, 0], np.array(0, dtype=dtype))
    assert naive(at)[0, 0] == 1 and naive(below)[0, 0] < 1  # saturates here, not one grid step below
    assert np.log(np.finfo(dtype).max) - 1 > t  # below the overflow that made the old search miss it
