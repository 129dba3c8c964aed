"""The `softmax-sat` command: one subcommand per job, each living in the package that does the work.

Subcommand modules are imported only when chosen, so `softmax-sat report` never loads torch.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {  # name: (module with configure(parser) and run(args) -> int, one-line help)
    "report": ("precision.report", "write the precision-saturation report (tables, JSON, PNG figures)"),
    "thresholds": ("precision.report", "print the saturation thresholds of one configuration"),
    "prove": ("proofs.run", "machine-check Lemmas 2.1 and 2.2; write a certificate"),
    "attack": ("attacks.cli", "run an over-optimized or multi-class attack on real ImageNet images"),
    "experiment": ("attacks.experiment", "the transferability experiment: every model pair, both attacks, Figures 3-5"),
    "figures": ("attacks.experiment", "re-draw an experiment's Figures 3-5 and curves from its records"),
}


class OneLineParser(argparse.ArgumentParser):
    """Bad options end in one line on stderr and exit code 2, no usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    top = OneLineParser(prog="softmax-sat", description="When does a softmax stop telling you how strong a "
                        "prediction is? " + "; ".join(f"{k}: {h}" for k, (_, h) in COMMANDS.items()))
    top.add_argument("command", choices=sorted(COMMANDS))
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        top.parse_args(argv[:1])  # exits with the one-line error
    name = argv[0]
    module = importlib.import_module(COMMANDS[name][0])
    parser = OneLineParser(prog=f"softmax-sat {name}", description=COMMANDS[name][1])
    getattr(module, f"configure_{name}", getattr(module, "configure", None))(parser)
    args = parser.parse_args(argv[1:])
    try:
        return getattr(module, f"run_{name}", getattr(module, "run", None))(args)
    except (ValueError, OSError) as e:  # bad input: one clear line, exit 2
        print(f"softmax-sat {name}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"softmax-sat {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
