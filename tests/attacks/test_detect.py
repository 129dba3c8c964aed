"""`softmax-sat detect`: the detection measures, their AUC with ties, and the command on a tiny experiment."""
import numpy as np
import pytest

from attacks.detect import auc, tied_share, tpr_at_fpr


def test_a_separable_toy_case_has_auc_1_and_full_tpr():
    rng = np.random.default_rng(0)
    clean, attacked = rng.normal(0, 1, 500), rng.normal(0, 1, 50) + 100
    assert auc(attacked, clean) == 1.0 and tpr_at_fpr(attacked, clean) == 1.0 and tied_share(attacked, clean) == 0


def test_identical_sets_have_auc_one_half():
    x = np.random.default_rng(1).normal(0, 1, 300)
    assert auc(x, x) == pytest.approx(0.5)


def test_a_saturated_measure_shows_as_ties_not_noise():
    clean, attacked = np.ones(200), np.ones(40)  # softmax exactly 1.0 for both
    assert auc(attacked, clean) == 0.5 and tied_share(attacked, clean) == 1.0 and tpr_at_fpr(attacked, clean) == 0.0


def test_auc_matches_the_pairwise_definition():
    rng = np.random.default_rng(2)
    p, q = rng.integers(0, 5, 40).astype(float), rng.integers(0, 5, 60).astype(float)
    pairs = (p[:, None] > q[None, :]).mean() + 0.5 * (p[:, None] == q[None, :]).mean()
    assert auc(p, q) == pytest.approx(pairs)


def test_detect_command_on_a_tiny_experiment(image_dir, tmp_path, capsys):
    pytest.importorskip("torchvision")
    from softmax_sat import main
    models = ",".join(f"tests.attacks.tiny_models:tiny{k}" for k in range(2))
    out = tmp_path / "exp"
    assert main(["experiment", "--models", models, "--images", str(image_dir), "--num-images", "4",
                 "--iterations", "4", "--batch-size", "2", "--out", str(out), "--device", "cpu",
                 "--no-progress"]) == 0
    assert main(["detect", "--results", str(out), "--clean", str(image_dir), "--every", "2"]) == 2  # own models are
    assert "with --models tests.attacks.tiny_models:tiny0" in capsys.readouterr().err  # named here, or refused
    assert main(["detect", "--results", str(out), "--clean", str(out / "nothing"), "--models", models]) == 2
    assert "--clean: no such folder" in capsys.readouterr().err  # named --clean, not --images
    assert main(["detect", "--results", str(out), "--clean", str(image_dir), "--every", "2", "--models", models]) == 0
    lines = (out / "detection.csv").read_text().splitlines()
    assert lines[0].startswith("model,method,iteration,measure,auc")
    assert len(lines) == 1 + 2 * 2 * 3 * 6  # models × methods × iterations 0, 2, 4 × measures
    assert (out / "detection.png").stat().st_size > 10_000
    assert "ROC AUC at iteration 4" in capsys.readouterr().out


def test_clean_images_the_model_never_gets_right_are_refused_naming_clean(image_dir):
    pytest.importorskip("torchvision")
    from attacks.data import find_images
    from attacks.detect import clean_measures
    from precision.common.errors import InputError
    from tests.attacks.tiny_models import tiny0

    wrong = [(p, (y + 1) % 1000) for p, y in find_images(image_dir)[:3]]  # every label off by one: no negatives
    with pytest.raises(InputError, match="clean: tiny0 classifies none of the 3 clean images correctly"):
        clean_measures(tiny0(), wrong)
