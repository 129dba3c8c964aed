"""Results folders: files written so that an interrupted run leaves the old complete file or the new one, never
half; one config per folder (`config.json`, another config refused; a refused run gives its claim back); a lock
file while a process writes into it, so that a second live process is refused and a stale lock is taken over;
and a report's files published together (one commit point), with what a killed run left behind cleaned up by
the next one.

A lock (`.lock`, "host pid") is stale, and taken over, when it has been empty or unreadable for more than
`LOCK_EMPTY_GRACE_S` seconds, when it was written on this host by a process that is gone, or when it was written on
another host and not refreshed for `LOCK_STALE_AFTER_S` seconds (a live holder refreshes its lock's time every
`LOCK_REFRESH_S` seconds). A stale lock is removed only under the `flock` of a guard file (`.lock.guard`, held by one
taker at a time, released by the kernel when its holder dies, removed by its holder when it is done), and only if,
read again there, it is still the stale lock: so at most one process holds the folder, whatever the interleaving,
and a live lock is never removed. A guard that cannot be opened or locked for one process only is refused, never
skipped. Where `flock` is missing (Windows) or the file system refuses it to every process, a stale lock is renamed
aside and put back if it turns out to be a fresh one, which three processes racing on one stale lock can defeat (a
live lock left aside, two holders)."""
from __future__ import annotations

