"""Running Coq on the development: coqc on every file (the hand-written ones in `_CoqProject` order, then the
generated per-format files and their pins), `Print Assumptions` of every main theorem, and coqchk on every module.

`check` copies everything into a build folder (a temporary one by default: nothing is written into the source
tree) and fails on: a file coqc rejects, an assuming command in any file (`coq_spec.forbidden_commands`), a pin
that does not match its theorem (named), a cited theorem without a pin, an axiom outside `coq.allowed`, or
coqchk refusing a module.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from precision.emulated.exp_error import PROVED_FORMATS

from . import coq_spec
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
    Theorem,
    _ident,
    allowed,
    format_theorems,
    format_thresholds,
    kernel_file,
    kernel_theorems,
    threshold_file,
)
from .coq_corollaries import COROLLARY_FILE, corollary_file, corollary_theorems

PRINTED_ALONE = "this theorem"
OWN_RUNS, GENERATED_RUN = ("Assumptions", "AssumptionsMore"), "AssumptionsGenerated"


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


def _checked(exe: str, build: Path, name: str, timeout: float) -> FileResult:
    bad = coq_spec.forbidden_commands((build / f"{name}.v").read_text())
    if bad:
        return FileResult(name, False, 0.0, "forbidden: " + ", ".join(bad))
    return _run(_coqc_cmd(exe, name), build, name, timeout)


def _generated(t: Theorem) -> bool:
    return t.file.startswith("Thresholds_") or t.file in (KERNEL_FILE, COROLLARY_FILE)


def _start_assumptions(exe: str, build: Path, run: str, theorems: list[Theorem]) -> subprocess.Popen:
    """Start coqc on a file printing the assumptions of `theorems`: each hand-written one on its own, the generated
    ones together (an upper bound for each: every one of them goes through the `interval` tactic, whose library
    costs about 6 s per `Print Assumptions`, so one per generated theorem would take minutes)."""
    lines = [f"From {LOGICAL} Require {' '.join(dict.fromkeys(t.file for t in theorems))}."]
    if run == GENERATED_RUN:
        lines += [f"Definition generated_theorems := ({', '.join(f'{LOGICAL}.{t.file}.{t.name}' for t in theorems)}).",
                  'Redirect "pa_generated" Print Assumptions generated_theorems.']
    else:
        lines += [f'Redirect "pa_{t.name}" Print Assumptions {LOGICAL}.{t.file}.{t.name}.' for t in theorems]
    (build / f"{run}.v").write_text("\n".join(lines) + "\n")
    return subprocess.Popen(_coqc_cmd(exe, run), cwd=build, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _collect_assumptions(procs: dict[str, tuple[subprocess.Popen, float]], build: Path, theorems: list[Theorem],
                         pinned: dict[str, str], timeout: float, result: CoqResult) -> None:
    """Wait for the `Print Assumptions` runs and record every theorem's axioms; fail on one not allowed."""
    for run, (proc, start) in procs.items():
        try:
            out, _ = proc.communicate(timeout=timeout)
            ok = proc.returncode == 0
        except subprocess.TimeoutExpired:
            proc.kill()
            out, ok = f"coqc took longer than {timeout} s", False
        result.files.append(FileResult(run, ok, round(time.perf_counter() - start, 3), "" if ok else out[-2000:]))
        if not ok:
            result.status, result.note = "failed", f"{run}: {out.strip()[-300:]}"
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


def coqchk(build: Path, modules: list[str], timeout: float = 300.0) -> FileResult:
    """coqchk on the project's compiled modules (the libraries they load are trusted, not re-checked): the kernel
    re-checks every proof term, independently of coqc's elaboration."""
    exe = shutil.which("coqchk")
    if exe is None:
        return FileResult("coqchk", False, 0.0, "coqchk not found beside coqc")
    cmd = [exe, "-silent", "-bytecode-compiler", "yes", "-Q", ".", LOGICAL]
    for m in modules:
        cmd += ["-norec", f"{LOGICAL}.{m}"]
    return _run(cmd, build, "coqchk", timeout)


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


def check(formats=FORMATS, build_dir: Path | None = None, timeout: float = 300.0,
          extra_files: dict[str, str] | None = None, kernel_formats=PROVED_FORMATS) -> CoqResult:
    """Generate the per-format files and their pins, check every file with coqc, check every cited theorem is
    pinned, record `Print Assumptions` of each main theorem and run coqchk. Builds in a temporary folder unless
    `build_dir` is given; `extra_files` {name: text} adds files; `kernel_formats`: the formats of the generated
    k-ulp interval file (none: no such file)."""
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
        per_format = []
        for fmt in formats:
            t = format_thresholds(fmt)
            n = f"Thresholds_{_ident(fmt)}"
            (build / f"{n}.v").write_text(threshold_file(fmt, thresholds=t))
            names.append(n)
            theorems += format_theorems(t)
            per_format.append(t)
        if corollary_theorems(per_format):  # the sum > 1 windows and log1p zeros, from the threshold files
            (build / f"{COROLLARY_FILE}.v").write_text(corollary_file(per_format))
            names.append(COROLLARY_FILE)
            theorems += corollary_theorems(per_format)
        if kernel_formats:  # the k-ulp intervals of kernels whose exp is not correctly rounded
            (build / f"{KERNEL_FILE}.v").write_text(kernel_file(kernel_formats))
            names.append(KERNEL_FILE)
            theorems += kernel_theorems(kernel_formats)
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
        generated = names[len(generic):]
        unpinned = [t.name for t in theorems if t.name not in pinned]
        result.files += [_checked(exe, build, n, timeout) for n in generic]
        procs: dict[str, tuple[subprocess.Popen, float]] = {}
        if all(f.ok for f in result.files) and not unpinned:
            # the hand-written theorems' assumptions print (in two halves: a second each, the longest part of the
            # check) while the generated files compile (one at a time: coqc is mostly loading libraries)
            own = [t for t in theorems if not _generated(t)]
            for i, run in enumerate(OWN_RUNS):
                procs[run] = (_start_assumptions(exe, build, run, own[i::len(OWN_RUNS)]), time.perf_counter())
            result.files += [_checked(exe, build, n, timeout) for n in generated]
        failed = [f for f in result.files if not f.ok]
        if failed or unpinned:
            for proc, _ in procs.values():
                proc.kill()
                proc.wait()
            result.status = "failed"
            result.note = (_failure_note(build, failed) if failed
                           else f"cited but not pinned in {coq_spec.SPEC}.v: {', '.join(unpinned)}")
        else:
            gen = [t for t in theorems if _generated(t)]
            if gen:
                procs[GENERATED_RUN] = (_start_assumptions(exe, build, GENERATED_RUN, gen), time.perf_counter())
            _collect_assumptions(procs, build, theorems, pinned, timeout, result)
            chk = coqchk(build, names, timeout)
            result.files.append(chk)
            if not chk.ok:
                result.status, result.note = "failed", f"coqchk: {chk.error.splitlines()[-1] if chk.error else ''}"
    result.seconds = round(time.perf_counter() - start, 3)
    return result
