"""The Coq development in `proofs/coq`: per-format files generated from the project's thresholds, coqc, and
`Print Assumptions` of every main theorem.

The generic files (any precision p ≥ 2) live in `proofs/coq/*.v`, in the order `_CoqProject` lists them. For each
format, `threshold_file` writes `Thresholds_<format>.v` from `precision.thresholds(format, classes=2)` (never copied
by hand): the exact gap T from which the top output is exactly 1 and its predecessor, and the gap from which the
other output is exactly 0 and its predecessor, each bounded with CoqInterval's `interval` tactic. `check` copies
everything into a build folder (a temporary one by default: nothing is written into the source tree), runs coqc
on each file, then `Print Assumptions` on each main theorem, and fails on any axiom outside `ALLOWED_AXIOMS`.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import mpmath

SOURCE = Path(__file__).resolve().parent.parent / "coq"
INSTALL_HINT = ("Coq is not installed: `apt-get install coq libcoq-flocq libcoq-interval libcoq-gappa gappa` "
                "(or run .ci/install_coq as root)")
FORMATS = ("float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2", "mp113")
# The axioms Coq's standard real numbers rest on (8.16: classical Dedekind reals, functional extensionality, and
# the excluded middle that Flocq uses) ...
REAL_AXIOMS = frozenset({
    "ClassicalDedekindReals.sig_forall_dec",
    "ClassicalDedekindReals.sig_not_dec",
    "FunctionalExtensionality.functional_extensionality_dep",
    "Classical_Prop.classic",
})
# ... and the specifications of Coq's primitive 63-bit integers and floats (Coq's own Uint63 / PrimFloat
# libraries), which the `interval` tactic computes with. Nothing else may appear, in particular nothing of ours.
PRIMITIVE_MODULES = ("PrimInt63.", "Uint63.", "PrimFloat.", "FloatAxioms.", "FloatOps.")
LOGICAL = "SoftmaxSat"


# --- formats and thresholds ------------------------------------------------------------------------------
def exact(x) -> Fraction:
    """A binary floating-point number (Python/NumPy float or mpmath mpf) as an exact rational."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, mpmath.mpf):
        man, exp = x.man_exp
        return Fraction(int(man)) * Fraction(2) ** int(exp)
    return Fraction(float(x))


def flocq_parameters(fmt: str) -> tuple[int, int]:
    """(p, emin) of Flocq's FLT_exp emin p for a binary format: p significand bits, 2^emin the least subnormal."""
    from precision import get_format
    f = get_format(fmt)
    p = int(f.precision)
    return p, int(f.emin) - p + 1


def normalized(x: Fraction, p: int) -> tuple[int, int]:
    """(m, e) with x = m·2^e and 2^(p−1) ≤ m < 2^p (x > 0 and a value of a p-bit format)."""
    if x <= 0:
        raise ValueError(f"expected a positive value, got {x}")
    e = (x.numerator.bit_length() - x.denominator.bit_length()) - p
    while x / Fraction(2) ** e >= 2 ** p:
        e += 1
    while x / Fraction(2) ** e < 2 ** (p - 1):
        e -= 1
    m = x / Fraction(2) ** e
    if m.denominator != 1:
        raise ValueError(f"{x} has more than {p} significant bits")
    return int(m), e


def predecessor(x: Fraction, p: int, emin: int) -> Fraction:
    """The largest value of the format (p bits, least exponent emin) below x > 0."""
    m, e = normalized(x, p)
    if e < emin:
        raise ValueError(f"{x} is subnormal; the threshold files expect normal thresholds")
    return Fraction(m - 1) * Fraction(2) ** e if m > 2 ** (p - 1) else Fraction(2 ** p - 1) * Fraction(2) ** (e - 1)


@dataclass
class FormatThresholds:
    """The project's two-class max-shifted thresholds of one format, exactly, in Flocq's terms."""

    fmt: str
    p: int
    emin: int
    top_is_one_from_gap: Fraction
    others_zero_from_gap: Fraction | None


