"""The one error for bad input: it names the argument at fault, in the engine's words, so that a library caller
reads `format: unknown name 'x'` and the command line reports the same under its option (`--format`)."""
from __future__ import annotations


class InputError(ValueError):
    """Input the engine cannot use; `argument` names it, `message` says what was expected."""

    def __init__(self, argument: str, message: str):
        super().__init__(f"{argument}: {message}")
        self.argument, self.message = argument, message

    @property
    def option(self) -> str:
        """The command-line option of the argument (`batch_size` → `--batch-size`)."""
        return "--" + self.argument.removeprefix("--").replace("_", "-")
