"""Attacks on a tiny model and a few generated images; real models and images where ../shared exists."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from attacks.data import find_images, load_pixels, wnids  # noqa: E402
from attacks.loop import attack_batches  # noqa: E402
from attacks.methods import MultiClass, OverOptimized, draw_targets  # noqa: E402
from attacks.models import WeightsError, load_model  # noqa: E402
from attacks.record import read_records  # noqa: E402

from .tiny_models import random_images as images  # noqa: E402
from .tiny_models import tiny_model  # noqa: E402

COLUMNS = {"iteration", "image", "top1_class", "top2_class", "top3_class", "top1_logit", "top2_logit", "top3_logit",
           "target1_class", "target1_logit", "softmax_top_float16", "softmax_top_float32", "softmax_top_float64",
           "logit_margin", "log_odds", "l2", "linf"}


def test_one_step_raises_the_target_logit_and_keeps_a_valid_image():
    model, x = tiny_model(), images().float()
    targets = torch.tensor([[5], [7], [9], [11]])
    attack = OverOptimized(model, alpha=0.15)
    logits, x1 = attack.step(x, targets)
    after = model(x1)
    rows = torch.arange(4)
    assert torch.all(after[rows, targets[:, 0]] > logits[rows, targets[:, 0]])
    assert torch.equal(x1, x1.round()) and x1.min() >= 0 and x1.max() <= 255


def test_multi_class_gives_the_larger_multiplier_to_the_class_behind():
    attack = MultiClass(tiny_model(), 0.05, 0.1)
    logits = torch.zeros(2, 1000)
    logits[0, 3], logits[0, 4] = 5.0, 1.0  # class 4 is behind in row 0
    logits[1, 3], logits[1, 4] = 1.0, 5.0  # class 3 is behind in row 1
    w = attack.multipliers(None, logits, torch.tensor([[3, 4], [3, 4]]))
    assert w[0, 4] == 0.1 and w[0, 3] == 0.05 and w[1, 3] == 0.1 and w[1, 4] == 0.05


def test_float_working_image_records_integral_images_and_keeps_sub_pixel_progress(tmp_path):
    model = tiny_model()
    x0, targets = images(4), torch.tensor([[7], [7], [7], [7]])
    attack = OverOptimized(model, alpha=1e-7, working_image="float")  # steps far below one pixel
    x, moved = x0.float(), False
    for _ in range(5):
        logits, x = attack.step(x, targets)
        seen = attack.image(x)
        assert torch.equal(seen, seen.round()) and 0 <= seen.min() and seen.max() <= 255
        moved |= bool((x != x.round()).any())
    assert moved  # the unrounded iterate moved; a rounded working image would have stayed put
    rounded = OverOptimized(model, alpha=1e-7)
    assert torch.equal(rounded.step(x0.float(), targets)[1], x0.float())


def test_the_balance_rule_stays_within_the_multipliers_and_closes_the_gap():
    attack = MultiClass(tiny_model(), 0.05, 0.1, rule="balance")
    x = images(6).float().requires_grad_(True)
    logits = attack.model(x)
    targets = torch.tensor([[3, 4]] * 6)
    w = attack.multipliers(x, logits, targets)
    rows = torch.arange(6)
    alpha, beta = w[rows, 3], w[rows, 4]
    assert ((alpha >= 0.05) & (alpha <= 0.1)).all() and torch.allclose(alpha + beta, torch.full((6,), 0.15))
    assert (w.sum(1) - alpha - beta).abs().max() == 0  # no other class is pushed


def test_top1_is_target_is_recorded(tmp_path):
    from attacks.loop import attack_batches
    targets = torch.tensor([[7]] * 4)
    attack_batches(OverOptimized(tiny_model()), images(4), targets, 3, tmp_path, batch_size=4)
    rec = read_records(tmp_path)
    predicted_target = rec["top1_class"] == rec["target1_class"]
    np.testing.assert_array_equal(rec["top1_is_target"].astype(bool), predicted_target)


def test_targets_are_seeded_and_never_the_true_class():
    labels = torch.arange(0, 1000, 7)
    a, b = draw_targets(labels, 2, seed=3), draw_targets(labels, 2, seed=3)
    assert torch.equal(a, b)
    assert not (a == labels[:, None]).any() and not (a[:, 0] == a[:, 1]).any()


def test_records_have_the_promised_columns_and_a_run_resumes(tmp_path):
    model, other = tiny_model(0), tiny_model(1)
    x = images(5)
    targets = draw_targets(torch.tensor([1, 2, 3, 4, 5]), 1, seed=0)
    attack_batches(OverOptimized(model), x, targets, 4, tmp_path, [other], batch_size=2, progress=False)
    rec = read_records(tmp_path)
    assert COLUMNS | {"transfer_tiny1"} <= set(rec)
    assert len(rec["image"]) == 5 * 5  # iterations 0..4
    assert np.all(rec["linf"][rec["iteration"] == 0] == 0)
    shards = sorted(p.name for p in tmp_path.glob("*.npz"))
    (tmp_path / shards[-1]).unlink()  # as if killed before the last batch finished
    attack_batches(OverOptimized(model), x, targets, 4, tmp_path, [other], batch_size=2, progress=False)
    again = read_records(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == shards
    assert all(np.array_equal(rec[k], again[k], equal_nan=k.startswith("softmax")) for k in rec)  # same, once each


def test_find_images_reads_flat_and_class_folders(tmp_path):
    from PIL import Image
    w = wnids()
    flat, nested = tmp_path / "flat", tmp_path / "nested" / "val" / w[3]
    flat.mkdir()
    nested.mkdir(parents=True)
    Image.new("RGB", (40, 30), (200, 10, 10)).save(flat / f"{w[7]}_thing.JPEG")
    Image.new("RGB", (40, 30), (10, 200, 10)).save(nested / "a.JPEG")
    assert [y for _, y in find_images(flat)] == [7]
    assert [y for _, y in find_images(tmp_path / "nested")] == [3]
    px = load_pixels([p for p, _ in find_images(flat)], 16)
    assert px.dtype == torch.uint8 and px.shape == (1, 3, 16, 16)
    (flat / "n99999999_unknown.JPEG").write_bytes(b"")
    with pytest.raises(ValueError, match="WordNet id"):
        find_images(flat)


def test_missing_weights_say_which_file_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("SOFTMAX_SAT_WEIGHTS", raising=False)
    with pytest.raises(WeightsError) as e:
        load_model("resnet50")
    msg = str(e.value)
    assert "resnet50-0676ba61.pth" in msg and str(tmp_path) in msg and "--weights" in msg and "https://" in msg


def test_corrupt_weights_are_refused(tmp_path):
    bad = tmp_path / "squeezenet1_1-imagenet.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="sha256"):
        load_model("squeezenet1_1", weights=bad)


@pytest.mark.shared
def test_real_models_classify_and_the_attack_runs(shared, tmp_path, monkeypatch):
    from softmax_sat import main
    monkeypatch.setenv("SOFTMAX_SAT_WEIGHTS", str(shared / "models"))
    out = tmp_path / "run"
    rc = main(["attack", "--model", "squeezenet1_1", "--method", "multi-class", "--images",
               str(shared / "data" / "imagenet-sample"), "--n", "2", "--iterations", "3", "--out", str(out),
               "--transfer", "mobilenet_v2", "--device", "cpu"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == 2
    rec = read_records(out / "records")
    assert {"target2_class", "transfer_mobilenet_v2"} <= set(rec)
    assert (out / "figure2_multi_class.png").exists()


def test_attack_command_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    from softmax_sat import main
    base = ["attack", "--method", "over-optimized", "--images", str(tmp_path), "--out", str(tmp_path / "o")]
    assert main([*base, "--model", "resnet9000"]) == 2
    assert "unknown 'resnet9000'" in capsys.readouterr().err
    assert main([*base, "--model", "tests.attacks.tiny_models:tiny0", "--n", "0"]) == 2
    assert "--n: must be at least 1, got 0" in capsys.readouterr().err


def test_own_model_by_module_and_function_runs_the_attack_command(tmp_path):
    from softmax_sat import main

    from .tiny_models import labelled_image_folder
    folder = labelled_image_folder(tmp_path / "images", 3)
    out = tmp_path / "run"
    assert main(["attack", "--model", "tests.attacks.tiny_models:tiny0", "--method", "multi-class", "--images",
                 str(folder), "--n", "2", "--iterations", "3", "--out", str(out), "--device", "cpu"]) == 0
    assert json.loads((out / "summary.json").read_text())["images"] == 2
    assert (out / "figure2_multi_class.png").exists() and (out / "figure2_multi_class_curves.png").exists()
