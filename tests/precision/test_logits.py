"""`softmax-sat logits`: real kernels per row, streamed in chunks, strict JSON, and bad files named."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from precision.kernels.registry import get_kernel
from precision.logits.dumps import analyse_sources
from precision.logits.files import LogitsFile, LogitsFileError
from precision.logits.rows import emulated_kernel, row_saturation
from softmax_sat import main
from tests.precision.cpu_path import on_this_path


def _strict(text: str):
    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")
    return json.loads(text, parse_constant=refuse)


def test_row_threshold_is_the_kernels_own_saturation_gap():
    pytest.importorskip("torch")
    from precision.kernels.scan import kernel_thresholds
    x = np.array([[30.0, 0.0], [3.0, 0.0], [7.0, 1.0]])
    r = row_saturation(x, "bfloat16", get_kernel("torch"))
    two = kernel_thresholds("torch", "bfloat16", 2).top_is_one_from_gap  # rows of two classes: the same gap
    assert r.threshold.tolist() == [two] * 3
    assert r.top_is_one.tolist() == [True, False, False]
    assert r.past_threshold.tolist() == [30 - two, 3 - two, 6 - two]


def test_overflow_rows_are_flagged_not_called_unsaturated():
    x = np.array([[1e6, 0.0, 0.0], [20.0, 0.0, 0.0]])
    r = row_saturation(x, "float16", get_kernel("numpy"))
    assert r.overflow.tolist() == [True, False]
    assert np.isnan(r.gap[0]) and np.isnan(r.threshold[0]) and r.top_is_one.tolist() == [False, True]


def test_sum_above_one_rows():
    r = row_saturation(np.array([[20.0, 0.0], [200.0, 0.0]]), "float32", get_kernel("numpy"))
    assert r.top_is_one.tolist() == [True, True] and r.sum_exceeds_one.tolist() == [True, False]


def test_emulated_kernel_matches_the_emulated_threshold():
    from precision.emulated.thresholds import thresholds
    r = row_saturation(np.array([[1.0, 0.0]]), "float16", emulated_kernel("shifted"))
    assert r.threshold[0] == float(thresholds("float16", "shifted", 2).top_is_one_from_gap)


def test_streaming_in_chunks_gives_the_same_rows(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 6, (300, 50))
    np.save(tmp_path / "l.npy", x)
    import precision.logits.shards as shards
    whole = analyse_sources(tmp_path / "l.npy", tmp_path / "whole", ("float16", "float32"), "numpy", figures=False,
                            progress=False)
    monkeypatch.setattr(shards, "chunk_rows", lambda classes: 7)  # 7 rows per chunk
    parts = analyse_sources(tmp_path / "l.npy", tmp_path / "parts", ("float16", "float32"), "numpy", figures=False,
                            progress=False)
    assert whole["summary"] == parts["summary"]
    np.testing.assert_array_equal(np.load(tmp_path / "whole" / "logits.tokens-00000.npy"),
                                  np.load(tmp_path / "parts" / "logits.tokens-00000.npy"))


def test_logits_json_is_strict_and_names_the_kernel(tmp_path):
    x = np.array([[1e6, 0.0], [20.0, 0.0], [1.0, 0.0]])
    np.save(tmp_path / "l.npy", x)
    assert main(["logits", str(tmp_path / "l.npy"), "--kernel", "numpy", "--dtypes", "float16,float32",
                 "--out", str(tmp_path / "o"), "--no-figures"]) == 0
    data = _strict((tmp_path / "o" / "logits.json").read_text())
    tokens = np.load(tmp_path / "o" / "logits.tokens-00000.npy")  # one file: a dump of one shard, a record per row
    overflow = (tokens["float16.flags"] & data["tokens"]["flag_bits"]["overflow"]) > 0
    assert data["kernel"] == "numpy" and overflow.tolist() == [True, False, False]
    assert np.isnan(tokens["float16.past_threshold"][0]) and data["summary"][0]["overflow"] == 1


@pytest.mark.parametrize("write, message", [
    (lambda p: np.save(p.with_suffix(".npy"), np.zeros(3, dtype=[("a", "f4"), ("b", "f4")])), "holds dtype"),
    (lambda p: np.save(p.with_suffix(".npy"), np.ones((2, 3), dtype=complex)), "holds dtype complex128"),
    (lambda p: p.with_suffix(".csv").write_text("1,2\n3,abc\n"), "line 2, column 2: 'abc' is not a number"),
    (lambda p: p.with_suffix(".csv").write_text("1,2,3\n4,5\n"), "line 2 has 2 values"),
])
def test_bad_logits_files_are_named(tmp_path, write, message, capsys):
    write(tmp_path / "bad")
    path = next(tmp_path.glob("bad.*"))
    assert main(["logits", str(path), "--kernel", "numpy", "--out", str(tmp_path / "o")]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar, if it had started
    assert message in last and str(path) in last and last.startswith("softmax-sat logits: error:")


def test_nan_and_infinite_logits_are_flagged_and_counted_not_refused(tmp_path):
    """One file is a dump of one shard: a row with a NaN logit is counted under nan, one with an infinite logit
    under overflow, and neither as saturated or not (as in a dump)."""
    (tmp_path / "l.csv").write_text("a,b\nnan,0\n3,inf\n30,0\n")
    assert main(["logits", str(tmp_path / "l.csv"), "--kernel", "numpy", "--dtypes", "float32", "--out",
                 str(tmp_path / "o"), "--no-figures"]) == 0
    (s,) = json.loads((tmp_path / "o" / "logits.json").read_text())["summary"]
    assert (s["rows"], s["nan"], s["overflow"], s["saturated"]) == (3, 1, 1, 1)


def test_one_row_csv_is_read_and_a_header_is_skipped(tmp_path):
    (tmp_path / "one.csv").write_text("30,0\n")
    assert LogitsFile(tmp_path / "one.csv").shape == (1, 2)
    (tmp_path / "h.csv").write_text("cat,dog\n30,0\n")
    assert LogitsFile(tmp_path / "h.csv").shape == (1, 2)


def test_a_directory_is_not_a_missing_file(tmp_path):
    with pytest.raises(LogitsFileError, match="is a directory"):
        LogitsFile(tmp_path)


@pytest.mark.parametrize("argv, message", [
    (["--kernel", "emulated"], "--algorithm: --kernel emulated needs one"),
    (["--kernel", "numpy", "--algorithm", "shifted"], "--algorithm: applies to --kernel emulated"),
    (["--kernel", "scipy", "--dtypes", "bfloat16"], "scipy does not take dtype 'bfloat16'"),
])
def test_kernel_options_with_logits(tmp_path, argv, message, capsys):
    np.save(tmp_path / "l.npy", np.zeros((2, 3)))
    assert main(["logits", str(tmp_path / "l.npy"), "--out", str(tmp_path / "o"), *argv]) == 2
    assert message in capsys.readouterr().err


def _llm_rows(rows, classes, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2, (rows, classes))
    x[np.arange(rows), rng.integers(0, classes, rows)] += rng.uniform(0, 40, rows)
    return x


@pytest.mark.parametrize("kernel", ["torch", "torch-log", "numpy", "jax", "onnxruntime"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_the_models_guess_changes_no_threshold(kernel, dtype, monkeypatch):
    """The bisection checks the model's guess first: every threshold equals the one searched over the whole range."""
    import precision.logits.rows as rows_module
    k = get_kernel(kernel)
    if not k.available() or dtype not in k.dtypes:
        pytest.skip(f"{kernel} does not run {dtype} here")
    x = np.concatenate([_llm_rows(48, 1000), _llm_rows(16, 2, seed=1)[:, :2].repeat(500, axis=1)])
    guessed = row_saturation(x, dtype, k).threshold
    monkeypatch.setattr(rows_module, "GUESS_STEPS", ())
    searched = row_saturation(x, dtype, k).threshold
    np.testing.assert_array_equal(guessed, searched)
    assert np.isfinite(searched).sum() >= 60


