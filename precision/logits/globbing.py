"""Recursive globs (`**`) over logits folders without following links to folders: Python's own glob follows them,
and never ends on a folder that links to itself."""
from __future__ import annotations

import fnmatch
import os
from pathlib import Path


def recursive_glob(pattern: str) -> list[str]:
    """The files a glob with `**` matches, found by a walk that never follows a link to a folder (glob's own
    walk follows them, and hangs on a folder that links to itself)."""
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if any(c in part for c in "*?["))
    root = Path(*parts[:fixed]) if fixed else Path(".")
    rest = parts[fixed:]
    found = []
    for folder, _, names in os.walk(root, followlinks=False):
        for name in names:
            relative = (Path(folder) / name).relative_to(root).parts
            if _segments_match(relative, rest):
                found.append(str(Path(folder) / name) if fixed else os.path.relpath(Path(folder) / name))
    return found


def _segments_match(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Glob matching by path segment: `**` takes any number of folders, other segments as fnmatch."""
    if not pattern:
        return not path
    if pattern[0] == "**":
        return any(_segments_match(path[i:], pattern[1:]) for i in range(len(path) + 1))
    return bool(path) and fnmatch.fnmatchcase(path[0], pattern[0]) and _segments_match(path[1:], pattern[1:])
