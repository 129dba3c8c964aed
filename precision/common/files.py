"""Files of a results folder, and the paths a user names: written so that an interrupted run leaves the old complete
file or the new one, never half (strict JSON only); output folders checked before any computing; input files that
must be regular files; and the one mapping of an OS error to the option that named its path (`option_of`). The
protocol of a whole results folder lives in `precision.common.publishing`."""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from precision.common.errors import InputError


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write to a temporary name beside `path`, then rename over it (atomic on one file system)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """`write_bytes_atomic` for text (UTF-8)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def strict_json(data, indent: int | None = None) -> str:
    """JSON without NaN or Infinity tokens (which are not JSON): a float that is not finite is refused, naming
    where it is (`ValueError`: a bug of the writer, never written)."""
    def check(value, where: str) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{where or 'the value'} is {value}, which JSON cannot hold (write null or refuse it)")
        if isinstance(value, dict):
            for k, v in value.items():
                check(v, f"{where}.{k}" if where else str(k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                check(v, f"{where}[{i}]")
    try:
        return json.dumps(data, indent=indent, allow_nan=False)
    except ValueError:
        check(json.loads(json.dumps(data, allow_nan=True)), "")  # names the culprit
        raise


def write_json_atomic(path: Path, data, indent: int | None = None) -> Path:
    """Strict JSON (no NaN or Infinity tokens: a float that is not finite is a bug here) written atomically."""
    return write_text_atomic(path, strict_json(data, indent))


def check_writable(out: Path) -> None:
    """Refuse now, before any computing, an output folder that cannot be created or written."""
    out = Path(out)
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        raise InputError("out", f"{existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError("out", f"cannot write into {existing}")


def output_folder(text: str) -> Path:
    """argparse type of an output folder: a path that names something (`--out ''` is not the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give a folder name (an empty name would write into the current folder)")
    return Path(text)


def regular_file(path: Path, argument: str) -> Path:
    """`path` if it is a regular file; else `InputError(argument)` saying "no such file" or, for a folder, FIFO,
    socket or device, "not a regular file" (a FIFO would block the reader, so it is never opened)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(argument, f"no such file {path}") from None
    except OSError as e:
        raise InputError(argument, f"cannot read {path}: {e.strerror}") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "not a file"
        raise InputError(argument, f"{path} is not a regular file ({kind})")
    return path


def option_of(filename, options: Mapping[str, object]) -> str | None:
    """The option (a key of `options`: "out", "--results", …) whose path is, or holds, the file an OS error names
    (`OSError.filename`); None when no option's path does (or the error names no file). Values that are not paths
    (numbers, flags) and lists of paths are looked through alike."""
    if not filename:
        return None
    path = Path(os.fsdecode(filename)).absolute()
    for option, value in options.items():
        for given in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(given, (str, Path)) and str(given) and \
                    (path == Path(given).absolute() or Path(given).absolute() in path.parents):
                return option
    return None


def os_error(e: OSError, options: Mapping[str, object]) -> InputError | None:
    """An OS error on a path an option names (a folder written into), as that option's `InputError` ("cannot
    write …: File exists"); None when no option names the path (the caller lets the error go on)."""
    option = option_of(e.filename, options)
    if option is None:
        return None
    return InputError(option, f"cannot write {os.fsdecode(e.filename)}: {e.strerror or e}")


def sha256_of(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB pieces (weights files are hundreds of MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
