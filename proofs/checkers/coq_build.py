"""Running Coq on the development: coqc on every file (the hand-written ones, then the generated per-format files
and their pins), `Print Assumptions` of every main theorem, and coqchk on every module, as one dependency graph on
every core (`coq_jobs`: each command starts as soon as the files it reads are compiled, longest chain first).

`check` copies everything into a build folder (a temporary one by default: nothing is written into the source
tree) and fails on: a file coqc rejects, an assuming command in any file (`coq_spec.forbidden_commands`), a pin
that does not match its theorem (named), a cited theorem without a pin, an axiom outside `coq.allowed`, or
coqchk refusing a module.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from precision.emulated.exp_error import PROVED_FORMATS

from . import coq_jobs, coq_spec
from .coq import (
    ALGORITHM_THEOREMS,
    EXTRA_THEOREMS,
    FORMATS,
    GENERIC_THEOREMS,
    IEEE_THEOREMS,
    INSTALL_HINT,
    KERNEL_FILE,
    LOGICAL,
    SOURCE,
    THRESHOLDS_FILE,
    Theorem,
    allowed,
    format_theorems,
    format_thresholds,
    kernel_file,
    kernel_theorems,
    thresholds_file,
)
from .coq_corollaries import COROLLARY_FILE, corollary_file, corollary_theorems
from .coq_modes import MODE_FORMATS, MODES_FILE, mode_file, mode_theorems, mode_thresholds
from .coq_witness import WITNESS_FILE, WITNESS_FORMATS, witness_file, witness_theorems, witnesses

PRINTED_ALONE = "this theorem"
OWN_RUN, GENERATED_RUN = "Assumptions", "AssumptionsGenerated"  # every `Print Assumptions` run's name starts so
OWN_RUN_SIZE = 12  # theorems per hand-written run, about 1.5 s each
GENERATED_FILES = (THRESHOLDS_FILE, KERNEL_FILE, MODES_FILE, WITNESS_FILE, COROLLARY_FILE)
# rough seconds, to start the longest chains first: the generated files load Interval, and the generated
# theorems' one `Print Assumptions` walks through its whole library
GENERATED_COST, GENERATED_PA_COST = 4.0, 20.0


def coqc() -> str | None:
    """The coqc executable, or None when Coq (with Flocq and Interval) is not installed."""
    exe = shutil.which("coqc")
    if exe is None:
        return None
    try:
        where = subprocess.run([exe, "-where"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    lib = Path(where) / "user-contrib"
    return exe if (lib / "Flocq").is_dir() and (lib / "Interval").is_dir() else None


def coq_version(exe: str) -> str:
    """The first line of `coqc --version`."""
    return subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def generic_files() -> list[str]:
    """The hand-written files, in the dependency order `_CoqProject` lists them."""
    return [ln.strip()[:-2] for ln in (SOURCE / "_CoqProject").read_text().splitlines()
            if ln.strip().endswith(".v")]


@dataclass
class FileResult:
    name: str
    ok: bool
    seconds: float
    error: str = ""
    cpu: float = 0.0  # user + system seconds (0 where not measured)


@dataclass
class TheoremResult:
    name: str
    file: str
    statement: str
    hypotheses: list[str]
    assumptions: list[str]
    ok: bool
    assumptions_of: str = PRINTED_ALONE  # or: the generated theorems together (an upper bound for each)
    facts: dict[str, str] = field(default_factory=dict)  # what a per-format theorem proves: format, fact → gap
    pinned: str = ""  # the statement its pin in Spec.v / SpecFormats.v fixes, in Coq


@dataclass
class CoqResult:
    """What `check` did: per file, whether coqc accepted it and how long it took; per main theorem its axioms."""

    status: str  # "checked", "failed" or "skipped"
    version: str
    files: list[FileResult] = field(default_factory=list)
    theorems: list[TheoremResult] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""
    jobs: int = 0  # commands run at once

    @property
    def cpu(self) -> float:
        """The Coq commands' CPU seconds in all (the wall time on one core, whatever else the machine runs)."""
        return round(sum(f.cpu for f in self.files), 3)

    @property
    def ok(self) -> bool:
        return self.status == "checked"


