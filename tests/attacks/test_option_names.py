"""An error about a model or an images folder is named after the option that gave it (`--transfer`, `--clean`),
never after another option that shares the same engine call (`--model`, `--images`)."""
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
