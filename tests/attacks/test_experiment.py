"""The transferability experiment on tiny models: every pair recorded, kill -9 and resume, torchrun with two
processes, a changed config refused, figures from the records alone, and the analysis on known records."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from attacks.experiment import build_config  # noqa: E402
from attacks.record import read_records  # noqa: E402
from attacks.transferability import mean_ci, transfer_curve  # noqa: E402
from softmax_sat import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODELS = ",".join(f"tests.attacks.tiny_models:tiny{k}" for k in range(3))
ITERATIONS, IMAGES, BATCH = 60, 6, 2
SHARDS = 3 * 2 * (IMAGES // BATCH)  # sources × methods × batches


def experiment_args(images, out, iterations=ITERATIONS):
    return ["--models", MODELS, "--images", str(images), "--num-images", str(IMAGES), "--iterations", str(iterations),
            "--batch-size", str(BATCH), "--out", str(out), "--device", "cpu", "--no-progress"]


def all_records(out):
    return {f.relative_to(out).as_posix(): read_records(f) for f in sorted((out / "records").glob("*/*"))}


def assert_same_records(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].keys() == b[key].keys()
        for column in a[key]:
            np.testing.assert_array_equal(a[key][column], b[key][column], err_msg=f"{key}: {column}")


@pytest.fixture(scope="module")
def reference(image_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    assert main(["experiment", *experiment_args(image_dir, out)]) == 0
    return out


def subprocess_env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def test_every_source_method_and_other_model_is_recorded_and_drawn(reference):
    records = all_records(reference)
    assert len(records) == 6
    for key, rec in records.items():
        source = key.split("/")[1]
        assert {f"transfer_tiny{k}" for k in range(3)} - {f"transfer_{source}"} <= set(rec)
        assert f"transfer_{source}" not in rec
        assert len(rec["image"]) == IMAGES * (ITERATIONS + 1)
    for name in ("figure3.png", "figure4_over_optimized.png", "figure5_multi_class.png", "curves.csv"):
        assert (reference / name).stat().st_size > 0
    rows = (reference / "curves.csv").read_text().splitlines()
    assert len(rows) == 1 + 6 * 2 * (ITERATIONS + 1)  # header, ordered pairs × methods × iterations
    cleaning = json.loads((reference / "cleaning.json").read_text())
    assert any(r["kept"] > 0 for r in cleaning)  # the relatives do pick up the target classes
    assert json.loads((reference / "config.json").read_text())["iterations"] == ITERATIONS


def test_kill_9_then_the_same_command_continues_with_no_record_lost_or_duplicated(image_dir, reference, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "attacks.experiment", *experiment_args(image_dir, out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while not list(out.glob("records/*/*/records-*.npz")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_at_kill = len(list(out.glob("records/*/*/records-*.npz")))
    assert 0 < done_at_kill < SHARDS, proc.stderr.read().decode()[-2000:]
    assert main(["experiment", *experiment_args(image_dir, out)]) == 0
    assert_same_records(all_records(out), all_records(reference))
    assert (out / "curves.csv").read_bytes() == (reference / "curves.csv").read_bytes()


def test_a_changed_config_against_existing_results_is_refused(image_dir, reference, capsys):
    assert main(["experiment", *experiment_args(image_dir, reference, iterations=ITERATIONS + 1)]) == 2
    assert "differs in: iterations" in capsys.readouterr().err


def test_torchrun_with_two_gloo_processes_gives_the_same_records(image_dir, reference, tmp_path):
    out = tmp_path / "ranks"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
           "-m", "attacks.experiment", *experiment_args(image_dir, out)]
    done = subprocess.run(cmd, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_records(all_records(out), all_records(reference))
    assert (out / "curves.csv").read_bytes() == (reference / "curves.csv").read_bytes()


def test_figures_are_redrawn_from_the_records_alone(reference, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(reference / "records", copy / "records")
    shutil.copy(reference / "selection.json", copy)
    shutil.copy(reference / "config.json", copy)
    assert main(["figures", "--results", str(copy)]) == 0
    assert (copy / "curves.csv").read_bytes() == (reference / "curves.csv").read_bytes()
    assert (copy / "figure4_over_optimized.png").exists()


def test_cleaning_and_aggregation_on_known_records():
    # 3 images × 4 iterations; image 0 never transfers, image 1 from iteration 2, image 2 from iteration 1
    image, iteration = np.repeat(np.arange(3), 4), np.tile(np.arange(4), 3)
    target = np.full(12, 7)
    prediction = np.array([0, 0, 0, 0, 0, 0, 7, 7, 0, 7, 7, 7])
    activation = np.arange(12, dtype=np.float32)
    softmax = np.linspace(0.5, 1, 12)
    on_target = np.array([0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1], dtype=np.int8)
    records = {"image": image, "iteration": iteration, "target1_class": target, "transfer_b": prediction,
               "top1_logit": activation, "softmax_top_float32": softmax, "top1_is_target": on_target}
    curve = transfer_curve(records, "a", "b", "over-optimized")
    assert (curve.examples, curve.dropped, curve.kept) == (3, 1, 2)
    np.testing.assert_array_equal(curve.transferability, [0, 50, 100, 100])
    np.testing.assert_allclose(curve.activation_mean, [6, 7, 8, 9])  # mean of rows 1 and 2
    np.testing.assert_allclose(curve.activation_ci, 1.959963984540054 * np.std([4, 8], ddof=1) / np.sqrt(2))
    np.testing.assert_allclose(curve.on_target, [0, 0.5, 1, 1])  # of the kept images 1 and 2
    # misclassified: true classes 0, 0, 5: image 2's prediction 0 ≠ 5 from the start, the others as before
    loose = transfer_curve(records, "a", "b", "over-optimized", labels=np.array([0, 0, 5]))
    assert (loose.dropped, loose.criterion) == (1, "misclassified")
    np.testing.assert_array_equal(loose.transferability, [50, 50, 100, 100])
    mean, half = mean_ci(np.array([[1.0, 2.0]]))
    assert np.array_equal(mean, [1, 2]) and np.array_equal(half, [0, 0])


def test_config_file_flags_and_bad_keys(tmp_path):
    toml = tmp_path / "exp.toml"
    toml.write_text('images = "somewhere"\nmodels = ["squeezenet1_1", "mobilenet_v2"]\nn = 50\niterations = 100\n')
    config = build_config({"iterations": 120, "n": None}, toml)
    assert (config.models, config.n, config.iterations, config.methods) == \
           (("squeezenet1_1", "mobilenet_v2"), 50, 120, ("over-optimized", "multi-class"))
    toml.write_text('images = "x"\nmodel = "vgg16"\n')
    with pytest.raises(ValueError, match="unknown keys"):
        build_config({}, toml)
    with pytest.raises(ValueError, match="two different models"):
        build_config({"images": "x", "models": "vgg16"})
    with pytest.raises(ValueError, match="n: expected a number"):
        build_config({"images": "x", "n": "many"})
    with pytest.raises(ValueError, match="gradient"):
        build_config({"images": "x", "gradient": "sideways"})


def test_a_bad_images_folder_is_one_line_and_claims_no_results_folder(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["experiment", *experiment_args(tmp_path / "missing", out)]) == 2
    assert "no such folder" in capsys.readouterr().err and not out.exists()
