"""The trainer-versus-sampler comparison: exact counts on known log-probabilities, the same numbers on one process
and on Dask, two dumps of the same shape, and its command's refusals."""
import json

import ml_dtypes
import numpy as np
import pytest

from precision.common.errors import InputError
from precision.lm.compare import Comparison, log_probabilities, plan_tasks, setup
from precision.logits.shards import find_shards
from softmax_sat import main

torch = pytest.importorskip("torch")


def test_comparison_counts_what_it_says_on_known_log_probabilities():
    log_a = np.array([0.0, -1.0, -np.inf, -2.0, 0.0, -np.inf, -0.1])
    log_b = np.array([0.0, -1.5, -3.0, -np.inf, -1e-9, -np.inf, -0.1])
    c = Comparison.of(10, log_a, log_b, np.arange(7), (0.2, 0.1))
    assert (c.tokens, c.finite, c.equal) == (7, 4, 2)
    assert (c.a_inf_only, c.b_inf_only, c.both_inf) == (1, 1, 1)
    assert (c.a_zero_only, c.b_zero_only, c.both_zero) == (1, 0, 1)
    # r = 0.5 is outside both bands, the two infinite ratios too; r = 1e-9 inside both
    assert c.outside == [3, 3]
    r = np.array([0.0, 0.5, 1e-9, 0.0])
    assert c.sums["k1"] == pytest.approx(-r.sum()) and c.sums["k3"] == pytest.approx((np.exp(r) - 1 - r).sum())
    assert [w[1] for w in c.worst[:3]] == [-12, -13, -11]  # the infinite ratios first (rows 12, 13), then r = 0.5
    assert [d[0] for d in c.disagreements] == [12, 13, 14]  # −inf under one only (12, 13), 0 under one only (14)
    merged = c.merge(Comparison.of(17, np.array([-0.5]), np.array([-0.3]), np.array([0]), (0.2, 0.1)))
    assert merged.tokens == 8 and merged.outside == [3, 4]  # ρ = e^−0.2 = 0.82: outside 0.1's band only


def test_log_probabilities_of_a_softmax_are_logged_in_float64_and_bfloat16_rounds_first():
    block = np.array([[200.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    assert log_probabilities(block, np.array([1, 1]), setup_kernel("torch"), "float32")[0] == -np.inf
    assert log_probabilities(block, np.array([1, 1]), setup_kernel("torch-log"), "float32")[0] == -200.0
    low = log_probabilities(block, np.array([0, 0]), setup_kernel("torch-log"), "bfloat16")
    assert low[0] == 0.0 and low[1] == float(np.float32(-np.log1p(np.exp(-1.0))).astype(ml_dtypes.bfloat16))


def setup_kernel(name):
    from precision.kernels.registry import get_kernel
    return get_kernel(name)


@pytest.fixture
def dumps(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 300)).astype(np.float32) * 3
    x[:, 7] += rng.uniform(0, 30, 40).astype(np.float32)  # some rows far past bfloat16's threshold
    np.save(tmp_path / "f32.npy", x)
    np.save(tmp_path / "bf16.npy", x.astype(ml_dtypes.bfloat16))
    np.save(tmp_path / "tokens.npy", rng.integers(0, 300, 40))
    return tmp_path


def test_one_process_and_dask_give_the_same_numbers(dumps, tmp_path):
    pytest.importorskip("distributed")
    args = ["lm", "compare", "--trainer", str(dumps / "f32.npy"),
            "--no-figures", "--tasks", "3"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--out", str(tmp_path / "dask"), "--scheduler", "dask", "--workers", "2"]) == 0
    one = json.loads((tmp_path / "one" / "compare.json").read_text())
    other = json.loads((tmp_path / "dask" / "compare.json").read_text())
    assert one.pop("scheduler") == "this process" and other.pop("scheduler") == "dask"
    assert one == other
    assert one["tokens"] == 40 and one["log_p_exactly_0"]["sampler_only"] > 0  # bfloat16 saturates first


def test_two_dumps_of_the_same_shape_and_what_the_bfloat16_dump_loses(dumps, tmp_path):
    out = tmp_path / "two"
    assert main(["lm", "compare", "--trainer", str(dumps / "f32.npy"), "--sampler", str(dumps / "bf16.npy"),
                 "--out", str(out)]) == 0
    d = json.loads((out / "compare.json").read_text())
    assert d["sampler"]["dtype"] == "float32" and d["sampler"]["stored_dtype"] == ["bfloat16"]
    x = np.load(dumps / "f32.npy").astype(np.float64)
    top = x.argmax(axis=1)
    lp = lambda v: v[np.arange(40), top] - np.log(np.exp(v - v.max(1, keepdims=True)).sum(1)) - v.max(1)
    r = lp(x) - lp(np.load(dumps / "f32.npy").astype(ml_dtypes.bfloat16).astype(np.float64))
    assert d["max_abs_log_ratio"] == pytest.approx(np.abs(r).max(), rel=1e-3, abs=1e-6)
    assert (out / "compare_log_ratio.png").stat().st_size > 0


def test_dumps_of_other_shapes_and_wrong_tokens_are_refused_in_one_line(dumps, tmp_path, capsys):
    np.save(dumps / "short.npy", np.zeros((39, 300), dtype=np.float32))
    with pytest.raises(InputError, match="differ in shape"):
        a = setup(find_shards(str(dumps / "f32.npy")), "torch-log", "float32")
        plan_tasks(a, setup(find_shards(str(dumps / "short.npy")), "torch-log", "float32"))
    np.save(dumps / "few.npy", np.arange(5))
    out = tmp_path / "r"
    assert main(["lm", "compare", "--trainer", str(dumps / "f32.npy"), "--tokens", str(dumps / "few.npy"),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--tokens:" in err[0] and "expected 40 token ids" in err[0]
    assert not out.exists()
    assert main(["lm", "compare", "--trainer", str(dumps / "f32.npy"), "--trainer-kernel", "nope",
                 "--out", str(out)]) == 2
    assert "--trainer-kernel:" in capsys.readouterr().err
