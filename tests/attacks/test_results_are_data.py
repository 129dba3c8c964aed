"""Results are data (issue 20): reading a results folder never runs code, a resumed attack equals an uninterrupted
one file by file, and a refused run claims nothing (the corrected command runs into the same folder)."""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from softmax_sat import main  # noqa: E402

TINY = "tests.attacks.tiny_models:tiny0"
MODELS = f"{TINY},tests.attacks.tiny_models:tiny1"


def _attack(image_dir, out, **kw):
    args = {"--model": TINY, "--method": "over-optimized", "--images": str(image_dir), "--n": "4", "--iterations": "3",
            "--batch-size": "2", "--out": str(out), "--device": "cpu"} | kw
    return ["attack", *[x for kv in args.items() for x in kv]]


def _experiment(image_dir, out):
    return ["experiment", "--models", MODELS, "--images", str(image_dir), "--num-images", "4", "--iterations", "2",
            "--batch-size", "2", "--methods", "over-optimized", "--out", str(out), "--device", "cpu", "--no-progress"]


def _files(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _last_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("softmax-sat ") and " error: " in err[-1], err
    return err[-1]


# --- nothing read from a folder runs code ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def experiment(image_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("experiment")
    assert main(_experiment(image_dir, out)) == 0
    return out


@pytest.fixture
def hostile(experiment, tmp_path, monkeypatch):
    """An experiment folder as someone else might send it: its config names `runpy:run_path`, and a file named
    `cpu` beside it (the device a model factory is called with) would create a marker file when run."""
    folder = tmp_path / "received"
    shutil.copytree(experiment, folder)
    config = json.loads((folder / "config.json").read_text())
    config["models"] = ["runpy:run_path", "alexnet"]
    (folder / "config.json").write_text(json.dumps(config))
    marker = tmp_path / "PAYLOAD_RAN"
    (folder / "cpu").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.chdir(folder)  # where `runpy.run_path("cpu")` would find the payload
    return folder, marker


def test_the_payload_would_run_if_imported(hostile):
    import runpy
    folder, marker = hostile
    runpy.run_path("cpu")  # the test's own premise: the payload is real
    assert marker.exists()


@pytest.mark.parametrize("command", ["detect", "figures", "experiment", "attack"])
def test_no_command_that_reads_a_folder_runs_the_code_it_names(hostile, image_dir, command, capsys):
    folder, marker = hostile
    if command == "detect":
        argv = ["detect", "--results", str(folder), "--clean", str(image_dir), "--device", "cpu"]
    elif command == "figures":
        argv = ["figures", "--results", str(folder)]
    elif command == "experiment":  # a resumed run: the command's own models, the folder's config
        argv = _experiment(image_dir, folder)
    else:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "model": "runpy:run_path"}))
        argv = _attack(image_dir, folder)
    code = main(argv)
    assert not marker.exists()
    if command == "detect":
        assert code == 2
        line = _last_line(capsys)
        assert "config.json: key 'models' names 'runpy:run_path'" in line and "--models runpy:run_path" in line
    elif command == "figures":  # figures loads no model: the names are labels, checked in form
        assert code == 0
    else:
        assert code == 2 and "holds results of another config" in _last_line(capsys)


@pytest.mark.parametrize("key, value, needle", [
    ("models", ["os:system", "alexnet"], "key 'models' names 'os:system'"),
    ("models", ["../../etc", "alexnet"], "key 'models' holds '../../etc', which is not a model name"),
    ("iterations", "3; rm -rf", "key 'iterations' must be an integer"),
    ("alpha", "Infinity", "is not a JSON file"),
    ("hook", "x", "key 'hook' is not a key of an experiment's config")])
def test_anything_else_in_a_folders_config_is_refused_naming_file_and_key(experiment, tmp_path, key, value, needle,
                                                                         image_dir, capsys):
    folder = tmp_path / "received"
    shutil.copytree(experiment, folder)
    config = json.loads((folder / "config.json").read_text())
    text = json.dumps({**config, key: value})
    (folder / "config.json").write_text(text.replace('"Infinity"', "Infinity"))
    assert main(["detect", "--results", str(folder), "--clean", str(image_dir)]) == 2
    line = _last_line(capsys)
    assert "--results" in line and f"{folder / 'config.json'}" in line and needle in line, line


def test_a_selection_naming_paths_outside_the_folder_is_refused(experiment, tmp_path, capsys):
    folder = tmp_path / "received"
    shutil.copytree(experiment, folder)
    selection = json.loads((folder / "selection.json").read_text())
    selection["models"][0] = "../../x"
    (folder / "selection.json").write_text(json.dumps(selection))
    assert main(["figures", "--results", str(folder)]) == 2
    assert "selection.json: key 'models'" in _last_line(capsys)


def test_a_config_file_never_names_code_to_run(image_dir, tmp_path, capsys):
    toml = tmp_path / "exp.toml"
    toml.write_text(f'images = "{image_dir}"\nmodels = ["runpy:run_path", "alexnet"]\n')
    assert main(["experiment", "--config", str(toml), "--out", str(tmp_path / "o")]) == 2
    assert "give it on the command line with --models" in _last_line(capsys)
    assert not (tmp_path / "o").exists()


