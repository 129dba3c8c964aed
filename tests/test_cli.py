"""The `softmax-sat` command table and the packages' public API."""
import importlib

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