def _run(cmd: list[str], build: Path, name: str, timeout: float) -> FileResult:
    start = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=build, capture_output=True, text=True, timeout=timeout)
        ok, err = r.returncode == 0, (r.stdout + r.stderr).strip()
    except subprocess.TimeoutExpired:
        ok, err = False, f"{cmd[0]} took longer than {timeout} s"
    return FileResult(name, ok, round(time.perf_counter() - start, 3), "" if ok else err[-2000:])


def _coqc_cmd(exe: str, name: str) -> list[str]:
    return [exe, "-q", "-Q", ".", LOGICAL, f"{name}.v"]


def _compile_job(exe: str, build: Path, name: str, names: list[str]) -> coq_jobs.Job:
    """coqc on one file of the build, after the project files it loads; refused if it assumes anything."""
    text = (build / f"{name}.v").read_text()
    bad = coq_spec.forbidden_commands(text)
    cost = GENERATED_COST if name in GENERATED_FILES else 2.0
    pins = name in (coq_spec.SPEC, coq_spec.SPEC_FORMATS)  # a gate: a rejected statement stops the check early
    return coq_jobs.Job(name, _coqc_cmd(exe, name), coq_jobs.requires(text, LOGICAL) & set(names), cost,
                        "forbidden: " + ", ".join(bad) if bad else "", gate=pins)


def _generated(t: Theorem) -> bool:
    return t.file in GENERATED_FILES


def _assumptions_job(exe: str, build: Path, run: str, theorems: list[Theorem], cost: float) -> coq_jobs.Job:
    """A coqc run printing the assumptions of `theorems`: each hand-written one on its own, the generated ones
    together (an upper bound for each: every one of them goes through the `interval` tactic, whose library costs
    about 6 s per `Print Assumptions`, so one per generated theorem would take minutes)."""
    files = list(dict.fromkeys(t.file for t in theorems))
    lines = [f"From {LOGICAL} Require {' '.join(files)}."]
    if run == GENERATED_RUN:
        lines += [f"Definition generated_theorems := ({', '.join(f'{LOGICAL}.{t.file}.{t.name}' for t in theorems)}).",
                  'Redirect "pa_generated" Print Assumptions generated_theorems.']
    else:
        lines += [f'Redirect "pa_{t.name}" Print Assumptions {LOGICAL}.{t.file}.{t.name}.' for t in theorems]
    (build / f"{run}.v").write_text("\n".join(lines) + "\n")
    return coq_jobs.Job(run, _coqc_cmd(exe, run), set(files), cost)


def _own_runs(theorems: list[Theorem]) -> list[tuple[str, list[Theorem]]]:
    """The hand-written theorems' `Print Assumptions` runs: by file, neighbouring files merged up to about
    `OWN_RUN_SIZE` theorems, so each run starts as soon as its files are compiled."""
    runs: list[list[Theorem]] = []
    for file in dict.fromkeys(t.file for t in theorems):
        group = [t for t in theorems if t.file == file]
        if runs and len(runs[-1]) + len(group) <= OWN_RUN_SIZE:
            runs[-1] += group
        else:
            runs.append(group)
    return [(f"{OWN_RUN}_{run[0].file}", run) for run in runs]


def _record_assumptions(build: Path, theorems: list[Theorem], pinned: dict[str, str], result: CoqResult) -> None:
    """Every theorem's axioms, read from the `Print Assumptions` output; fail on one not allowed."""
    together = sum(_generated(t) for t in theorems)
    for t in theorems:
        printed = build / ("pa_generated.out" if _generated(t) else f"pa_{t.name}.out")
        axioms = parse_assumptions(printed.read_text()) if printed.exists() else ["(Print Assumptions gave nothing)"]
        scope = f"the {together} generated theorems together, an upper bound" if _generated(t) else PRINTED_ALONE
        result.theorems.append(TheoremResult(t.name, t.file, t.statement, list(t.hypotheses), axioms,
                                             printed.exists() and all(allowed(a) for a in axioms), scope, dict(t.facts),
                                             pinned.get(t.name, "")))
    bad = [t for t in result.theorems if not t.ok]
    if bad:
        result.status = "failed"
        result.note = "axioms outside the allowed list: " + "; ".join(
            f"{t.name}: {[a for a in t.assumptions if not allowed(a)]}" for t in bad)


