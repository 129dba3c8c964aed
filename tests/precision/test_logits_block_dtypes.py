"""`softmax-sat logits --kernel emulated` in the block-scaled formats and ml_dtypes' FP6/FP4: each row quantised per
block before a float32 softmax, its flags and its own threshold against the block thresholds computed by
`precision.emulated.block_thresholds` (a separate search over the same definition); the dtypes of no other kernel
refused under --dtypes, in one line."""
from __future__ import annotations

import numpy as np
import pytest

from precision.emulated.block_thresholds import block_thresholds
from precision.emulated.thresholds import thresholds
from softmax_sat import main

CLASSES = 40  # more than one MX block (32) and two NVFP4 blocks (16): the top's block and the others
TOP_IS_ONE = 1  # logits.json's flag bit of "the top output is exactly 1"


def _tokens(tmp_path, rows, dtypes):
    np.save(tmp_path / "l.npy", np.asarray(rows, dtype=np.float32))
    assert main(["logits", str(tmp_path / "l.npy"), "--kernel", "emulated", "--algorithm", "shifted", "--dtypes",
                 ",".join(dtypes), "--out", str(tmp_path / "o"), "--no-figures"]) == 0
    return np.load(tmp_path / "o" / "logits.tokens-00000.npy")


@pytest.mark.parametrize("fmt", ["mxfp4_e2m1", "mxint8", "nvfp4", "mxfp6_e3m2"])
def test_a_row_saturates_from_the_block_threshold_and_not_one_step_before(fmt, tmp_path):
    t = np.float32(block_thresholds(fmt, CLASSES).top_is_one_from_gap)  # rivals at 1, found by its own search
    before = np.nextafter(t, np.float32(0))
    rows = np.ones((2, CLASSES), dtype=np.float32)
    rows[:, 0] = np.float32(1) + np.array([t, before], dtype=np.float32)
    tokens = _tokens(tmp_path, rows, [fmt])
    assert ((tokens[f"{fmt}.flags"] & TOP_IS_ONE) > 0).tolist() == [True, False]
    # each row's own threshold, bisected on the kernel, is the block threshold: gap − threshold in float64
    gaps = rows[:, 0].astype(np.float64) - 1
    np.testing.assert_array_equal(tokens[f"{fmt}.past_threshold"], gaps - float(t))


def test_fp6_and_fp4_rows_saturate_from_the_emulated_threshold(tmp_path):
    rows, expected = [], {}
    for k, fmt in enumerate(("float6_e2m3fn", "float4_e2m1fn")):
        t = float(thresholds(fmt, "shifted", 2).top_is_one_from_gap)  # 3 and 1.5
        rows += [[t, 0.0], [t - 0.25, 0.0]]
        expected[fmt] = (k, t)
    tokens = _tokens(tmp_path, rows, list(expected))
    for fmt, (k, t) in expected.items():
        flags = (tokens[f"{fmt}.flags"][2 * k:2 * k + 2] & TOP_IS_ONE) > 0
        assert flags.tolist() == [True, False], fmt
        assert tokens[f"{fmt}.past_threshold"][2 * k] == 0, fmt


def test_block_quantisation_moves_the_threshold_away_from_float32s(tmp_path):
    t32 = float(thresholds("float32", "shifted", CLASSES, [1.0] * (CLASSES - 1)).top_is_one_from_gap)
    t4 = block_thresholds("mxfp4_e2m1", CLASSES).top_is_one_from_gap
    assert t4 is not None and t4 > t32  # MXFP4 rounds the top down until 19: it saturates later


@pytest.mark.parametrize("argv, message", [
    (["--kernel", "numpy", "--dtypes", "mxfp4_e2m1"], "--dtypes: kernel numpy does not take dtype 'mxfp4_e2m1'"),
    (["--kernel", "torch", "--dtypes", "float6_e2m3fn"], "--dtypes: kernel torch does not take dtype"),
    (["--kernel", "emulated", "--algorithm", "shifted", "--dtypes", "float8_e8m0fnu"],
     "--dtypes: float8_e8m0fnu is a scale format"),
])
def test_a_kernel_that_cannot_run_a_dtype_is_refused_in_one_line(argv, message, tmp_path, capsys):
    np.save(tmp_path / "l.npy", np.zeros((2, 3)))
    assert main(["logits", str(tmp_path / "l.npy"), "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and message in err[-1] and err[-1].startswith("softmax-sat logits: error:")
    assert not (tmp_path / "o").exists()
