"""The lock of a results folder (`.lock`, "host pid"): while a process writes into a folder, a second live process
is refused and a stale lock is taken over.


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

import errno
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: stale locks are taken over unguarded (see the module's lock rule)
    fcntl = None  # type: ignore[assignment]

from precision.common.errors import InputError

LOCK = ".lock"
GUARD = ".lock.guard"  # flock'ed while a stale lock is read again and removed: one taker at a time
LOCK_STALE_AFTER_S = 3600  # a lock from another host, not refreshed for this long, is stale
LOCK_REFRESH_S = 300  # how often a holder refreshes its lock's time
LOCK_EMPTY_GRACE_S = 10  # an empty or unreadable lock younger than this may be a live one being written


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
    """(host, pid) of a lock's text; None when it is empty or not a lock this program wrote (pid 0 is none: signal
    0 to it reaches this process group, which is always alive)."""
    host, _, pid = text.strip().partition(" ")
    return (host, int(pid)) if host and pid.strip().isdigit() and int(pid) > 0 else None


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
def holding_lock(out: Path, then: Callable[[Path], object] | None = None) -> Iterator[Path]:
    """Hold `out/.lock` for the duration; refuse while another live process holds it (a stale lock, see the
    module's rule, is taken over). `then(out)` runs once the lock is held (`publishing.locked`: `recover`)."""
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
        if then is not None:
            then(out)
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



def remove_dead_lockers_names(out: Path) -> None:
    """What a locker killed mid-way left (the guard, its private lock names): removed (the caller holds the lock)."""
    if (out / GUARD).exists():  # left by a taker killed between removing a stale lock and its guard
        with _guarded(out / GUARD):
            pass
    for p in [*out.glob(f"{LOCK}.new-*"), *out.glob(f"{LOCK}.stale-*")]:  # a killed locker's private names
        pid = p.name.split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            p.unlink(missing_ok=True)