def parse_assumptions(text: str) -> list[str]:
    """The names `Print Assumptions` lists (an empty list when the theorem is closed)."""
    if "Closed under the global context" in text:
        return []
    names = []
    for line in text.splitlines():
        if not line or line[0].isspace() or line.startswith("Axioms:"):
            continue
        names.append(line.split(" :", 1)[0].strip())
    return names


def _coqchk_cmd(exe: str, modules: list[str]) -> list[str]:
    return [exe, "-silent", "-bytecode-compiler", "yes", "-Q", ".", LOGICAL] + [
        a for m in modules for a in ("-norec", f"{LOGICAL}.{m}")]


def coqchk(build: Path, modules: list[str], timeout: float = 300.0) -> FileResult:
    """coqchk on the project's compiled modules (the libraries they load are trusted, not re-checked): the kernel
    re-checks every proof term, independently of coqc's elaboration."""
    exe = shutil.which("coqchk")
    if exe is None:
        return FileResult("coqchk", False, 0.0, "coqchk not found beside coqc")
    return _run(_coqchk_cmd(exe, modules), build, "coqchk", timeout)


def compiled_modules(result: CoqResult) -> list[str]:
    """The modules coqc compiled in a check (not its `Print Assumptions` runs or coqchk)."""
    return [f.name for f in result.files if not f.name.startswith(OWN_RUN) and f.name != "coqchk"]


def _failure_note(build: Path, failed: list[FileResult]) -> str:
    """One line per failed file; a spec file's failure names the theorem whose pin Coq rejects."""
    notes = []
    for f in failed:
        last = f.error.splitlines()[-1] if f.error else "failed"
        if f.name in (coq_spec.SPEC, coq_spec.SPEC_FORMATS) and f.error and (build / f"{f.name}.v").exists():
            name = coq_spec.failed_pin((build / f"{f.name}.v").read_text(), f.error)
            if name:
                notes.append(f"{f.name}.v rejects {name}: its statement is not the pinned one ({last})")
                continue
        notes.append(f"{f.name}: {last}")
    return "; ".join(notes)


def _failure_note_of(build: Path, done: dict[str, coq_jobs.Done], names: list[str]) -> str:
    failed = [FileResult(d.name, False, d.seconds, d.output[-2000:]) for d in done.values() if not d.ok]
    compiled = [f for f in failed if f.name in names]
    if compiled:
        return _failure_note(build, compiled)
    f = failed[0]
    return f"{f.name}: {f.error.strip().splitlines()[-1] if f.error.strip() else 'failed'}"


