"""Long real runs on ../shared (opt-in: pytest --run-slow): the paper's observations on real models and images."""
import json

import numpy as np
import pytest

pytest.importorskip("torchvision")

from attacks.record import per_image, read_records  # noqa: E402
from softmax_sat import main  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.shared]


@pytest.fixture
def real(shared, monkeypatch):
    monkeypatch.setenv("SOFTMAX_SAT_WEIGHTS", str(shared / "models"))
    return shared / "data" / "imagenet-sample"


def squeezenet_attack(method, images, out):
    """8 images × 60 iterations on SqueezeNet 1.1: (records, float32 confidence and top activation per image)."""
    assert main(["attack", "--model", "squeezenet1_1", "--method", method, "--images", str(images),
                 "--n", "8", "--iterations", "60", "--out", str(out), "--device", "cpu"]) == 0
    rec = read_records(out / "records")
    return rec, per_image(rec, "softmax_top_float32"), per_image(rec, "top1_logit")


def test_over_optimized_confidence_sticks_at_one_while_the_activation_keeps_growing(real, tmp_path):
    rec, confidence, activation = squeezenet_attack("over-optimized", real, tmp_path)
    reached = [i for i in range(len(confidence)) if (confidence[i] == 1.0).any()]
    assert len(reached) >= 6
    for i in reached:
        first = np.argmax(confidence[i] == 1.0)
        assert activation[i, -1] > activation[i, first] + 10  # growth the confidence no longer shows
        assert np.all(rec["logit_margin"][rec["image"] == i][-1] > 0)


def test_multi_class_keeps_the_confidence_below_one_while_the_activations_grow(real, tmp_path):
    _, confidence, activation = squeezenet_attack("multi-class", real, tmp_path)
    assert np.median(confidence[:, -1]) < 1.0
    assert ((confidence >= 0.5) & (confidence < 1)).mean() > 0.5
    assert np.median(activation[:, -1] - activation[:, 0]) > 0


def test_the_experiment_runs_every_pair_of_three_real_models(real, tmp_path):
    out = tmp_path / "experiment"
    assert main(["experiment", "--models", "squeezenet1_1,mobilenet_v2,efficientnet_lite0", "--images", str(real),
                 "--n", "4", "--iterations", "15", "--out", str(out), "--device", "cpu", "--no-progress"]) == 0
    cleaning = json.loads((out / "cleaning.json").read_text())
    assert len(cleaning) == 3 * 2 * 2  # ordered pairs × methods
    assert (out / "figure4_over_optimized.png").exists() and (out / "figure5_multi_class.png").exists()
