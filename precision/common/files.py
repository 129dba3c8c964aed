"""Results folders: files written so that an interrupted run leaves the old complete file or the new one, never
half; one config per folder (`config.json`, another config refused); and a lock file while a process writes
into it, so that a second live process is refused (a stale lock, whose process is gone, is taken over)."""
from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager
from pathlib import Path

from precision.common.errors import InputError


def write_text_atomic(path: Path, text: str) -> Path:
    """Write to a temporary name beside `path`, then rename over it (atomic on one file system)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def write_json_atomic(path: Path, data, indent: int | None = None) -> Path:
    """Strict JSON (no NaN or Infinity tokens: a float that is not finite is a bug here) written atomically."""
    return write_text_atomic(path, json.dumps(data, indent=indent, allow_nan=False))


def check_writable(out: Path) -> None:
    """Refuse now, before any computing, an output folder that cannot be created or written."""
    out = Path(out)
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        raise InputError("out", f"{existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError("out", f"cannot write into {existing}")


LOCK = ".lock"


def claim(out: Path, config: dict, write: bool = True, name: str = "config.json") -> None:
    """Refuse `out` if it holds a run of another config (naming the keys that differ); else record `config`
    in `out/name`."""
    saved = Path(out) / name
    config = json.loads(json.dumps(config))  # tuples read back as lists: compare what is saved
    if saved.exists():
        old = json.loads(saved.read_text())
        if old != config:
            changed = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
            raise InputError("out", f"{out} holds results of another config (differs in: {', '.join(changed)}); "
                             "use the same config to continue it, another --out, or remove the folder")
    elif write:
        Path(out).mkdir(parents=True, exist_ok=True)
        write_text_atomic(saved, json.dumps(config, indent=1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@contextmanager
def locked(out: Path):
    """Hold `out/.lock` for the duration; refuse while another live process on this host holds it."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path, me = out / LOCK, f"{socket.gethostname()} {os.getpid()}"
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            host, _, pid = path.read_text().partition(" ")
            if host == socket.gethostname() and pid.strip().isdigit() and not _alive(int(pid)):
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            raise InputError("out", f"{out} is in use by process {pid.strip()} on {host} (lock {path}); wait for "
                             "it to finish, or remove the lock if that process is gone") from None
        with os.fdopen(fd, "w") as f:
            f.write(me)
        break
    try:
        yield out
    finally:
        if path.exists() and path.read_text() == me:
            path.unlink()
