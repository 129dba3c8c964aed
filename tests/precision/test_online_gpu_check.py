"""benchmarks/gpu_check.py's fused-kernel step (issue 28), run on the CPU: what it prints and records."""
import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")


def _gpu_check():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sdpa_backends_against_the_online_model_on_the_cpu(capsys):
    g = _gpu_check()
    rows = {r["backend"]: r for r in g.online_rows("cpu", ("bfloat16",), (128,), g.Budget(300))}
    flash = rows["flash_attention"]
    assert flash["status"] == "measured" and flash["rows_differing"] == 0 and flash["rows_compared"] == 241
    assert (flash["top_is_one_from_gap"], flash["others_zero_from_gap"]) == (
        flash["model_top_is_one_from_gap"], flash["model_others_zero_from_gap"]) == (11.0625, 87.5)
    assert rows["math"]["model"] is None  # the unfused path: measured, no online model
    printed = capsys.readouterr().out
    assert "flash_attention     bfloat16  L=128   top = 1 from 11.0625" in printed
    assert "torch-cpu-flash (measured): 0 of 241 rows differ" in printed


def test_gpu_rows_are_labelled_model_not_measured_and_fp8_says_why_not():
    g = _gpu_check()
    cfg, status = g._model_for("flash_attention", "cuda", "bfloat16")
    assert status == "model, not measured" and "not measured" in cfg.name
    fp8 = g.fp8_row("cpu")
    assert fp8["status"] == "model, not measured" and fp8["cast_check"]["constraint_holds"]
    assert fp8["runs"] is False and "Float8_e4m3fn" in fp8["why_not"]  # torch has no CPU FP8 attention
