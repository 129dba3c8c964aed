"""An error about a model or an images folder is named after the option that gave it (`--transfer`, `--clean`),
never after another option that shares the same engine call (`--model`, `--images`)."""
import json

import pytest

pytest.importorskip("torch")

from softmax_sat import main  # noqa: E402

TINY = "tests.attacks.tiny_models:tiny0"


def _last_line(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_a_bad_transfer_model_is_named_transfer(image_dir, tmp_path, capsys):
    assert main(["attack", "--model", TINY, "--method", "over-optimized", "--transfer",
                 "no_such_model", "--images", str(image_dir), "--n", "2",
                 "--iterations", "1", "--out", str(tmp_path / "o"), "--device", "cpu"]) == 2
    line = _last_line(capsys)
    assert "--transfer: unknown 'no_such_model'" in line, line
    assert not (tmp_path / "o").exists()


def test_a_weights_file_with_a_bad_sha256_named_in_a_results_config_is_named_results(image_dir, tmp_path, capsys):
    pytest.importorskip("torchvision")
    results = tmp_path / "exp"
    results.mkdir()
    fake = tmp_path / "alexnet-owt-7be5be79.pth"
    fake.write_bytes(b"not the weights")
    config = {"images": str(image_dir), "models": ["alexnet", "vgg16"], "methods": ["over-optimized"], "n": 2,
              "iterations": 1, "alpha": 0.15, "low": 0.05, "high": 0.1, "gradient": "unit",
              "working_image": "rounded", "multipliers": "switch", "batch_size": 2, "seed": 0,
              "weights": [["alexnet", str(fake)]]}
    (results / "config.json").write_text(json.dumps(config))
    (results / "selection.json").write_text("{}")
    assert main(["detect", "--results", str(results), "--clean", str(image_dir)]) == 2
    line = _last_line(capsys)
    assert line.startswith("softmax-sat detect: error: --results: alexnet:") and "has sha256" in line, line
    assert "cannot write" not in line