@pytest.mark.parametrize("dtype", ["bfloat16", "float32", "float64"])
def test_a_right_guess_costs_a_few_kernel_calls_per_row(dtype, monkeypatch):
    pytest.importorskip("torch")
    if dtype != "bfloat16":  # in the dtype, the guess follows the vector loop measured on AVX2 (`largest_partner`)
        on_this_path({"AVX2": None})
    import precision.logits.rows as rows_module
    from precision.kernels.registry import Kernel
    evaluated = []
    call = Kernel.__call__
    monkeypatch.setattr(Kernel, "__call__",
                        lambda self, x, *a, **kw: evaluated.append(len(x)) or call(self, x, *a, **kw))
    x = _llm_rows(64, 1000)
    row_saturation(x, dtype, "torch")
    guessed = sum(evaluated)
    evaluated.clear()
    monkeypatch.setattr(rows_module, "GUESS_STEPS", ())
    row_saturation(x, dtype, "torch")
    # the rows and their log-softmax, then the guess ±1 (both ends, and one or two bisection steps) for every row
    assert 64 * (2 + 3) <= guessed <= 64 * (2 + 4)
    assert sum(evaluated) > 2.5 * guessed  # the whole range: a reach check and ~15 bisection rounds


# SqueezeNet 1.1's float32 logits (../shared/models) on 250 images of the shared ImageNet sample (every 4th file in
# name order), kept here so the test runs without ../shared. `softmax-sat logits`'s per-row records, summary and
# Markdown on them, pinned per torch CPU path: the same bytes before and after issue 24's rework and stop 32's guess.
SAMPLE = Path(__file__).parents[1] / "data" / "squeezenet_sample_logits.npy"
SAMPLE_DIGESTS = {"AVX2": {"tokens": "3a971a0bb70f8bb6936c0ff1a313571033b036972e825aa314fd495db64d7998",
                           "summary": "a20fef77c9facdd0d3e8c2dd2ae753ca28a5c3a88a82d5b2902e5e2c5e15b9c3",
                           "markdown": "f6109e4d70fb2c6a7080a86895f227e36216e2e94641039928ebae3eb3b80072"}}


def test_the_logits_analysis_of_the_shared_sample_is_the_same_bytes(tmp_path):
    pytest.importorskip("torch")
    expected = on_this_path(SAMPLE_DIGESTS)
    out = tmp_path / "o"
    assert main(["logits", str(SAMPLE), "--out", str(out), "--no-figures"]) == 0
    summary = json.loads((out / "logits.json").read_text())["summary"]
    markdown = (out / "logits.md").read_text().split("\n", 1)[1]  # below the title, which names the file
    assert {"tokens": hashlib.sha256((out / "logits.tokens-00000.npy").read_bytes()).hexdigest(),
            "summary": hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest(),
            "markdown": hashlib.sha256(markdown.encode()).hexdigest()} == expected
    assert [s["saturated"] for s in summary] == [9, 22, 0, 0]  # float16, bfloat16, float32, float64
