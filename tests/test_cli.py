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
    assert 921 < json.loads(capsys.readouterr().out)["top_is_one_from_gap_float"] < 922  # ≈ ln(10^400)
