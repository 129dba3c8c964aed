"""The `softmax-sat` command table and the packages' public API."""
import importlib
import json

import pytest

from softmax_sat import COMMANDS, main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_resolves_to_its_functions_and_has_help(name, capsys):
    if COMMANDS[name].module.startswith("attacks"):
        pytest.importorskip("torchvision")
    configure, run = COMMANDS[name].functions()
    assert callable(configure) and callable(run)
    with pytest.raises(SystemExit) as done:
        main([name, "--help"])
    assert done.value.code == 0 and f"softmax-sat {name}" in capsys.readouterr().out


def test_cli_modules_follow_one_pattern():
    for name, command in COMMANDS.items():
        assert command.module.endswith(".cli")
        assert (command.configure, command.run) == (f"configure_{name}", f"run_{name}")


@pytest.mark.parametrize("package", ["precision", "proofs", "attacks"])
def test_every_exported_name_exists(package):
    if package == "attacks":
        pytest.importorskip("torchvision")
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_an_internal_failure_is_a_traceback_exit_1_and_says_it_is_a_bug(monkeypatch, capsys):
    import precision.cli

    def broken(args):
        raise RuntimeError("something we did not foresee")
    monkeypatch.setattr(precision.cli, "run_thresholds", broken)
    assert main(["thresholds"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: something we did not foresee" in err
    assert err.strip().splitlines()[-1].startswith("softmax-sat thresholds: internal error (a bug")


@pytest.mark.parametrize("argv, needle", [
    (["thresholds", "--format", "mp100000"], "--format: mpBITS supports up to 16384 bits"),
    (["thresholds", "--format", "delta0.2"], "--format: deltaSTEP needs a step in (0, 0.1)"),
    (["thresholds", "--kernel", "torch", "--dtype", "float8_e4m3fn"], "--dtype: kernel torch does not take")])
def test_bad_input_is_one_line_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_a_tiny_delta_grid_is_computed_not_crashed(capsys):
    assert main(["thresholds", "--format", "delta1e-400"]) == 0  # was a ZeroDivisionError
    assert 921 < float(json.loads(capsys.readouterr().out)["top_is_one_from_gap"]) < 922  # ≈ ln(10^400)


@pytest.mark.parametrize("argv, needle", [
    (["thresholds", "--device", "tpu9"], "--device: applies with --kernel"),
    (["thresholds", "--dtype", "bfloat16"], "--dtype: applies with --kernel"),
    (["thresholds", "--kernel", "numpy", "--dtype", "bfloat16", "--format", "float64", "--algorithm", "naive"],
     "--format: applies to emulated thresholds"),
    (["thresholds", "--format", "delta1.2.3"], "--format: deltaSTEP needs a number"),
    (["thresholds", "--format", "delta0.1e"], "--format: deltaSTEP needs a number"),
    (["thresholds", "--format", "decimal100000"], "--format: decimalDIGITS supports up to"),
    (["thresholds", "--classes", "1000000000"], "--classes: at most 4,194,304 classes"),
    (["thresholds", "--classes", "1"], "--classes: must be at least 2"),
    (["thresholds", "--kernel", "torch", "--device", "tpu9"], "--device: expected cpu, cuda"),
    (["report", "--dtypes", "float16"], "unrecognized arguments: --dtypes"),
    (["report", "--logits", "x.npy", "--kernel", "numpy"], "--logits: your own logits have their own command: "
                                                           "softmax-sat logits SOURCE"),
    (["logits", "x.npy", "--algorithm", "naive"], "--algorithm: applies to --kernel emulated"),
    (["logits", "x.npy", "--kernel", "emulated"], "--algorithm: --kernel emulated needs one"),
    (["report", "--kernels", "none", "--device", "cuda"], "--device"),
    (["report", "--out", ""], "--out: give a folder name"),
    (["verify", "--kernel", "numpy", "--dtype", "float64", "--classes", "0"], "--classes: must be at least 2"),
])
def test_an_option_is_used_or_refused_in_one_line(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not any(tmp_path.iterdir()), "a refused command wrote something"


def test_a_refused_logits_kernel_leaves_the_folder_to_the_corrected_command(tmp_path, capsys):
    import numpy as np
    logits, out = tmp_path / "l.npy", tmp_path / "out"
    np.save(logits, np.array([[1.0, 2.0], [30.0, 0.0]]))
    assert main(["logits", str(logits), "--kernel", "tf", "--out", str(out)]) == 2
    assert "--kernel: unknown 'tf'" in capsys.readouterr().err and not out.exists()
    assert main(["logits", str(logits), "--kernel", "numpy", "--out", str(out), "--no-figures"]) == 0


def test_import_precision_loads_no_torch_jax_or_matplotlib():
    import subprocess
    import sys
    code = ("import sys, precision, precision.formats, precision.kernels, precision.logits, precision.emulated;"
            "precision.watch; precision.thresholds; precision.get_kernel;"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'jax', 'matplotlib'}))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"


def test_a_report_never_overwrites_or_removes_files_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "kernels.png").write_bytes(b"the user's own figure")
    argv = ["report", "--kernels", "none", "--formats", "bfloat16", "--classes", "2", "--algorithms", "shifted",
            "--out", str(out)]
    assert main(argv) == 2
    assert "already holds kernels.png, which no report run of this tool wrote" in capsys.readouterr().err
    assert (out / "kernels.png").read_bytes() == b"the user's own figure" and not (out / "report.config.json").exists()
    (out / "kernels.png").rename(tmp_path / "kept.png")
    (out / "notes.txt").write_text("mine")
    assert main(argv) == 0
    first = set(json.loads((out / "report.manifest.json").read_text()))
    assert {"report.json", "report.md", "top_output.png"} <= first and "notes.txt" not in first
    assert main(argv + ["--no-figures"]) == 0  # the same numbers, drawn without figures this time
    assert not (out / "top_output.png").exists(), "the last run's figure stayed beside this run's JSON"
    assert (out / "notes.txt").read_text() == "mine"


