"""The one error for bad input: it names the argument at fault, in the engine's words, so that a library caller
reads `format: unknown name 'x'` and the command line reports the same under its option (`--format`)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class InputError(ValueError):
    """Input the engine cannot use; `argument` names it, `message` says what was expected."""

    def __init__(self, argument: str, message: str):
        super().__init__(f"{argument}: {message}")
        self.argument, self.message = argument, message

    def __reduce__(self):  # raised in a worker process and read in the caller's (ValueError's would drop `message`)
        return type(self), (self.argument, self.message)

    @property
    def option(self) -> str:
        """The command-line option of the argument (`batch_size` → `--batch-size`; a positional, in capitals as its
        usage line shows it, stays `SOURCE`)."""
        if self.argument.isupper():
            return self.argument
        return "--" + self.argument.removeprefix("--").replace("_", "-")


@contextmanager
def under(argument: str, only: str | None = None) -> Iterator[None]:
    """Bad input raised in the block is reported under `argument` (with `only`: the errors of that argument alone):
    the same engine call (load a model, find images) serves several options (`--model` and `--transfer`,
    `--images` and `--clean`)."""
    try:
        yield
    except InputError as e:
        if e.argument == argument or (only is not None and e.argument != only):
            raise
        raise InputError(argument, e.message) from None
