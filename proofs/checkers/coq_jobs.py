"""Running the Coq check's commands as a dependency graph on every core (what `make -j` does for coq_makefile),
longest remaining chain first, so the cores stay busy: the check is mostly a few long independent runs
(`Print Assumptions`, coqchk) waiting on short compilations.

A job that fails stops the rest (those running are killed, none is started): the check has failed.
"""
from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

_REQUIRE = re.compile(r"From\s+(\w+)\s+Require\s+(?:Import\s+|Export\s+)?([\w\s.]+?)\.(?:\s|$)", re.S)


def requires(text: str, logical: str) -> set[str]:
    """The project modules a Coq source loads (`From <logical> Require …`)."""
    return {m for lib, mods in _REQUIRE.findall(text) if lib == logical for m in mods.split()}


@dataclass
class Job:
    """One command: it starts once every job of `deps` has succeeded; `cost` (seconds, a rough estimate) orders
    the ready jobs; a job with a reason in `refused` fails when its turn comes, without running. A `gate` (a check
    that fails the run, such as the pinned statements) and the jobs it waits on go before every other ready job,
    so that a failure is known before the long runs that would be wasted on it start."""

    name: str
    cmd: list[str]
    deps: set[str] = field(default_factory=set)
    cost: float = 1.0
    refused: str = ""
    gate: bool = False


@dataclass
class Done:
    name: str
    ok: bool
    seconds: float
    output: str
    cpu: float = 0.0  # user + system seconds of the command (its children included): contention does not inflate it


def _chain(jobs: dict[str, Job]) -> dict[str, float]:
    """Each job's cost plus the longest chain of jobs that wait on it (the list scheduler's priority)."""
    after: dict[str, list[str]] = {n: [] for n in jobs}
    for j in jobs.values():
        for d in j.deps:
            after[d].append(j.name)
    memo: dict[str, float] = {}

    def chain(n: str) -> float:
        if n not in memo:
            memo[n] = jobs[n].cost + max((chain(m) for m in after[n]), default=0.0)
        return memo[n]
    return {n: chain(n) for n in jobs}


def _before_gates(jobs: dict[str, Job]) -> set[str]:
    """The gates and every job they wait on, directly or not."""
    found: set[str] = set()
    todo = [n for n, j in jobs.items() if j.gate]
    while todo:
        n = todo.pop()
        if n not in found:
            found.add(n)
            todo += jobs[n].deps
    return found


def run(jobs: list[Job], cwd: Path, workers: int | None = None, timeout: float = 300.0) -> dict[str, Done]:
    """Run the jobs, at most `workers` at once (default: the machine's cores); {name: Done} of those that ran."""
    byname = {j.name: j for j in jobs}
    unknown = {d for j in jobs for d in j.deps} - set(byname)
    if unknown:
        raise ValueError(f"jobs depend on unknown jobs: {sorted(unknown)}")
    workers = workers or os.cpu_count() or 2
    priority, gates = _chain(byname), _before_gates(byname)
    pending = sorted(byname, key=lambda n: (n not in gates, -priority[n]))
    running: dict[str, tuple[subprocess.Popen, float, Path]] = {}
    done: dict[str, Done] = {}
    failed = False
    while (pending and not failed) or running:
        while not failed and len(running) < workers:
            ready = next((n for n in pending if byname[n].deps <= {d for d, r in done.items() if r.ok}), None)
            if ready is None:
                break
            pending.remove(ready)
            job = byname[ready]
            if job.refused:
                done[ready], failed = Done(ready, False, 0.0, job.refused), True
                break
            log = cwd / f".{ready}.log"
            with log.open("w") as out:
                proc = subprocess.Popen(job.cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True)
            running[ready] = (proc, time.perf_counter(), log)
        if not running:
            break  # nothing can start: what is left waits on a failure
        time.sleep(0.02)
        for name, (proc, start, log) in list(running.items()):
            over = time.perf_counter() - start > timeout
            cpu = _reap(proc)
            if cpu is None and not (over or failed):
                continue
            del running[name]
            if cpu is None:
                proc.kill()
                cpu = _reap(proc, block=True) or 0.0
                if not over:
                    continue  # stopped by another job's failure: no result of its own
            output = log.read_text().strip()
            if over and proc.returncode != 0:
                output = f"{job_exe(byname[name])} took longer than {timeout} s"
            ok = proc.returncode == 0
            done[name] = Done(name, ok, round(time.perf_counter() - start, 3), output, round(cpu, 3))
            failed = failed or not ok
    return done


def _reap(proc: subprocess.Popen, block: bool = False) -> float | None:
    """The CPU seconds of a finished command (setting its return code), or None while it runs."""
    pid, status, usage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def job_exe(job: Job) -> str:
    return Path(job.cmd[0]).name