def check(formats=FORMATS, build_dir: Path | None = None, timeout: float = 300.0,
          extra_files: dict[str, str] | None = None, kernel_formats=PROVED_FORMATS, mode_formats=MODE_FORMATS,
          witness_formats=WITNESS_FORMATS, jobs: int | None = None) -> CoqResult:
    """Generate the per-format files and their pins, check every file with coqc, check every cited theorem is
    pinned, record `Print Assumptions` of each main theorem and run coqchk, at most `jobs` commands at once (default:
    every core). Builds in a temporary folder unless `build_dir` is given; `extra_files` {name: text} adds files;
    `kernel_formats`, `mode_formats`, `witness_formats`: the formats of the generated k-ulp interval file, of the
    per-mode thresholds file and of the intervals' witnesses (none: no such file)."""
    exe = coqc()
    if exe is None:
        return CoqResult("skipped", "not installed", note=INSTALL_HINT)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="softmax-sat-coq-") as tmp:
        build = Path(build_dir) if build_dir is not None else Path(tmp)
        build.mkdir(parents=True, exist_ok=True)
        generic = generic_files()
        names = list(generic)
        for n in generic:
            shutil.copyfile(SOURCE / f"{n}.v", build / f"{n}.v")
        theorems = GENERIC_THEOREMS + EXTRA_THEOREMS + IEEE_THEOREMS + ALGORITHM_THEOREMS
        if formats:
            ts = [format_thresholds(fmt) for fmt in formats]
            (build / f"{THRESHOLDS_FILE}.v").write_text(thresholds_file(ts))
            names.append(THRESHOLDS_FILE)
            theorems += [th for t in ts for th in format_theorems(t)]
            if corollary_theorems(ts):  # the sum > 1 windows and log1p zeros, from the thresholds file
                (build / f"{COROLLARY_FILE}.v").write_text(corollary_file(ts))
                names.append(COROLLARY_FILE)
                theorems += corollary_theorems(ts)
        if kernel_formats:  # the k-ulp intervals of kernels whose exp is not correctly rounded
            (build / f"{KERNEL_FILE}.v").write_text(kernel_file(kernel_formats))
            names.append(KERNEL_FILE)
            theorems += kernel_theorems(kernel_formats)
        if mode_formats:  # the two-class threshold in every other deterministic rounding mode
            mts = mode_thresholds(mode_formats)
            (build / f"{MODES_FILE}.v").write_text(mode_file(mts))
            names.append(MODES_FILE)
            theorems += mode_theorems(mts)
        if witness_formats:  # the k-ulp intervals are tight: an exp within k ulps reaches each end
            ws = witnesses(witness_formats)
            (build / f"{WITNESS_FILE}.v").write_text(witness_file(ws))
            names.append(WITNESS_FILE)
            theorems += witness_theorems(ws)
        pinned = coq_spec.pins((build / f"{coq_spec.SPEC}.v").read_text())
        generated_pins = {t.name: t.coq for t in theorems if t.coq}
        if generated_pins:
            (build / f"{coq_spec.SPEC_FORMATS}.v").write_text(
                coq_spec.spec_formats_file(generated_pins, names[len(generic):]))
            names.append(coq_spec.SPEC_FORMATS)
            pinned |= generated_pins
        for n, text in (extra_files or {}).items():
            (build / f"{n}.v").write_text(text)
            names.append(n)
        # the whole development, generated files included, for coq_makefile in the build folder
        (build / "_CoqProject").write_text(f"-Q . {LOGICAL}\n" + "".join(f"{n}.v\n" for n in names))
        result = CoqResult("checked", coq_version(exe))
        unpinned = [t.name for t in theorems if t.name not in pinned]
        todo = [_compile_job(exe, build, n, names) for n in names]
        if not unpinned:  # the axioms and coqchk, each as soon as what it reads is compiled
            own = [t for t in theorems if not _generated(t)]
            todo += [_assumptions_job(exe, build, run, ths, 1.0 + 1.5 * len(ths)) for run, ths in _own_runs(own)]
            gen = [t for t in theorems if _generated(t)]
            if gen:
                todo.append(_assumptions_job(exe, build, GENERATED_RUN, gen, GENERATED_PA_COST))
            chk = shutil.which("coqchk") or "coqchk"
            todo.append(coq_jobs.Job("coqchk", _coqchk_cmd(chk, names), set(names), 6.0,
                                     "" if shutil.which(chk) else "coqchk not found beside coqc"))
        result.jobs = jobs or os.cpu_count() or 2
        done = coq_jobs.run(todo, build, result.jobs, timeout)
        order = [j.name for j in todo]
        result.files = [FileResult(d.name, d.ok, d.seconds, "" if d.ok else d.output[-2000:], d.cpu)
                        for d in sorted(done.values(), key=lambda d: order.index(d.name))]
        if not all(d.ok for d in done.values()):
            result.status, result.note = "failed", _failure_note_of(build, done, names)
        elif unpinned:
            result.status, result.note = "failed", f"cited but not pinned in {coq_spec.SPEC}.v: {', '.join(unpinned)}"
        else:
            _record_assumptions(build, theorems, pinned, result)
    result.seconds = round(time.perf_counter() - start, 3)
    return result