def format_thresholds(fmt: str) -> FormatThresholds:
    """`precision.thresholds(fmt, classes=2)` (max-shifted) as exact rationals."""
    from precision import thresholds
    t = thresholds(fmt, "shifted", classes=2)
    p, emin = flocq_parameters(fmt)
    others = None if t.others_zero_from_gap is None else exact(t.others_zero_from_gap)
    return FormatThresholds(fmt, p, emin, exact(t.top_is_one_from_gap), others)


# --- generating Thresholds_<fmt>.v ------------------------------------------------------------------------
def _ident(fmt: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", fmt)


def _z(n: int) -> str:
    return f"({n})%Z" if n < 0 else f"{n}%Z"


def _bits_needed(a: mpmath.mpf, b: mpmath.mpf) -> int:
    """Interval precision (bits) that separates a from b with room to spare."""
    rel = abs(a - b) / abs(b)
    return max(60, int(-mpmath.log(rel, 2)) + 40) if rel > 0 else 400


def _real(m: int, e: int) -> str:
    return f"(IZR {m} * bpow radix2 {_z(e)})" if m >= 0 else f"(IZR ({m}) * bpow radix2 {_z(e)})"


def threshold_file(fmt: str, top_offset: int = 0, others_offset: int = 0,
                   thresholds: FormatThresholds | None = None) -> str:
    """The Coq file of one format's thresholds; an offset of −1 moves that threshold one value down (a file Coq
    must reject: the non-vacuity check)."""
    t = thresholds or format_thresholds(fmt)
    p, emin, name = t.p, t.emin, _ident(fmt)
    mid_e = max(1 - 2 * p, emin) - 1
    with mpmath.workprec(max(400, 4 * p)):
        mid_top = mpmath.mpf(2) ** -p + mpmath.mpf(2) ** mid_e
        mid_zero = mpmath.mpf(2) ** (emin - 1)
    lines = [f"(** Generated by proofs/checkers/coq.py from precision.thresholds({fmt!r}, \"shifted\", classes=2):",
             "    do not edit; regenerate. Flocq format: radix 2, FLT_exp emin p, round to nearest even. *)",
             "From Coq Require Import Reals Lra Lia ZArith.",
             "From Flocq Require Import Core.",
             "From Interval Require Import Tactic.",
             f"From {LOGICAL} Require Import RoundOnePlus TopOutputTwoClass ThresholdFromBounds.",
             "Open Scope R_scope.", "",
             f"(** {fmt}: p = {p}, emin = {emin}. *)",
             f"Lemma {name}_Hp : (2 <= {p})%Z. Proof. lia. Qed.",
             f"Lemma {name}_Hemin : ({emin} <= - {p} - 1)%Z. Proof. lia. Qed.", ""]
    hyps = f"{p}%Z {_z(emin)} {name}_Hp {name}_Hemin"
    rnd = f"round radix2 (FLT_exp {_z(emin)} {p}%Z) ZnearestE"

    def block(kind: str, gap: Fraction, offset: int) -> list[str]:
        for _ in range(-offset):
            gap = predecessor(gap, p, emin)
        below = predecessor(gap, p, emin)
        m, e = normalized(below, p)
        with mpmath.workprec(max(400, 4 * p)):
            at, before = mpmath.exp(-mpmath.mpf(gap.numerator) / gap.denominator), \
                mpmath.exp(-mpmath.mpf(below.numerator) / below.denominator)
            mid = mid_top if kind == "top" else mid_zero
            prec = max(_bits_needed(at, mid), _bits_needed(before, mid))
        G, Gm = f"{name}_{kind}_gap", f"{name}_{kind}_gap_pred"
        what = "the top output is exactly 1" if kind == "top" else "the other output is exactly 0"
        out = [f"(** The gap from which {what}: "
               f"{float(gap)!r} = {gap.numerator}/{gap.denominator}"
               + (f" (moved {offset} value(s) from the project's threshold)" if offset else "") + ". *)",
               f"Definition {G} : R := {_real(m + 1, e)}.",
               f"Definition {Gm} : R := {_real(m, e)}.", "",
               f"Lemma {G}_is_succ_of_pred :",
               f"  generic_format radix2 (FLT_exp {_z(emin)} {p}%Z) {Gm} /\\ "
               f"generic_format radix2 (FLT_exp {_z(emin)} {p}%Z) {G} /\\",
               f"  pred radix2 (FLT_exp {_z(emin)} {p}%Z) {G} = {Gm}.",
               f"Proof. exact (pred_of_normalized {hyps} {m}%Z {_z(e)} "
               f"ltac:(split; vm_compute; congruence) ltac:(lia)). Qed.", ""]
        if kind == "top":
            out += [f"Theorem {name}_top_is_one_from_gap :",
                    f"  forall g, {G} <= g -> top_output {p}%Z {_z(emin)} ({rnd} (exp (- g))) = 1.",
                    "Proof.",
                    f"  apply (top_one_from_gap_of_bound {hyps}). unfold {G}.",
                    f"  replace (Z.max (1 - 2 * {p}) {_z(emin)} - 1)%Z with {_z(mid_e)} by reflexivity.",
                    f"  interval with (i_prec {prec}).",
                    "Qed.", "",
                    f"Theorem {name}_top_below_one_at_pred :",
                    f"  {Gm} = pred radix2 (FLT_exp {_z(emin)} {p}%Z) {G} /\\",
                    f"  top_output {p}%Z {_z(emin)} ({rnd} (exp (- {Gm}))) < 1.",
                    "Proof.",
                    f"  split; [symmetry; apply {G}_is_succ_of_pred|].",
                    f"  apply (top_below_one_of_bound {hyps}). unfold {Gm}.",
                    f"  replace (Z.max (1 - 2 * {p}) {_z(emin)} - 1)%Z with {_z(mid_e)} by reflexivity.",
                    f"  interval with (i_prec {prec}).",
                    "Qed.", ""]
        else:
            out += [f"Theorem {name}_others_zero_from_gap :",
                    f"  forall g, {G} <= g ->",
                    f"  {rnd} (exp (- g)) = 0 /\\ other_output {p}%Z {_z(emin)} ({rnd} (exp (- g))) = 0.",
                    "Proof.",
                    f"  apply (others_zero_from_gap_of_bound {hyps}); unfold {G}.",
                    "  - apply Rmult_le_pos; [apply IZR_le; lia | apply bpow_ge_0].",
                    f"  - replace ({_z(emin)} - 1)%Z with {_z(emin - 1)} by reflexivity.",
                    f"    interval with (i_prec {prec}).",
                    "Qed.", "",
                    f"Theorem {name}_other_nonzero_at_pred :",
                    f"  {Gm} = pred radix2 (FLT_exp {_z(emin)} {p}%Z) {G} /\\",
                    f"  other_output {p}%Z {_z(emin)} ({rnd} (exp (- {Gm}))) <> 0.",
                    "Proof.",
                    f"  split; [symmetry; apply {G}_is_succ_of_pred|].",
                    f"  apply (others_nonzero_of_bound {hyps}); unfold {Gm}.",
                    "  - apply Rmult_le_pos; [apply IZR_le; lia | apply bpow_ge_0].",
                    f"  - replace ({_z(emin)} - 1)%Z with {_z(emin - 1)} by reflexivity.",
                    f"    interval with (i_prec {prec}).",
                    "Qed.", ""]
        return out

    lines += block("top", t.top_is_one_from_gap, top_offset)
    if t.others_zero_from_gap is not None:
        lines += block("others", t.others_zero_from_gap, others_offset)
    return "\n".join(lines) + "\n"


def threshold_theorems(fmt: str, has_others: bool = True) -> list[str]:
    """The main theorems of one format's generated file."""
    n = _ident(fmt)
    return [f"{n}_top_is_one_from_gap", f"{n}_top_below_one_at_pred"] + \
        ([f"{n}_others_zero_from_gap", f"{n}_other_nonzero_at_pred"] if has_others else [])


def allowed(axiom: str) -> bool:
    """Whether `Print Assumptions` may list this name: a standard axiom of the reals or a primitive's spec."""
    return axiom in REAL_AXIOMS or axiom.startswith(PRIMITIVE_MODULES)


# --- the main theorems, stated for the certificate and the README ---------------------------------------
GENERIC_HYPOTHESES = ["radix 2, precision p ≥ 2, Flocq FLT_exp emin p (gradual underflow) with emin ≤ −p − 1",
                      "every operation rounds to nearest, ties to even (Flocq ZnearestE)",
                      "no overflow (Flocq's formats have unbounded exponents)"]
CR_EXP = "exp correctly rounded: r = rnd(exp(−g)) with g ≥ 0 the gap"


@dataclass(frozen=True)
class Theorem:
    """A main theorem: its Coq name, file, statement in mathematical notation and hypotheses."""

    name: str
    file: str
    statement: str
    hypotheses: tuple[str, ...] = ()


GENERIC_THEOREMS = [
    Theorem("round_one_plus_eq_one_iff", "RoundOnePlus", "∀ e ≥ 0: rnd(1 + e) = 1 ⇔ e ≤ 2^−p (the tie goes to 1)",
            tuple(GENERIC_HYPOTHESES)),
    Theorem("top_output_eq_one_iff", "TopOutputTwoClass",
            "∀ r ≥ 0: rnd(1 / rnd(1 + r)) = 1 ⇔ r ≤ 2^−p", tuple(GENERIC_HYPOTHESES)),
    Theorem("top_output_le_one", "TopOutputTwoClass", "∀ r ≥ 0: rnd(1 / rnd(1 + r)) ≤ 1",
            tuple(GENERIC_HYPOTHESES)),
    Theorem("top_one_iff_rounded_exp_le", "TopOutputTwoClass",
            "two classes, max-shifted: top output rnd(1/rnd(1 + rnd(e^−g))) = 1 ⇔ rnd(e^−g) ≤ 2^−p",
            tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
    Theorem("top_one_stays_one", "TopOutputTwoClass",
            "g ≤ g′ and top output 1 at g ⇒ top output 1 at g′ (corrected Lemma 2.1, IEEE reading)",
            tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
    Theorem("top_one_stays_one_any_exp", "TopOutputTwoClass",
            "the same for any rounded exp E ≥ 0 that is non-increasing in the gap",
            tuple(GENERIC_HYPOTHESES) + ("E(g) ≥ 0 and g ≤ g′ ⇒ E(g′) ≤ E(g)",)),
    Theorem("other_zero_iff_rounded_exp_zero", "TopOutputTwoClass",
            "∀ g ≥ 0: other output rnd(r / rnd(1 + r)) = 0 ⇔ r = rnd(e^−g) = 0",
            tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
    Theorem("outputs_sum_above_one", "TopOutputTwoClass",
            "top output 1 and r = rnd(e^−g) ≠ 0 ⇒ other output = r and the outputs sum to 1 + r > 1",
            tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
    Theorem("sum_above_one_window_exists", "TopOutputTwoClass",
            "∃ g ≥ 0: top output exactly 1 and other output ≠ 0 (the window exists in every such format)",
            tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
]


def format_theorems(t: FormatThresholds) -> list[Theorem]:
    """The main theorems of one generated file, with the thresholds they state."""
    n, file = _ident(t.fmt), f"Thresholds_{_ident(t.fmt)}"
    h = (f"{t.fmt} as Flocq FLT_exp ({t.emin}) {t.p}, round to nearest even", CR_EXP,
         "thresholds from precision.thresholds(fmt, 'shifted', classes=2)")
    T = float(t.top_is_one_from_gap)
    out = [Theorem(f"{n}_top_is_one_from_gap", file, f"{t.fmt}: ∀ g ≥ T = {T!r}: top output exactly 1", h),
           Theorem(f"{n}_top_below_one_at_pred", file, f"{t.fmt}: at pred(T) the top output is < 1", h)]
    if t.others_zero_from_gap is not None:
        T0 = float(t.others_zero_from_gap)
        out += [Theorem(f"{n}_others_zero_from_gap", file,
                        f"{t.fmt}: ∀ g ≥ T0 = {T0!r}: rnd(e^−g) = 0 and the other output is exactly 0", h),
                Theorem(f"{n}_other_nonzero_at_pred", file, f"{t.fmt}: at pred(T0) the other output is ≠ 0", h)]
    return out


# --- running coqc ---------------------------------------------------------------------------------------------
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


def coq_version() -> str:
    exe = coqc()
    if exe is None:
        return "not installed"
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
    assumptions_of: str = "this theorem"  # or: the main theorems of one file together (one Print Assumptions)


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


def _compile(exe: str, build: Path, name: str, timeout: float) -> FileResult:
    start = time.perf_counter()
    try:
        r = subprocess.run([exe, "-q", "-Q", ".", LOGICAL, f"{name}.v"], cwd=build, capture_output=True,
                           text=True, timeout=timeout)
        ok, err = r.returncode == 0, (r.stdout + r.stderr).strip()
    except subprocess.TimeoutExpired:
        ok, err = False, f"coqc took longer than {timeout} s"
    return FileResult(name, ok, round(time.perf_counter() - start, 3), "" if ok else err[-2000:])


def _checked(exe: str, build: Path, name: str, timeout: float) -> FileResult:
    bad = forbidden_commands((build / f"{name}.v").read_text())
    if bad:
        return FileResult(name, False, 0.0, "forbidden: " + ", ".join(bad))
    return _compile(exe, build, name, timeout)


def _assumptions(exe: str, build: Path, theorems: list[Theorem], timeout: float, result: CoqResult) -> None:
    """`Print Assumptions` in one coqc run (Coq loads the libraries' opaque proofs once): the main theorems of each
    hand-written file together, and all generated per-format theorems together (they share one proof pattern)."""
    groups: dict[str, list[Theorem]] = {}
    for th in theorems:
        groups.setdefault("Thresholds" if th.file.startswith("Thresholds_") else th.file, []).append(th)
    modules = " ".join(dict.fromkeys(th.file for th in theorems))
    lines = [f"From {LOGICAL} Require Import {modules}."]
    for g, ths in groups.items():
        term = ths[0].name if len(ths) == 1 else "(" + ", ".join(t.name for t in ths) + ")"
        lines += [f"Definition main_theorems_{g} := {term}.",
                  f'Redirect "assumptions_{g}" Print Assumptions main_theorems_{g}.']
    (build / "Assumptions.v").write_text("\n".join(lines) + "\n")
    r = _compile(exe, build, "Assumptions", timeout)
    result.files.append(r)
    if not r.ok:
        result.status, result.note = "failed", r.error
    for g, ths in groups.items():
        out = build / f"assumptions_{g}.out"
        axioms = parse_assumptions(out.read_text()) if out.exists() else ["(Print Assumptions gave nothing)"]
        scope = "this theorem" if len(ths) == 1 else f"the {len(ths)} main theorems of {g} together"
        for th in ths:
            ok = r.ok and out.exists() and all(allowed(a) for a in axioms)
            result.theorems.append(TheoremResult(th.name, th.file, th.statement, list(th.hypotheses), axioms,
                                                 ok, scope))
    bad = [t for t in result.theorems if not t.ok]
    if bad:
        result.status = "failed"
        result.note = "axioms outside the allowed list: " + "; ".join(
            f"{t.name}: {[a for a in t.assumptions if not allowed(a)]}" for t in bad)


def forbidden_commands(text: str) -> list[str]:
    """Admitted, admit, Axiom, Parameter or Conjecture in a Coq source (comments stripped)."""
    code = re.sub(r"\(\*.*?\*\)", "", text, flags=re.S)
    return sorted(set(re.findall(r"\b(Admitted|admit|Axiom|Axioms|Parameter|Parameters|Conjecture|Hypotheses)\b",
                                 code)) - {"Hypotheses"})


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


def check(formats=FORMATS, build_dir: Path | None = None, timeout: float = 300.0,
          extra_files: dict[str, str] | None = None) -> CoqResult:
    """Generate the per-format files, check every file with coqc and record `Print Assumptions` of each main
    theorem. Builds in a temporary folder unless `build_dir` is given; `extra_files` {name: text} adds files."""
    exe = coqc()
    if exe is None:
        return CoqResult("skipped", "not installed", note=INSTALL_HINT)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="softmax-sat-coq-") as tmp:
        build = Path(build_dir) if build_dir is not None else Path(tmp)
        build.mkdir(parents=True, exist_ok=True)
        names = generic_files()
        for n in names:
            shutil.copyfile(SOURCE / f"{n}.v", build / f"{n}.v")
        theorems = list(GENERIC_THEOREMS) + [th for th in EXTRA_THEOREMS]
        for fmt in formats:
            t = format_thresholds(fmt)
            n = f"Thresholds_{_ident(fmt)}"
            (build / f"{n}.v").write_text(threshold_file(fmt, thresholds=t))
            names.append(n)
            theorems += format_theorems(t)
        for n, text in (extra_files or {}).items():
            (build / f"{n}.v").write_text(text)
            names.append(n)
        result = CoqResult("checked", coq_version())
        generated = [n for n in names if n not in set(generic_files())]
        result.files += [_checked(exe, build, n, timeout) for n in generic_files()]
        if all(f.ok for f in result.files):  # one at a time: coqc is mostly loading libraries, and two at once
            result.files += [_checked(exe, build, n, timeout) for n in generated]  # were slower on 2 cores
        failed = [f for f in result.files if not f.ok]
        if failed:
            result.status = "failed"
            result.note = "; ".join(f"{f.name}: {f.error.splitlines()[-1] if f.error else 'failed'}" for f in failed)
        else:
            _assumptions(exe, build, theorems, timeout, result)
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def axiom_summary(axioms: list[str]) -> str:
    """The axioms in two words: the reals' standard axioms, and primitive-integer specs where Interval used them."""
    reals = sorted(a for a in axioms if a in REAL_AXIOMS)
    prim = [a for a in axioms if a.startswith(PRIMITIVE_MODULES)]
    other = sorted(a for a in axioms if not allowed(a))
    parts = [", ".join(reals)] if reals else []
    if prim:
        parts.append(f"{len(prim)} primitive-integer/float specifications (Uint63/PrimInt63, used by interval)")
    if other:
        parts.append("NOT ALLOWED: " + ", ".join(other))
    return "; ".join(parts) or "none (closed)"


REALS = ("Coq's real numbers (Reals), exact arithmetic",)
EXTRA_THEOREMS: list[Theorem] = [
    Theorem("lemma_2_2_corrected", "Lemma22Reals",
            "Lemma 2.2 corrected: l1 < p1 ⇔ p_t(e^(v_t − v1) − 1) > (1 − p1 − p_t)(1 − e^(−v1)) "
            "(c ≥ 0 the other classes' mass, their v_k = 0)", REALS),
    Theorem("lemma_2_2_two_classes", "Lemma22Reals", "Lemma 2.2, two classes: l1 < p1 ⇔ v1 < v_t", REALS),
    Theorem("lemma_2_2_as_written_is_false", "Lemma22Reals",
            "Lemma 2.2 as written is false: u = (2, 0, 1.9), v = (1, 1.1, 0) meets its hypotheses and l1 > p1",
            REALS + ("three classes, t = 2",)),
    Theorem("lemma_2_1_delta_grid_paper_rule", "Lemma21DeltaGrid",
            "Lemma 2.1 on the δ-grid with the paper's rule (x < δ ↦ 0, x > 1 − δ ↦ 1): p1 > 1 − δ ⇒ "
            "∀ v1 ≥ u1: rounded P(v1, u2, …, uM) = (1, 0, …, 0)",
            REALS + ("any M ≥ 1 rivals", "each output of the exact softmax rounded once")),
    Theorem("lemma_2_1_delta_grid_nearest", "Lemma21DeltaGrid",
            "Lemma 2.1 corrected, nearest rounding on the grid δℤ with 1/δ = n ∈ ℕ (any tie rule): "
            "p1 > 1 − δ/2 ⇒ ∀ v1 ≥ u1: rounded P(v1, u2, …, uM) = (1, 0, …, 0)",
            REALS + ("any M ≥ 1 rivals", "each output of the exact softmax rounded once to the nearest multiple of δ")),
]


# --- kernels whose exp is within k ulps: the interval of possible thresholds -----------------------------------
def successor(x: Fraction, p: int, emin: int) -> Fraction:
    """The smallest value of the format (p bits, least exponent emin) above x > 0 (x a normal value)."""
    m, e = normalized(x, p)
    return Fraction(m + 1) * Fraction(2) ** e


def _ulp(x: mpmath.mpf, p: int, emin: int) -> mpmath.mpf:
    """Flocq's ulp of a positive real in FLT_exp emin p: 2^max(⌊log2 x⌋ + 1 − p, emin)."""
    _, e = mpmath.frexp(x)  # x = f·2^e with 1/2 ≤ f < 1, so ⌊log2 x⌋ = e − 1
    return mpmath.mpf(2) ** max(int(e) - p, emin)


def kernel_threshold_interval(fmt: str, k, max_steps: int = 1_000_000) -> tuple[Fraction, Fraction]:
    """[T_lo(k), T_hi(k)]: for any kernel whose exp returns values of the format with |exp_k(x) − exp(x)| ≤
    k·ulp(exp(x)), the two-class max-shifted top output is exactly 1 at every gap ≥ T_hi, and below 1 at the gap
    just below T_lo; so the kernel's threshold (the least gap from which it stays 1) lies in [T_lo, T_hi].
    k = 1/2 (correctly rounded) gives T_lo = T_hi = the project's threshold. Gaps are values of the format."""
    k = Fraction(k)
    if k < 0:
        raise ValueError(f"k must be a non-negative number of ulps, got {k}")
    t = format_thresholds(fmt)
    p, emin = t.p, t.emin
    with mpmath.workprec(4 * p + 64):
        b = mpmath.mpf(2) ** -p
        succ_b = b + mpmath.mpf(2) ** max(1 - 2 * p, emin)
        kk = mpmath.mpf(k.numerator) / k.denominator
        ex = lambda g: mpmath.exp(-mpmath.mpf(g.numerator) / g.denominator)  # noqa: E731

        def surely_one(g):  # every such kernel: exp_k(g) < succ(2^−p), so exp_k(g) ≤ 2^−p
            x = ex(g)
            return x + kk * _ulp(x, p, emin) < succ_b

        def surely_below(g):  # every such kernel: exp_k(g) > 2^−p
            x = ex(g)
            return x - kk * _ulp(x, p, emin) > b

        hi = t.top_is_one_from_gap
        for _ in range(max_steps):  # the least gap where surely_one holds (it holds for all larger gaps)
            if surely_one(hi) and not surely_one(predecessor(hi, p, emin)):
                break
            hi = successor(hi, p, emin) if not surely_one(hi) else predecessor(hi, p, emin)
        else:
            raise RuntimeError(f"{fmt}, k = {k}: T_hi not found in {max_steps} steps")
        lo = predecessor(t.top_is_one_from_gap, p, emin)
        for _ in range(max_steps):  # the greatest gap where surely_below holds; T_lo is the next one
            if surely_below(lo) and not surely_below(successor(lo, p, emin)):
                break
            lo = predecessor(lo, p, emin) if not surely_below(lo) else successor(lo, p, emin)
        else:
            raise RuntimeError(f"{fmt}, k = {k}: T_lo not found in {max_steps} steps")
    return successor(lo, p, emin), hi
