"""Never silently wrong: a results folder holds one config, records are validated before any analysis, writers swap
complete files in, and bad input is one line naming the culprit (exit 2) while earlier results stay as they were."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from attacks.record import Column, Expected, RecordsError, read_records  # noqa: E402
from precision.common.errors import InputError  # noqa: E402
from precision.common.publishing import locked  # noqa: E402
from softmax_sat import main  # noqa: E402

MODELS = ",".join(f"tests.attacks.tiny_models:tiny{k}" for k in range(3))
TINY = "tests.attacks.tiny_models:tiny0"


@pytest.fixture(scope="module")
def experiment(image_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("experiment")
    assert main(["experiment", "--models", MODELS, "--images", str(image_dir), "--num-images", "4", "--iterations", "3",
                 "--batch-size", "2", "--out", str(out), "--device", "cpu", "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def attack_run(image_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("attack")
    assert main(_attack(image_dir, out)) == 0
    return out


def _attack(image_dir, out, **kw):
    args = {"--model": TINY, "--method": "over-optimized", "--images": str(image_dir), "--n": "4", "--iterations": "3",
            "--batch-size": "2", "--out": str(out), "--device": "cpu"} | kw
    return ["attack", *[x for kv in args.items() for x in kv]]


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "no error printed"
    assert err[-1].startswith("softmax-sat ") and "error:" in err[-1], err[-1]
    for needle in needles:
        assert needle in err[-1], err[-1]


# --- a results folder holds one config -------------------------------------------------------------------------
@pytest.mark.parametrize("change", [{"--n": "3"}, {"--iterations": "4"}, {"--method": "multi-class"},
                                    {"--model": "tests.attacks.tiny_models:tiny1"}])
def test_attack_into_a_folder_of_another_run_is_refused_and_changes_nothing(image_dir, attack_run, change, capsys):
    before = _snapshot(attack_run)
    assert main(_attack(image_dir, attack_run, **change)) == 2
    _one_line_error(capsys, "--out", "holds results of another config")
    assert _snapshot(attack_run) == before


def test_the_same_attack_again_resumes_and_a_trailing_slash_is_the_same_folder(image_dir, attack_run):
    before = read_records(attack_run / "records")
    assert main(_attack(str(image_dir) + "/", attack_run)) == 0
    after = read_records(attack_run / "records")
    assert before.keys() == after.keys()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])  # NaN (float16 overflow) equals NaN here


def test_a_second_live_process_is_refused_and_a_stale_lock_taken_over(tmp_path):
    with locked(tmp_path):
        with pytest.raises(InputError, match="is in use by process"):
            with locked(tmp_path):
                pass
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".lock").write_text(f"{os.uname().nodename} {dead.pid}")
    with locked(tmp_path):  # its process is gone: taken over
        assert (tmp_path / ".lock").read_text().endswith(str(os.getpid()))
    assert not (tmp_path / ".lock").exists()


def test_weights_for_a_model_not_in_the_run_are_refused(image_dir, tmp_path, capsys):
    assert main(["experiment", "--models", MODELS, "--images", str(image_dir), "--num-images", "2", "--iterations", "1",
                 "--out", str(tmp_path / "o"), "--weights", "resnet50=/x.pth", "--device", "cpu"]) == 2
    _one_line_error(capsys, "--weights", "resnet50 is not among the models")


# --- records are validated before any analysis ----------------------------------------------------------------
def _copy(experiment, tmp_path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(experiment, copy)
    return copy


def _shards(folder: Path) -> list[Path]:
    return sorted(folder.glob("records/*/*/records-*.npz"))


def _corrupt_duplicate(shards):
    shutil.copy(shards[1], shards[0])  # a shard copied over another: the same images twice, others missing


def _corrupt_delete(shards):
    shards[0].unlink()


def _corrupt_nan(shards):
    with np.load(shards[0]) as z:
        cols = dict(z)
    cols[Column.softmax_top("float32")][1] = np.nan
    np.savez(shards[0], **cols)


def _corrupt_truncate(shards):
    shards[0].write_bytes(shards[0].read_bytes()[:200])


def _corrupt_column(shards):
    with np.load(shards[0]) as z:
        cols = {k: v for k, v in z.items() if k != Column.top_logit(1)}
    np.savez(shards[0], **cols)


@pytest.mark.parametrize("corrupt, message", [
    (_corrupt_duplicate, "expected images 0–1"), (_corrupt_delete, "lacks shards records-0000000.npz"),
    (_corrupt_nan, "holds NaN"), (_corrupt_truncate, "is unreadable"), (_corrupt_column, "lacks the columns")])
def test_figures_refuse_bad_records_naming_the_shard_and_keep_the_old_curves(experiment, tmp_path, corrupt,
                                                                              message, capsys):
    copy = _copy(experiment, tmp_path)
    shards = _shards(copy)
    curves = (copy / "curves.csv").read_bytes()
    corrupt(shards)
    assert main(["figures", "--results", str(copy)]) == 2
    _one_line_error(capsys, "--results", message)  # the option that named the folder
    assert (copy / "curves.csv").read_bytes() == curves


def test_a_rerun_redoes_a_shard_that_fails_validation_and_keeps_it_aside(experiment, image_dir, tmp_path, capsys):
    copy = _copy(experiment, tmp_path)
    shard = _shards(copy)[0]
    _corrupt_truncate([shard])
    config = json.loads((copy / "config.json").read_text())
    assert main(["experiment", "--models", MODELS, "--images", config["images"], "--num-images", "4",
                 "--iterations", "3", "--batch-size", "2", "--out", str(copy), "--device", "cpu", "--no-progress"]) == 0
    assert "failed validation" in capsys.readouterr().err
    assert list(shard.parent.glob(shard.name + ".invalid-*"))
    assert (copy / "curves.csv").read_bytes() == (experiment / "curves.csv").read_bytes()


def test_read_records_checks_against_the_expected_batches(experiment):
    folder = next((experiment / "records").glob("*/*"))
    assert len(read_records(folder, Expected(4, 3, 2))[Column.IMAGE]) == 4 * 4
    with pytest.raises(RecordsError, match="lacks shards"):
        read_records(folder, Expected(6, 3, 2))
    with pytest.raises(RecordsError, match="expected images"):
        read_records(folder, Expected(4, 5, 2))


# --- one line naming the culprit -------------------------------------------------------------------------------
def test_truncated_jpeg_is_named(image_dir, tmp_path, capsys):
    folder = tmp_path / "imgs"
    shutil.copytree(image_dir, folder)
    for image in folder.iterdir():  # every one, so that the first one read is truncated
        image.write_bytes(image.read_bytes()[:100])
    assert main(_attack(folder, tmp_path / "o")) == 2
    _one_line_error(capsys, "--images", f"cannot read {folder}", ".png")


@pytest.mark.parametrize("extra, needles", [
    ({"--targets": "abc"}, ("--targets", "'abc'")), ({"--batch-size": "0"}, ("--batch-size", "got 0")),
    ({"--device": "tpu9"}, ("--device", "'tpu9'")), ({"--iterations": "0"}, ("--iterations", "got 0"))])
def test_attack_options_are_named(image_dir, tmp_path, extra, needles, capsys):
    assert main(_attack(image_dir, tmp_path / "o", **extra)) == 2
    _one_line_error(capsys, *needles)


def test_out_that_cannot_be_written_is_refused_before_computing(image_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    start = time.perf_counter()
    assert main(_attack(image_dir, blocker / "run")) == 2
    _one_line_error(capsys, "--out", "is a file")
    assert time.perf_counter() - start < 5


def test_fewer_qualifying_images_than_asked_warns(image_dir, tmp_path, capsys):
    assert main(_attack(image_dir, tmp_path / "o", **{"--n": "50", "--iterations": "1"})) == 0
    assert "of the asked 50 images" in capsys.readouterr().err