import argparse
import errno
import json
import math
import os
import shutil
import socket
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: stale locks are taken over unguarded (see the module's lock rule)
    fcntl = None  # type: ignore[assignment]

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


LOCK = ".lock"
GUARD = ".lock.guard"  # flock'ed while a stale lock is read again and removed: one taker at a time
LOCK_STALE_AFTER_S = 3600  # a lock from another host, not refreshed for this long, is stale
LOCK_REFRESH_S = 300  # how often a holder refreshes its lock's time
LOCK_EMPTY_GRACE_S = 10  # an empty or unreadable lock younger than this may be a live one being written
STAGING = ".staging-"  # `<out>/.staging-<pid>`: a run's files before they are published
JOURNAL = ".publishing.json"  # written before the renames of a publish, removed after: the commit point


def _saved_config(saved: Path) -> dict:
    try:
        old = json.loads(regular_file(saved, "out").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError("out", f"{saved} is not a config this program wrote ({e}); use another --out, or remove "
                         "the folder") from None
    if not isinstance(old, dict):
        raise InputError("out", f"{saved} is not a config this program wrote (not a JSON object)")
    return old


def claim(out: Path, config: dict, write: bool = True, name: str = "config.json") -> bool:
    """Refuse `out` if it holds a run of another config (naming the keys that differ); else record `config`
    in `out/name`. True when this call wrote it (the folder was not claimed before): then `release` gives a
    refused run's claim back."""
    saved = Path(out) / name
    config = json.loads(strict_json(config))  # tuples read back as lists: compare what is saved
    if saved.exists() or saved.is_symlink():
        old = _saved_config(saved)
        if old != config:
            changed = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
            raise InputError("out", f"{out} holds results of another config (differs in: {', '.join(changed)}); "
                             "use the same config to continue it, another --out, or remove the folder")
        return False
    if write:
        Path(out).mkdir(parents=True, exist_ok=True)
        write_text_atomic(saved, strict_json(config, indent=1))
        return True
    return False


def release(out: Path, config: dict, name: str = "config.json") -> bool:
    """Give back a claim: remove `out/name` if it holds exactly `config` (a run refused after it claimed the
    folder, so that the corrected command runs into the same folder). True if it was removed."""
    saved = Path(out) / name
    try:
        if json.loads(saved.read_text()) != json.loads(strict_json(config)):
            return False
    except (OSError, ValueError):
        return False
    saved.unlink(missing_ok=True)
    return True


@contextmanager
def claimed(out: Path, config: dict, write: bool = True, name: str = "config.json"):
    """`claim` for the duration of a block that may still refuse the run: if the block raises `InputError` and
    this call wrote the config, the claim is released (the folder is left as it was found, config-wise). Any
    other exception (a kill, Ctrl-C, a bug) keeps the claim, so that the same command resumes."""
    wrote = claim(out, config, write, name)
    try:
        yield wrote
    except InputError:
        if wrote:
            release(out, config, name)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OverflowError:
        return False
    return True


def _lock_owner(text: str) -> tuple[str, int] | None:
    """(host, pid) of a lock's text; None when it is empty or not a lock this program wrote."""
    host, _, pid = text.strip().partition(" ")
    return (host, int(pid)) if host and pid.strip().isdigit() else None


def lock_is_stale(text: str, age_s: float, host: str | None = None) -> bool:
    """The staleness rule of a lock holding `text`, last refreshed `age_s` seconds ago, seen from `host`."""
    host = socket.gethostname() if host is None else host
    owner = _lock_owner(text)
    if owner is None:
        # empty or not a lock this program wrote; on a file system without hard links a live lock is created
        # empty and written just after, so it is stale only once that moment has surely passed
        return age_s > LOCK_EMPTY_GRACE_S
    if owner[0] == host:
        return not _alive(owner[1])
    return age_s > LOCK_STALE_AFTER_S


def _read_lock(path: Path) -> tuple[str, float] | None:
    try:
        st = path.stat()
        return path.read_text(errors="replace"), st.st_mtime
    except FileNotFoundError:
        return None


_NO_FLOCK = {errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}  # flock refused by the file system itself (for all)


def _flock(guard: Path) -> int | None:
    """A descriptor holding the `flock` of the file named `guard` now (created if missing); None where no process
    can have it (no `fcntl`, a file system without `flock`) or the folder is gone. Any other failure raises: a
    process that skipped the guard while others hold it would defeat it."""
    if fcntl is None:
        return None
    while True:
        try:
            fd = os.open(guard, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except FileNotFoundError:  # the folder itself was removed meanwhile: no lock left to take over
            return None
        except OSError as e:  # e.g. a symlink planted at its name (not followed), or out of descriptors
            raise InputError("out", f"cannot open the lock guard {guard}: {e.strerror}; remove it if it is not a "
                                    "plain file, and try again") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:
            os.close(fd)
            if e.errno in _NO_FLOCK:  # no process can hold it here: the file is nobody's, and goes
                guard.unlink(missing_ok=True)
                return None
            raise InputError("out", f"cannot lock the lock guard {guard}: {e.strerror}; try again") from None
        try:
            st, held = os.stat(guard), os.fstat(fd)
            if (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # its holder removed this guard while we waited: take the one there now


@contextmanager
def _guarded(guard: Path) -> Iterator[bool]:
    """Hold the guard's `flock` for the duration (True), then remove it while still held, so that the folder keeps
    no file of it and a process waiting on the removed one takes the next (`_flock`); False, holding nothing, where
    `_flock` cannot."""
    fd = _flock(guard)
    if fd is None:
        yield False
        return
    try:
        yield True
    finally:
        guard.unlink(missing_ok=True)
        os.close(fd)


def _take_over(path: Path, text: str) -> None:
    """Remove a stale lock that still holds `text`, seen stale; a live lock is never removed. Under the guard, the
    lock is read again: another taker may have replaced it with its own meanwhile, or a live holder refreshed it."""
    with _guarded(path.with_name(GUARD)) as held:
        if not held:
            _take_over_unguarded(path, text)
            return
        seen = _read_lock(path)
        if seen is not None and seen[0] == text and lock_is_stale(text, time.time() - seen[1]):
            path.unlink(missing_ok=True)


def _take_over_unguarded(path: Path, text: str) -> None:
    """`_take_over` without a guard: rename the lock aside and put it back if it is a fresh one. Three processes
    can defeat it (a fresh lock put aside, another one created before it is put back): see the module's rule."""
    aside = path.with_name(f"{path.name}.stale-{os.getpid()}")
    try:
        os.rename(path, aside)  # one process wins the rename
    except FileNotFoundError:
        return
    if aside.read_text(errors="replace") != text:  # a fresh lock replaced the stale one meanwhile: put it back
        try:
            os.link(aside, path)  # put back, unless a lock is there again
            aside.unlink(missing_ok=True)
        except FileExistsError:
            pass  # another process holds the folder now; the live lock stays aside, never deleted
        except OSError:  # no hard links here: put it back by renaming, if nothing is there
            if not path.exists():
                os.rename(aside, path)
        return
    aside.unlink(missing_ok=True)


def _create_lock(path: Path, me: str) -> bool:
    """Create `path` holding `me`, whole (written under a private name, then linked: never seen empty)."""
    tmp = path.with_name(f"{path.name}.new-{os.getpid()}-{threading.get_ident()}")
    tmp.write_text(me)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: exclusive create, then write
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(me)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _refresh(path: Path, me: str, stop: threading.Event) -> None:
    while not stop.wait(LOCK_REFRESH_S):
        try:
            if path.read_text() == me:
                os.utime(path)
        except OSError:
            pass


@contextmanager
def locked(out: Path):
    """Hold `out/.lock` for the duration; refuse while another live process holds it (a stale lock, see the
    module's rule, is taken over). On taking the lock, what a killed run left is settled (`recover`)."""
    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    path, me = out / LOCK, f"{socket.gethostname()} {os.getpid()}"
    for _ in range(100):
        if _create_lock(path, me):
            break
        seen = _read_lock(path)
        if seen is None:
            continue
        text, mtime = seen
        if lock_is_stale(text, time.time() - mtime):
            _take_over(path, text)
            continue
        owner = _lock_owner(text)
        if owner is None:
            raise InputError("out", f"{out} is being locked by another process right now (its lock {path} is "
                                    f"younger than {LOCK_EMPTY_GRACE_S} s and not written yet); try again")
        raise InputError("out", f"{out} is in use by process {owner[1]} on {owner[0]} (lock {path}); wait for it to "
                         f"finish, or remove the lock if that process is gone") from None
    else:
        raise InputError("out", f"cannot take the lock {path}: it keeps changing")
    stop = threading.Event()
    refresher = threading.Thread(target=_refresh, args=(path, me, stop), daemon=True)
    refresher.start()
    try:
        recover(out)
        yield out
    finally:
        stop.set()
        try:
            if path.read_text() == me:
                path.unlink()
            if created and not any(out.iterdir()):  # a refused run leaves no empty folder of its own behind
                out.rmdir()
        except OSError:
            pass


def staging_folder(out: Path) -> Path:
    """A fresh, empty `out/.staging-<pid>` to write a run into before `publish` (the caller holds the lock)."""
    staging = Path(out) / f"{STAGING}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def publish(staging: Path, out: Path, outputs: tuple[str, ...] = ()) -> list[Path]:
    """Make a run's files (every file in `staging`) the folder's, as one set: a journal naming them is written
    first (the commit point), then the files are renamed over the old ones, then the outputs in `outputs` that
    this run did not write are removed, then the journal. A kill before the journal leaves the old set (the
    staging folder is removed by the next run); a kill after it is finished by the next run (`recover`), which
    leaves the new set. Returns the published paths."""
    staging, out = Path(staging), Path(out)
    names = sorted(p.name for p in staging.iterdir())
    journal = {"staging": staging.name, "move": names, "remove": sorted(set(outputs) - set(names))}
    write_text_atomic(out / JOURNAL, strict_json(journal, indent=1))
    _finish(out, journal)
    return [out / n for n in names]


def _finish(out: Path, journal: dict) -> None:
    staging = out / journal["staging"]
    for name in journal["move"]:
        if (staging / name).exists():
            os.replace(staging / name, out / name)
    for name in journal["remove"]:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    (out / JOURNAL).unlink(missing_ok=True)


def recover(out: Path) -> list[str]:
    """Settle what a killed run left in `out` (the caller holds its lock, so no other run is writing): finish a
    publish whose journal was written, then remove every other run's staging folder and temporary lock files.
    Returns what was done, one line each (empty when nothing was left)."""
    out = Path(out)
    done = []
    journal_path = out / JOURNAL
    if journal_path.is_file():
        try:
            journal = json.loads(journal_path.read_text())
            ok = isinstance(journal, dict) and isinstance(journal.get("staging"), str) \
                and journal["staging"].startswith(STAGING) and "/" not in journal["staging"] \
                and all(isinstance(journal.get(k), list) and all(isinstance(n, str) and "/" not in n
                        and n not in ("", ".", "..") for n in journal[k]) for k in ("move", "remove"))
        except (OSError, ValueError):
            ok = False
        if ok:
            # a journal found in a folder is data: it removes only files a manifest there says a run published
            ours = {n for m in out.glob("*.manifest.json") for n in _manifest_names(m)}
            journal["remove"] = [n for n in journal["remove"] if n in ours]
            _finish(out, journal)
            done.append(f"finished publishing {len(journal['move'])} files of an interrupted run")
        else:
            journal_path.unlink(missing_ok=True)
            done.append(f"removed an unreadable {JOURNAL}")
    mine = f"{STAGING}{os.getpid()}"
    for p in sorted(out.glob(f"{STAGING}*")):
        if p.name != mine and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
            done.append(f"removed {p.name}, left by a killed run")
    if (out / GUARD).exists():  # left by a taker killed between removing a stale lock and its guard
        with _guarded(out / GUARD):
            pass
    for p in [*out.glob(f"{LOCK}.new-*"), *out.glob(f"{LOCK}.stale-*")]:  # a killed locker's private names
        pid = p.name.split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            p.unlink(missing_ok=True)
    return done


# --- what a run published: its manifest --------------------------------------------------------------------
def _manifest(kind: str) -> str:
    """The file that lists what the last `kind` run published here: the only files a later run may remove."""
    return f"{kind}.manifest.json"


def _manifest_names(path: Path) -> list[str]:
    """The names a manifest lists (none when it is not one this tool wrote)."""
    try:
        names = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [n for n in names if isinstance(n, str) and "/" not in n] if isinstance(names, list) else []


def _ours(out: Path, kind: str, outputs: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The files a run of this tool published in `out`: its manifest's list; in a folder that holds this kind's
    config but no manifest (an older version's run, or one killed before it published), `outputs`."""
    path = out / _manifest(kind)
    if not path.is_file():
        return outputs if (out / f"{kind}.config.json").is_file() else ()
    try:
        names = json.loads(path.read_text())
    except (OSError, ValueError):
        raise InputError("out", f"{path} is not the manifest this tool writes (not JSON); remove it or choose "
                                  "another folder") from None
    if not isinstance(names, list) or not all(isinstance(n, str) and "/" not in n for n in names):
        raise InputError("out", f"{path} is not the manifest this tool writes (a list of file names)")
    return tuple(names)


def release_unpublished(out: Path, kind: str, outputs: tuple[str, ...]) -> bool:
    """A `kind` run that claimed `out` and was killed before it published holds no results (no manifest, none of
    its outputs): its claim is released, so that a run of another config may take the folder. Call under the lock.
    Whether a claim was released."""
    config = out / f"{kind}.config.json"
    if not config.is_file() or (out / _manifest(kind)).exists() or any((out / n).exists() for n in outputs):
        return False
    config.unlink()
    return True


def refuse_foreign(out: Path, kind: str, outputs: tuple[str, ...]) -> None:
    """A file this run would write that no run of this tool wrote (the user's own) is never overwritten."""
    ours = set(_ours(out, kind, outputs))
    foreign = [n for n in outputs if (out / n).exists() and n not in ours]
    if foreign:
        raise InputError("out", f"{out} already holds {', '.join(foreign)}, which no {kind} run of this tool "
                                  "wrote; choose another folder or move them")


def publish_run(staging: Path, out: Path, kind: str) -> None:
    """The run's files and its manifest become the folder's as one set; the last run's files that this one did
    not write go (only those: the manifest says which)."""
    names = sorted(p.name for p in staging.iterdir())
    write_json_atomic(staging / _manifest(kind), names + [_manifest(kind)])
    publish(staging, out, tuple(n for n in _ours(out, kind) if n not in names))
