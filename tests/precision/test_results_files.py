"""precision.common.files, .locks and .publishing: claims that a refused run gives back, locks recognised as stale
(empty, dead process, another host's and old) and taken over by one process at a time, one commit point for a set of
files, what a killed run left cleaned by the next one, strict JSON, and a FIFO named as not a regular file."""
import errno
import json
import math
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from precision.common import locks as files
from precision.common.errors import InputError
from precision.common.files import regular_file, strict_json, write_json_atomic
from precision.common.locks import lock_is_stale
from precision.common.publishing import JOURNAL, claim, claimed, locked, publish, recover, release, staging_folder


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --- claims ------------------------------------------------------------------------------------------------------
def test_claim_says_whether_it_wrote_and_release_gives_the_folder_back(tmp_path):
    assert claim(tmp_path, {"a": 1}) is True
    assert claim(tmp_path, {"a": 1}) is False  # the same config continues it
    with pytest.raises(InputError, match="differs in: a"):
        claim(tmp_path, {"a": 2})
    assert release(tmp_path, {"a": 2}) is False  # not its claim: left alone
    assert release(tmp_path, {"a": 1}) is True
    assert claim(tmp_path, {"a": 2}) is True  # the corrected run takes the folder


def test_a_run_refused_inside_claimed_releases_its_claim_but_a_kill_keeps_it(tmp_path):
    with pytest.raises(InputError):
        with claimed(tmp_path, {"kernel": "bad"}):
            raise InputError("kernel", "refused after the claim")
    assert not (tmp_path / "config.json").exists()
    with claimed(tmp_path, {"kernel": "good"}) as wrote:
        assert wrote
    with pytest.raises(KeyboardInterrupt):
        with claimed(tmp_path / "k", {"kernel": "good"}):
            raise KeyboardInterrupt  # Ctrl-C: the same command resumes
    assert (tmp_path / "k" / "config.json").exists()
    with pytest.raises(InputError):  # a folder claimed before this run keeps its claim
        with claimed(tmp_path, {"kernel": "good"}):
            raise InputError("x", "y")
    assert (tmp_path / "config.json").exists()


def test_a_config_that_is_not_json_is_refused_naming_the_file(tmp_path):
    (tmp_path / "config.json").write_text("{oops")
    with pytest.raises(InputError, match="config.json is not a config this program wrote"):
        claim(tmp_path, {"a": 1})


# --- strict JSON ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_json_never_holds_infinity_or_nan_and_the_culprit_is_named(tmp_path, value):
    with pytest.raises(ValueError, match=r"rows\[1\].top"):
        write_json_atomic(tmp_path / "x.json", {"rows": [{"top": 1.0}, {"top": value}]})
    with pytest.raises(ValueError):
        claim(tmp_path, {"alpha": value})
    assert not list(tmp_path.iterdir())
    assert json.loads(strict_json({"a": [1.5, None]})) == {"a": [1.5, None]}