# --- a resumed attack equals an uninterrupted one, file by file -------------------------------------------------
class Killed(BaseException):
    """What `kill -9` does to a run, at a chosen rename (nothing after it happens)."""


@pytest.fixture(scope="module")
def uninterrupted(image_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    assert main(_attack(image_dir, out)) == 0
    return out


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# os.replace calls of a run (4 images, batches of 2): 1 config.json, 2 snapshots of batch 0, 3 its records,
# 4-5 batch 1, 6 images.json, 7 snapshots.npz, 8 summary.json, 9 Figure 1, 10 the curves
@pytest.mark.parametrize("killed_at", [3, 5, 7, 9])
def test_an_attack_killed_and_resumed_writes_the_same_files(image_dir, uninterrupted, tmp_path, monkeypatch,
                                                            killed_at):
    out = tmp_path / "run"
    real, calls = os.replace, []

    def replace(a, b):
        calls.append(b)
        if len(calls) == killed_at:
            raise Killed
        return real(a, b)
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(Killed):
        main(_attack(image_dir, out))
    monkeypatch.setattr(os, "replace", real)
    (out / ".lock").write_text(f"{socket.gethostname()} {_dead_pid()}")  # what the killed process left
    assert main(_attack(image_dir, out)) == 0
    resumed, uninterrupted = _files(out), _files(uninterrupted)
    assert sorted(resumed) == sorted(uninterrupted)
    for name in uninterrupted:  # records, snapshots, images.json, summary.json, both figures: byte for byte
        assert resumed[name] == uninterrupted[name], name


def test_figure_1_looks_images_up_by_identity(image_dir, uninterrupted, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(uninterrupted, out)
    with np.load(out / "snapshots.npz") as z:
        assert z["image"].tolist() == [0, 1, 2, 3]
        first = z["iteration_0"].copy()
    (out / "records" / "records-0000000.npz").unlink()  # batch 0 redone alone: snapshots of every image kept
    assert main(_attack(image_dir, out)) == 0
    with np.load(out / "snapshots.npz") as z:
        assert z["image"].tolist() == [0, 1, 2, 3]
        np.testing.assert_array_equal(z["iteration_0"], first)


# --- nothing claimed before everything is accepted ----------------------------------------------------------------
@pytest.mark.parametrize("extra, needle", [
    ({"--seed": "-1"}, "--seed: must be an integer in 0..2**63"),
    ({"--alpha": "inf"}, "--alpha: must be a positive finite number, got inf"),
    ({"--alpha": "nan"}, "--alpha: must be a positive finite number"),
    ({"--low": "inf", "--method": "multi-class"}, "--low: must be a positive finite number"),
    ({"--targets": "1000"}, "--targets: give 1 class index in 0..999"),
    ({"--targets": "1,2"}, "--targets: give 1 class index in 0..999"),
    ({"--targets": "5,5", "--method": "multi-class"}, "--targets: give 2 different classes"),
    ({"--targets": "second"}, "--targets: second applies to the multi-class method"),
    ({"--weights": "absent.pth"}, "--weights: no such file")])
def test_bad_attack_options_are_one_line_before_anything_is_written(image_dir, tmp_path, extra, needle, capsys):
    out = tmp_path / "o"
    assert main(_attack(image_dir, out, **extra)) == 2
    assert needle in _last_line(capsys)
    assert not out.exists()


def test_a_fifo_for_weights_is_not_a_regular_file(image_dir, tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe")
    assert main(_attack(image_dir, tmp_path / "o", **{"--weights": str(tmp_path / "pipe")})) == 2
    assert "is not a regular file (a FIFO)" in _last_line(capsys)


def test_experiment_seed_and_alpha_are_refused_before_the_folder(image_dir, tmp_path, capsys):
    for flag, value in (("--seed", "-1"), ("--alpha", "inf")):
        assert main([*_experiment(image_dir, tmp_path / "o"), flag, value]) == 2
        assert flag in _last_line(capsys)
    assert not (tmp_path / "o").exists()


def test_targets_refused_once_the_images_are_known_leave_the_folder_to_the_corrected_command(image_dir, tmp_path,
                                                                                             uninterrupted, capsys):
    labels = [i["label"] for i in json.loads((uninterrupted / "images.json").read_text())]
    other = next(c for c in range(1000) if c not in labels)
    out = tmp_path / "o"
    assert main(_attack(image_dir, out, **{"--targets": str(labels[0])})) == 2
    assert f"class {labels[0]} is the true class of a chosen image" in _last_line(capsys)
    assert not (out / "config.json").exists() and not (out / "records").exists()
    assert main(_attack(image_dir, out, **{"--targets": str(other)})) == 0  # the same folder
    assert json.loads((out / "config.json").read_text())["targets"] == str(other)


def test_os_errors_inside_the_folder_name_out(image_dir, tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "records").write_text("a file where the records folder goes")
    assert main(_attack(image_dir, out)) == 2
    line = _last_line(capsys)
    assert "--out: cannot write" in line and "records" in line
