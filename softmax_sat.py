"""The `softmax-sat` command: one subcommand per job, each living in the package that does the work.

`COMMANDS` is the explicit table: subcommand → (module, configure function, run function, help). Modules are
imported only when chosen, so `softmax-sat report` never loads torch unless a torch kernel is asked for.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import traceback
import warnings
from dataclasses import dataclass

from precision.common.errors import InputError
from precision.common.files import option_of


@dataclass(frozen=True)
class Command:
    module: str
    configure: str
    run: str
    help: str
    moved: tuple[tuple[str, str], ...] = ()  # (option, where it went): answered with one line, exit 2

    def functions(self):
        """(configure(parser), run(args) -> int), imported now."""
        module = importlib.import_module(self.module)
        return module.__dict__[self.configure], module.__dict__[self.run]


COMMANDS = {
    "report": Command("precision.cli", "configure_report", "run_report",
                      "write the precision-saturation report: real kernels first, then emulated arithmetic",
                      moved=(("--logits", "your own logits have their own command: softmax-sat logits SOURCE … "
                                          "(--kernel, --dtypes, --scheduler, --out as before; --kernel emulated "
                                          "takes --algorithm NAME)"),)),
    "logits": Command("precision.logits.cli", "configure_logits", "run_logits",
                      "your own logits (a file or a dump of shards) through a kernel: per-row or per-token flags, "
                      "summary, table, figure"),
    "thresholds": Command("precision.cli", "configure_thresholds", "run_thresholds",
                          "print the saturation thresholds of one configuration (emulated, or --kernel)"),
    "verify": Command("precision.cli", "configure_verify", "run_verify",
                      "evaluate a real kernel at every gap of a dtype; write a certificate"),
    "online": Command("precision.emulated.cli", "configure_online", "run_online",
                      "one-hot thresholds of an online-softmax (attention) kernel, and its constants checked"),
    "lm": Command("precision.lm.cli", "configure_lm", "run_lm",
                  "a causal language model: `lm generate` watches its generated tokens, `lm compare` scores the same "
                  "tokens by two setups (trainer versus sampler)"),
    "prove": Command("proofs.cli", "configure_prove", "run_prove",
                     "machine-check Lemmas 2.1 and 2.2; write a certificate"),
    "attack": Command("attacks.cli", "configure_attack", "run_attack",
                      "run an over-optimized or multi-class attack on real ImageNet images"),
    "experiment": Command("attacks.cli", "configure_experiment", "run_experiment",
                          "the transferability experiment: every model pair, both attacks, Figures 3-5"),
    "figures": Command("attacks.cli", "configure_figures", "run_figures",
                       "re-draw an experiment's Figures 3-5 and curves from its records"),
    "detect": Command("attacks.cli", "configure_detect", "run_detect",
                      "how well each confidence measure separates an experiment's attacked images from clean ones"),
}


class UsageError(Exception):
    """An option argparse refused: `main` prints it in one line and returns 2."""


class OneLineParser(argparse.ArgumentParser):
    """Bad options end in one line on stderr and exit code 2, no usage block."""

    def error(self, message):
        raise UsageError(f"{self.prog}: error: {message}")


def _option_of(args: argparse.Namespace, filename) -> str:
    """`--out: ` when the file an OS error names lies in the folder or file the user gave as --out (or another
    path option), so that the message names what the user typed; empty when no option holds it."""
    option = option_of(filename, {dest if dest.isupper() else f"--{dest.replace('_', '-')}": value
                                  for dest, value in vars(args).items()})  # a positional: as its usage shows it
    return "" if option is None else f"{option}: "


def _one_line_warning(name: str):
    """A warning shown as one line (torch's run over several, with the C++ file that raised them), so a command's
    output stays one line per event."""
    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        print(f"softmax-sat {name}: warning: {category.__name__}: {text[:400]} ({filename}:{lineno})",
              file=sys.stderr if file is None else file)
    return show


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    top = OneLineParser(prog="softmax-sat", description="When does a softmax stop telling you how strong a "
                        "prediction is? " + "; ".join(f"{k}: {c.help}" for k, c in COMMANDS.items()))
    top.add_argument("command", choices=sorted(COMMANDS))
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0 if argv else 2
    name = argv[0]
    try:
        if name not in COMMANDS:
            top.parse_args(argv[:1])  # raises the one-line error
        for option, where in COMMANDS[name].moved:
            if any(a == option or a.startswith(option + "=") for a in argv[1:]):
                raise UsageError(f"softmax-sat {name}: error: {option}: {where}")
        configure, run = COMMANDS[name].functions()
        parser = OneLineParser(prog=f"softmax-sat {name}", description=COMMANDS[name].help)
        configure(parser)
        args = parser.parse_args(argv[1:])
    except UsageError as e:
        print(e, file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():  # restores the display when the command ends
            warnings.showwarning = _one_line_warning(name)
            return run(args)
    except InputError as e:  # bad input: one line naming the option, exit 2
        print(f"softmax-sat {name}: error: {e.option}: {e.message}", file=sys.stderr)
        return 2
    except OSError as e:  # a file or folder the user named cannot be read or written
        print(f"softmax-sat {name}: error: {_option_of(args, e.filename)}{e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"softmax-sat {name}: interrupted", file=sys.stderr)
        return 130
    except Exception:  # anything else is ours to fix: the whole traceback, and say so
        traceback.print_exc()
        print(f"softmax-sat {name}: internal error (a bug in softmax-saturation; please report it with the "
              "traceback above)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