# --- files the user names --------------------------------------------------------------------------------------------
def test_a_fifo_is_not_a_regular_file_and_a_missing_file_is_missing(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is not a regular file \\(a FIFO\\)") as e:
        regular_file(fifo, "weights")
    assert e.value.option == "--weights"
    with pytest.raises(InputError, match="no such file"):
        regular_file(tmp_path / "absent", "weights")
    with pytest.raises(InputError, match="not a regular file \\(a folder\\)"):
        regular_file(tmp_path, "logits")


# --- locks ---------------------------------------------------------------------------------------------------------
def test_the_staleness_rule():
    here, there = socket.gethostname(), "elsewhere.example"
    # empty or garbage: stale once older than the grace in which a live lock may still be being written (on a file
    # system without hard links a lock is created, then written)
    assert lock_is_stale("", files.LOCK_EMPTY_GRACE_S + 1) and lock_is_stale("garbage", 60)
    assert not lock_is_stale("", 0) and not lock_is_stale("garbage", 1)
    assert lock_is_stale(f"{here} {_dead_pid()}", 0)
    assert not lock_is_stale(f"{here} {os.getpid()}", 10 ** 6)  # alive: never stale, however old
    assert not lock_is_stale(f"{there} 123", files.LOCK_STALE_AFTER_S - 1)  # another host's: trusted while fresh
    assert lock_is_stale(f"{there} 123", files.LOCK_STALE_AFTER_S + 1)


@pytest.mark.parametrize("content, age", [("", files.LOCK_EMPTY_GRACE_S + 5),
                                          ("elsewhere.example 123", files.LOCK_STALE_AFTER_S + 60),
                                          ("dead", 0)])
def test_a_stale_lock_is_taken_over(tmp_path, content, age):
    lock = tmp_path / ".lock"
    lock.write_text(f"{socket.gethostname()} {_dead_pid()}" if content == "dead" else content)
    os.utime(lock, (time.time() - age, time.time() - age))
    with locked(tmp_path):
        assert lock.read_text() == f"{socket.gethostname()} {os.getpid()}"
    assert not list(tmp_path.iterdir())  # neither the lock nor the guard of its take-over is left


def test_without_flock_a_stale_lock_is_still_taken_over(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "fcntl", None)  # Windows: the unguarded take-over
    (tmp_path / ".lock").write_text(f"{socket.gethostname()} {_dead_pid()}")
    with locked(tmp_path):
        assert (tmp_path / ".lock").read_text() == f"{socket.gethostname()} {os.getpid()}"
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(files.fcntl is None, reason="needs flock (POSIX)")
def test_a_guard_that_cannot_be_held_refuses_rather_than_skipping_it(tmp_path, monkeypatch):
    (tmp_path / ".lock").write_text(f"{socket.gethostname()} {_dead_pid()}")
    (tmp_path / files.GUARD).symlink_to(tmp_path / "elsewhere")  # a symlink planted at its name: not followed
    with pytest.raises(InputError, match="cannot open the lock guard"):
        with locked(tmp_path):
            pass
    (tmp_path / files.GUARD).unlink()

    class Busy:  # flock failing for this process alone (e.g. NFS out of locks): others may hold the guard
        LOCK_EX = 2

        @staticmethod
        def flock(fd, op):
            raise OSError(errno.ENOLCK, "No locks available")
    monkeypatch.setattr(files, "fcntl", Busy)
    (tmp_path / files.GUARD).write_text("")  # another taker's, held
    with pytest.raises(InputError, match="cannot lock the lock guard"):
        with locked(tmp_path):
            pass
    assert (tmp_path / files.GUARD).exists() and (tmp_path / ".lock").exists()  # nothing removed


def test_a_guard_left_by_a_killed_taker_is_removed_by_the_next_run(tmp_path):
    (tmp_path / files.GUARD).write_text("")
    with locked(tmp_path):
        assert not (tmp_path / files.GUARD).exists()


def _contend(folder: Path, start, log: Path) -> None:
    """One of many processes facing one stale lock: while it holds the folder, it says so in `log`."""
    real = Path.read_text

    def slow_read(self, *args, **kwargs):
        # a slow file system: between reading a lock and acting on it, the others act (the old take-over, which
        # put a fresh lock aside and back, lost the race about every time like this)
        text = real(self, *args, **kwargs)
        time.sleep(random.uniform(0, 0.02))
        return text
    Path.read_text = slow_read  # type: ignore[method-assign]
    start.wait(10)
    try:
        with locked(folder):
            fd = os.open(log, os.O_WRONLY | os.O_APPEND)
            os.write(fd, f"in {os.getpid()}\n".encode())
            time.sleep(0.05)
            os.write(fd, f"out {os.getpid()}\n".encode())
            os.close(fd)
    except InputError:  # another process holds it
        pass


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(), reason="needs POSIX")
def test_many_processes_on_one_stale_lock_hold_the_folder_one_at_a_time(tmp_path):
    # forked from a fresh single-threaded server: forking this process (JAX's threads are running) could deadlock
    ctx, dead = multiprocessing.get_context("forkserver"), f"{socket.gethostname()} {_dead_pid()}"
    for round_ in range(8):
        folder, log = tmp_path / f"out{round_}", tmp_path / f"log{round_}"
        folder.mkdir()
        (folder / ".lock").write_text(dead)
        log.write_text("")
        start = ctx.Barrier(8)
        procs = [ctx.Process(target=_contend, args=(folder, start, log)) for _ in range(8)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(20)
        assert [p.exitcode for p in procs] == [0] * 8
        holders: set[str] = set()
        entries = 0
        for line in log.read_text().splitlines():
            what, pid = line.split()
            if what == "in":
                holders.add(pid)
                entries += 1
                assert len(holders) == 1, f"round {round_}: {sorted(holders)} hold the folder at once"
            else:
                holders.remove(pid)
        assert entries >= 1, f"round {round_}: the dead process's lock was not taken over"
        assert not list(folder.iterdir())  # no live lock left aside, no guard left


def test_a_fresh_lock_of_another_host_is_refused_naming_host_and_pid(tmp_path):
    (tmp_path / ".lock").write_text("elsewhere.example 4242")
    with pytest.raises(InputError, match="in use by process 4242 on elsewhere.example"):
        with locked(tmp_path):
            pass
    assert (tmp_path / ".lock").read_text() == "elsewhere.example 4242"


def test_a_live_holder_refreshes_its_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "LOCK_REFRESH_S", 0.05)
    with locked(tmp_path):
        os.utime(tmp_path / ".lock", (1, 1))
        deadline = time.time() + 5
        while (tmp_path / ".lock").stat().st_mtime < 2 and time.time() < deadline:
            time.sleep(0.02)
        assert (tmp_path / ".lock").stat().st_mtime > 2


