"""The options every command shares, resolved once at the boundary: argparse types that check a value with an
engine's own check (its error becomes argparse's one line under the option), options a mode does not use refused,
and the torch device checked against the kernels that would run there."""
from __future__ import annotations

import argparse

from precision.common.devices import torch_device
from precision.common.errors import InputError


def checked(cast=str, check=None):
    """An argparse type: the text cast (`int`: "is not an integer") and checked by an engine's check, whose
    `InputError` becomes argparse's one-line error under the option; the value is the cast text."""
    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if check is not None:
            try:
                check(value)
            except InputError as e:
                raise argparse.ArgumentTypeError(e.message) from None
        return value
    return parse


def listed(choices=None, cast=str, check=None):
    """An argparse type for a comma-separated list, each item as `checked` takes it."""
    item = checked(cast, check)

    def parse(text):
        items = [x.strip() for x in text.split(",") if x.strip()]
        if not items:
            raise argparse.ArgumentTypeError("give a comma-separated list")
        if len(set(items)) != len(items):
            raise argparse.ArgumentTypeError(f"{text!r} names an item twice")
        for x in items:
            if choices is not None and x not in choices:
                raise argparse.ArgumentTypeError(f"unknown {x!r}; expected some of {', '.join(choices)}")
        return tuple(item(x) for x in items)
    return parse


def refuse_unused(args, options: dict[str, str], why: str) -> None:
    """Options the chosen mode does not use are refused, never silently ignored; `options`: dest → flag."""
    given = [flag for dest, flag in options.items() if getattr(args, dest) is not None]
    if given:
        raise InputError(given[0], f"{why}; remove {', '.join(given)}")


def device_option(name: str | None, kernels) -> str:
    """The torch device, checked here; a device other than the CPU needs a kernel that runs there."""
    device = "cpu" if name is None else torch_device(name)
    if device != "cpu" and not any(k.accelerated for k in kernels):
        raise InputError("--device", f"{device} applies to the torch kernels; none of "
                         f"{', '.join(k.name for k in kernels) or 'no kernel'} runs there")
    return device