def _raising_kernel(folder) -> str:
    """A user's kernel (a module in `folder`) that raises on a row whose last logit is 7: found only while the
    rows are read."""
    (folder / "raises_on_seven.py").write_text(
        "import numpy as np\n\ndef softmax(x):\n    if (x[:, -1] == 7).any():\n        raise ValueError('seven')\n"
        "    e = np.exp(x - x.max(axis=1, keepdims=True))\n    return e / e.sum(axis=1, keepdims=True)\n")
    return "raises_on_seven:softmax"


def test_a_run_refused_while_reading_gives_the_folder_back(tmp_path, capsys, monkeypatch):
    import numpy as np
    monkeypatch.chdir(tmp_path)
    logits, out = tmp_path / "l.npy", tmp_path / "out"
    rows = np.zeros((70_000, 2))
    rows[:, 0] = 20.0
    rows[65_000, 1] = 7.0  # past the first chunk: found only while the rows are read
    np.save(logits, rows)
    argv = ["logits", str(logits), "--kernel", _raising_kernel(tmp_path), "--dtypes", "float32", "--out", str(out),
            "--no-figures"]
    assert main(argv) == 2
    assert "seven" in capsys.readouterr().err and not (out / "logits.config.json").exists()
    rows[65_000, 1] = 0.0
    np.save(logits, rows)
    assert main(argv) == 0 and (out / "logits.json").exists()


@pytest.mark.parametrize("argv, needle", [
    (["thresholds", "--kernel", "numpy", "--softcap", "-1"], "--softcap: must be a finite number > 0"),
    (["thresholds", "--kernel", "numpy", "--temperature", "inf"], "--temperature: must be a finite number > 0"),
    (["thresholds", "--temperature", "2"], "--temperature: applies with --kernel"),
    (["logits", "x.npy", "--cpu-paths"], "unrecognized arguments: --cpu-paths")])