# --- one commit point; what a killed run left ---------------------------------------------------------------------
def _old_set(out):
    for name in ("report.json", "report.md", "a.png", "old.png"):
        (out / name).write_text(f"old {name}")
    # what the last run published: only files a manifest lists may be removed by a journal found in the folder
    (out / "report.manifest.json").write_text(json.dumps(["report.json", "report.md", "a.png", "old.png"]))


def _new_staging(out):
    staging = staging_folder(out)
    for name in ("report.json", "report.md", "a.png"):
        (staging / name).write_text(f"new {name}")
    return staging


NEW = {"report.json": "new report.json", "report.md": "new report.md", "a.png": "new a.png"}
OLD = {"report.json": "old report.json", "report.md": "old report.md", "a.png": "old a.png", "old.png": "old old.png"}


def _visible(out):
    return {p.name: p.read_text() for p in out.iterdir()
            if not p.name.startswith(".") and not p.name.endswith(".manifest.json")}


@pytest.mark.parametrize("killed_at", range(1, 5))  # the journal, then the three files
def test_a_kill_between_any_two_renames_leaves_the_old_or_the_new_set(tmp_path, monkeypatch, killed_at):
    _old_set(tmp_path)
    staging = _new_staging(tmp_path)
    real, calls = os.replace, []

    def replace(a, b):
        calls.append(b)
        if len(calls) == killed_at:
            raise KeyboardInterrupt("killed")
        return real(a, b)
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        publish(staging, tmp_path, ("report.json", "report.md", "a.png", "old.png"))
    monkeypatch.setattr(os, "replace", real)
    monkeypatch.setattr(os, "getpid", lambda: 2 ** 22 + 7)  # the next run is another process
    with locked(tmp_path):  # the next run settles it
        pass
    assert _visible(tmp_path) == (OLD if killed_at == 1 else NEW)  # 1: the journal itself was not written
    assert not list(tmp_path.glob(".staging-*")) and not (tmp_path / JOURNAL).exists()


def test_publish_replaces_the_set_and_removes_old_outputs_it_did_not_write(tmp_path):
    _old_set(tmp_path)
    paths = publish(_new_staging(tmp_path), tmp_path, ("report.json", "report.md", "a.png", "old.png"))
    assert sorted(p.name for p in paths) == sorted(NEW)
    assert _visible(tmp_path) == NEW and not list(tmp_path.glob(".*"))


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(tmp_path):
    left = tmp_path / f".staging-{_dead_pid()}"
    left.mkdir()
    (left / "report.json").write_text("half")
    with locked(tmp_path):
        assert not left.exists()
    assert recover(tmp_path) == []
