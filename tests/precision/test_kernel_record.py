"""A kernel is one record: an entry added to the registry, and nothing else, reaches the report's tables and
figure, the exp-error verdicts, the logits analysis, `verify` and `precision.testing`."""
import json

import numpy as np
import pytest

from precision.kernels import contract
from precision.kernels.backends import numpy_scipy
from precision.kernels.registry import KERNELS, EmulationModel, Kernel, KernelError, get_kernel, in_section
from precision.report import figures
from softmax_sat import main


def _rounded_once(x, d, device):
    """exp(x − max) / Σ in float64, rounded once to the dtype."""
    w = x.astype(np.float64)
    e = np.exp(w - w.max(axis=1, keepdims=True))
    return d.cast(e / e.sum(axis=1, keepdims=True))


def _model(dtype: str) -> EmulationModel:
    return EmulationModel("shifted", "float64", "pairwise", "float64 throughout, rounded once")


MADE_UP = Kernel("made-up", "a made-up float64 softmax rounded once", "numpy", "kernels", ("float16", "bfloat16"),
                 _rounded_once, _model, exp=numpy_scipy.exp, wide_rows="fast")


@pytest.fixture
def made_up(monkeypatch):
    monkeypatch.setitem(KERNELS, MADE_UP.name, MADE_UP)  # the one edit: its entry in the registry
    return MADE_UP


def test_the_report_tables_figure_and_verdicts_find_a_registered_kernel(made_up, tmp_path, capsys, monkeypatch):
    out = tmp_path / "report"
    assert main(["report", "--kernels", "made-up", "--formats", "float16", "--algorithms", "shifted",
                 "--classes", "2", "--kernel-classes", "2", "--vocabulary", "10", "--no-figures",
                 "--out", str(out)]) == 0
    data = json.loads((out / "report.json").read_text())
    rows = [r for r in data["kernels"]["thresholds"] if r["kernel"] == "made-up"]
    assert {(r["dtype"], r["classes"]) for r in rows} == {("float16", 2), ("bfloat16", 2), ("float16", 10),
                                                          ("bfloat16", 10)}  # fast at wide rows: the vocabulary
    assert {r["top_is_one_from_gap"] for r in rows if r["classes"] == 2} == {"8.3203125", "6.25"}  # rounded once
    assert {a["kernel"] for a in data["kernels"]["agreement"]} == {"made-up"}
    assert {r["kernel"] for r in data["kernels"]["exp_error"]} == {"made-up"}
    md = (out / "report.md").read_text()
    assert "| made-up | 8.32031 | 6.25 |" in md
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: drawn.append(fig) or path)
    figures.kernels_figure(data, tmp_path)
    cells = [t.get_text() for ax in drawn[0].axes for t in ax.texts]  # every value written in its cell
    assert {"8.32", "6.25", "7.625"} <= set(cells)  # made-up float16, bfloat16; emulated float16
    assert any(t.get_text() == "made-up" for ax in drawn[0].axes for t in ax.get_yticklabels())


def test_the_logits_analysis_and_verify_find_a_registered_kernel(made_up, tmp_path, capsys):
    logits = tmp_path / "rows.npy"
    np.save(logits, np.array([[30.0, 0.0], [3.0, 0.0], [8.5, 0.0]]))
    assert main(["logits", str(logits), "--kernel", "made-up", "--out", str(tmp_path / "l")]) == 0
    found = json.loads((tmp_path / "l" / "logits.json").read_text())
    assert "made-up" in json.dumps(found)
    assert main(["verify", "--kernel", "made-up", "--dtype", "float16", "--out", str(tmp_path / "v")]) == 0
    assert "made-up float16 M=2" in capsys.readouterr().out
    cert = json.loads((tmp_path / "v" / "verify-made-up-float16-M2-equal.json").read_text())
    assert cert["kernel"] == "made-up" and float(cert["top_is_one_from_gap"]) == 8.3203125


def test_sections_are_facts_of_the_record(made_up, monkeypatch):
    assert made_up not in in_section("cpu-paths") and get_kernel("made-up") is made_up
    assert {k.name for k in in_section("log-probabilities")} <= {"torch-log", "torch-log1p", "jax-log", "scipy-log"}
    with pytest.raises(KernelError, match="unknown section"):
        Kernel("x", "x", "numpy", "", ("float16",), _rounded_once, _model, sections=("attention",))
    assert set(contract.SECTIONS) == {"cpu-paths", "log-probabilities"}
