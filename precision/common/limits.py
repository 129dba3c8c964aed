"""Sizes refused before anything is allocated: what a run may ask of a laptop-sized machine."""
from __future__ import annotations

from precision.common.errors import InputError

# One row of this many float64 logits is 32 MiB; the emulated scans hold a few dozen rows at once (about 1 GB at
# this size), so the largest vocabularies in use (262,144) fit 16 times over.
MAX_CLASSES = 1 << 22


def check_classes(m, argument: str = "classes") -> int:
    """The number of classes as an int in [2, MAX_CLASSES]; one clear error otherwise."""
    if isinstance(m, bool) or not isinstance(m, int):
        raise InputError(argument, f"must be an integer, got {m!r}")
    if m < 2:
        raise InputError(argument, f"must be at least 2, got {m}")
    if m > MAX_CLASSES:
        raise InputError(argument, f"at most {MAX_CLASSES:,} classes fit this tool's scans in memory, got {m:,}")
    return m