def test_llm_settings_are_checked_before_any_scan(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import numpy as np
    np.save(tmp_path / "x.npy", np.zeros((2, 2)))
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_a_soft_cap_of_30_does_not_keep_bfloat16_below_1(capsys):
    pytest.importorskip("torch")
    assert main(["thresholds", "--kernel", "torch", "--dtype", "bfloat16", "--classes", "1000", "--softcap",
                 "30"]) == 0
    s = json.loads(capsys.readouterr().out)["setting"]
    assert s["cap_prevents_top_one"] is False and s["max_gap_under_cap"] == 60.0
    assert s["kernel_gap"] == 13.1875  # torch.softmax in bfloat16, 1000 classes, measured on torch itself


def test_a_folder_of_shards_is_a_logits_dump(tmp_path, capsys):
    import numpy as np
    shards, out = tmp_path / "dump", tmp_path / "out"
    shards.mkdir()
    rows = np.zeros((6, 50), dtype=np.float32)
    rows[:, 0] = np.arange(6) * 6.0  # gaps 0 … 30: the later ones saturate in float16
    np.save(shards / "part-0.npy", rows[:3])
    np.save(shards / "part-1.npy", rows[3:])
    argv = ["logits", str(shards), "--kernel", "numpy", "--dtypes", "float16", "--out", str(out),
            "--no-figures"]
    assert main(argv) == 0
    summary = json.loads((out / "logits.json").read_text())
    assert (out / "logits.tokens-00000.npy").exists() and (out / "logits.tokens-00001.npy").exists()
    assert "float16" in json.dumps(summary)
    assert main(["report", "--kernels", "none", "--scheduler", "dask", "--out", str(tmp_path / "x")]) == 2
    assert "unrecognized arguments: --scheduler" in capsys.readouterr().err


def test_an_os_error_names_the_option_that_holds_the_file(tmp_path, capsys, monkeypatch):
    import precision.cli

    def full_disk(args):
        raise OSError(28, "No space left on device", str(args.out / "report.json"))
    monkeypatch.setattr(precision.cli, "run_report", full_disk)
    assert main(["report", "--out", str(tmp_path / "out")]) == 2
    assert "error: --out: [Errno 28] No space left on device" in capsys.readouterr().err


def test_a_report_killed_before_it_published_does_not_hold_the_folder(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.config.json").write_text(json.dumps({"formats": ["float64"]}))  # a claim, and no results
    argv = ["report", "--kernels", "none", "--formats", "bfloat16", "--classes", "2", "--algorithms", "shifted",
            "--no-figures", "--out", str(out)]
    assert main(argv) == 0
    assert "killed before it published held no results" in capsys.readouterr().err


def test_a_journal_in_a_received_folder_deletes_nothing_a_run_did_not_publish(tmp_path):
    import numpy as np
    logits, out = tmp_path / "l.npy", tmp_path / "out"
    np.save(logits, np.array([[1.0, 2.0]]))
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / ".publishing.json").write_text(json.dumps({"staging": ".staging-9", "move": [], "remove": ["notes.txt"]}))
    assert main(["logits", str(logits), "--kernel", "numpy", "--out", str(out), "--no-figures"]) == 0
    assert (out / "notes.txt").read_text() == "mine"


def test_a_bfloat16_npy_is_read_as_bfloat16(tmp_path):
    import ml_dtypes
    import numpy as np
    logits = tmp_path / "bf.npy"
    np.save(logits, np.array([[20.0, 0.0], [1.0, 0.0]], dtype=ml_dtypes.bfloat16))  # stored as |V2
    out = tmp_path / "out"
    assert main(["logits", str(logits), "--kernel", "numpy", "--dtypes", "bfloat16", "--out", str(out),
                 "--no-figures"]) == 0


def test_a_user_kernel_leaves_the_import_path_alone(tmp_path, monkeypatch):
    import sys
    (tmp_path / "my_softmax_mod.py").write_text(
        "import numpy as np\n"
        "def softmax(x):\n"
        "    e = np.exp(x - x.max(axis=1, keepdims=True))\n"
        "    return e / e.sum(axis=1, keepdims=True)\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    before = list(sys.path)
    from precision.kernels.registry import get_kernel
    assert get_kernel("my_softmax_mod:softmax").name == "my_softmax_mod:softmax"
    assert sys.path == before


def test_a_bad_kernel_in_kernels_is_named_under_kernels(capsys, tmp_path):
    assert main(["report", "--kernels", "tf", "--out", str(tmp_path / "o")]) == 2
    assert "error: --kernels: unknown 'tf'" in capsys.readouterr().err


def test_a_refused_run_leaves_no_folder_behind(tmp_path, capsys, monkeypatch):
    import numpy as np
    monkeypatch.chdir(tmp_path)
    logits, out = tmp_path / "seven.npy", tmp_path / "out"
    np.save(logits, np.array([[1.0, 7.0], [2.0, 0.0]]))
    assert main(["logits", str(logits), "--kernel", _raising_kernel(tmp_path), "--out", str(out),
                 "--no-figures"]) == 2
    assert "seven" in capsys.readouterr().err
    assert not out.exists()
