"""The Coq development in `proofs/coq`: the main theorems the certificate cites, and the per-format files generated
from the project's thresholds (`coq_build.check` runs Coq on them; `coq_spec` pins their statements).

The generic files (any precision p ≥ 2) live in `proofs/coq/*.v`, in the order `_CoqProject` lists them. For each
format, `threshold_file` writes its block of the generated `Thresholds.v` from `precision.thresholds(format,
classes=2)` (never copied by hand): the exact gap T from which the top output is exactly 1 and its predecessor, and
the gap from which the other output is exactly 0 and its predecessor, each bounded with CoqInterval's `interval`
tactic. Every generated theorem carries its statement in the spec's vocabulary (`Theorem.coq`), from which
`SpecFormats.v` pins it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import mpmath

# The exact-rational helpers and the k-ulp interval are pure mathematics and live in precision (which the report
# uses without importing proofs); the proofs reuse them.
from precision.emulated.exp_error import (
    PROVED_FORMATS,
    PROVED_K,
    binade,
    flocq_parameters,
    normalized,
    predecessor,
    successor,
)
from precision.emulated.exp_error import interval as kernel_interval
from precision.emulated.thresholds import gap_text
from precision.formats.dtypes import DTYPES
from precision.formats.number_formats import to_fraction

SOURCE = Path(__file__).resolve().parent.parent / "coq"
INSTALL_HINT = ("Coq is not installed: `apt-get install coq libcoq-flocq libcoq-interval libcoq-gappa gappa` "
                "(or run .ci/install_coq as root)")
# The dtypes whose overflow is ∞ or NaN (the hypotheses the generated files state), and a 113-bit format; FP6/FP4,
# whose overflow saturates, are left out
FORMATS = tuple(d for d, t in DTYPES.items() if t.format.overflow != "finite") + ("mp113",)
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
THRESHOLDS_FILE = "Thresholds"  # the generated per-format thresholds, every format in one file


# --- formats and thresholds ------------------------------------------------------------------------------


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
    others = None if t.others_zero_from_gap is None else to_fraction(t.others_zero_from_gap)
    return FormatThresholds(fmt, p, emin, to_fraction(t.top_is_one_from_gap), others)


# --- generating Thresholds.v ------------------------------------------------------------------------------
def _ident(fmt: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", fmt)


def _z(n: int) -> str:
    return f"({n})%Z" if n < 0 else f"{n}%Z"


def generated_header(comment: list[str], project: str, flocq: str = "Core", interval: bool = True) -> list[str]:
    """The opening lines of a generated Coq file: its comment (where it comes from), then what it loads: the
    standard reals, Flocq's `flocq` modules, Interval's tactic where it proves bounds, the project's `project`."""
    return [*comment, "From Coq Require Import Reals Lra Lia ZArith.", f"From Flocq Require Import {flocq}.",
            *(["From Interval Require Import Tactic."] if interval else []),
            f"From {LOGICAL} Require Import {project}.", "Open Scope R_scope.", ""]


def format_hypotheses(fmt: str, p: int, emin: int, tag: str = "") -> list[str]:
    """A format's section of a generated file opens with the generic theorems' two hypotheses proved for its p and
    emin, as `<fmt>_<tag>Hp` and `<fmt>_<tag>Hemin` (a tag per file, so that files loaded together do not clash)."""
    name = _ident(fmt)
    return [f"(** {fmt}: p = {p}, emin = {emin}. *)", f"Lemma {name}_{tag}Hp : (2 <= {p})%Z. Proof. lia. Qed.",
            f"Lemma {name}_{tag}Hemin : ({emin} <= - {p} - 1)%Z. Proof. lia. Qed.", ""]


def _bits_needed(a: mpmath.mpf, b: mpmath.mpf) -> int:
    """Interval precision (bits) that separates a from b with room to spare."""
    rel = abs(a - b) / abs(b)
    return max(60, int(-mpmath.log(rel, 2)) + 40) if rel > 0 else 400


def _real(m: int, e: int) -> str:
    return f"(IZR {m} * bpow radix2 {_z(e)})" if m >= 0 else f"(IZR ({m}) * bpow radix2 {_z(e)})"


def _gap_reals(gap: Fraction, p: int, emin: int) -> tuple[str, str]:
    """A gap of the format and its predecessor as the Coq reals `IZR m * bpow radix2 e` (one exponent for both)."""
    m, e = normalized(predecessor(gap, p, emin), p)
    return _real(m + 1, e), _real(m, e)


def threshold_file(fmt: str, top_offset: int = 0, others_offset: int = 0,
                   thresholds: FormatThresholds | None = None) -> str:
    """The Coq file of one format's thresholds; an offset of −1 moves that threshold one value down (a file Coq
    must reject: the non-vacuity check)."""
    t = thresholds or format_thresholds(fmt)
    return _threshold_header(repr(fmt)) + _threshold_body(t, top_offset, others_offset)


def thresholds_file(formats: list[FormatThresholds]) -> str:
    """`THRESHOLDS_FILE`: every format's thresholds in one file (one load of Interval instead of one per format)."""
    return _threshold_header("fmt") + "".join(_threshold_body(t) for t in formats)


def _threshold_header(which: str) -> str:
    return "\n".join(generated_header(
        [f"(** Generated by proofs/checkers/coq.py from precision.thresholds({which}, \"shifted\", classes=2):",
         "    do not edit; regenerate. Flocq format: radix 2, FLT_exp emin p, round to nearest even. *)"],
        "RoundOnePlus TopOutputTwoClass ThresholdFromBounds") + [""])


def _threshold_body(t: FormatThresholds, top_offset: int = 0, others_offset: int = 0) -> str:
    fmt, p, emin, name = t.fmt, t.p, t.emin, _ident(t.fmt)
    mid_e = max(1 - 2 * p, emin) - 1
    with mpmath.workprec(max(400, 4 * p)):
        mid_top = mpmath.mpf(2) ** -p + mpmath.mpf(2) ** mid_e
        mid_zero = mpmath.mpf(2) ** (emin - 1)
    lines = format_hypotheses(fmt, p, emin)
    hyps = f"{p}%Z {_z(emin)} {name}_Hp {name}_Hemin"
    rnd = f"round radix2 (FLT_exp {_z(emin)} {p}%Z) ZnearestE"

    def block(kind: str, gap: Fraction, offset: int) -> list[str]:
        for _ in range(-offset):
            gap = predecessor(gap, p, emin)
        below = predecessor(gap, p, emin)
        m, e = normalized(below, p)
        G_real, Gm_real = _gap_reals(gap, p, emin)
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
               f"Definition {G} : R := {G_real}.",
               f"Definition {Gm} : R := {Gm_real}.", "",
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
    facts: tuple[tuple[str, str], ...] = ()  # (fact, exact gap) it proves, named as precision names them
    coq: str = ""  # a generated theorem's statement in the spec's vocabulary (hand-written ones: Spec.v)


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
    Theorem("top_output_recip_eq", "TopOutputTwoClass",
            "reciprocal form (PyTorch's CPU kernel): top output rnd(1 · rnd(1 / rnd(1 + r))) = rnd(1 / rnd(1 + r)), "
            "so every theorem of the division form's top output holds for it", tuple(GENERIC_HYPOTHESES)),
    Theorem("other_output_recip_eq_zero_iff", "TopOutputTwoClass",
            "reciprocal form: r ∈ F, 0 ≤ r ≤ 1: other output rnd(r · rnd(1 / rnd(1 + r))) = 0 ⇔ r = 0",
            tuple(GENERIC_HYPOTHESES)),
    Theorem("other_recip_zero_iff_rounded_exp_zero", "TopOutputTwoClass",
            "reciprocal form, ∀ g ≥ 0: other output = 0 ⇔ r = rnd(e^−g) = 0", tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
    Theorem("outputs_sum_above_one", "TopOutputTwoClass",
            "top output 1 and r = rnd(e^−g) ≠ 0 ⇒ other output = r and the outputs sum to 1 + r > 1",
            tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
    Theorem("sum_above_one_window_exists", "TopOutputTwoClass",
            "∃ g ≥ 0: top output exactly 1 and other output ≠ 0 (the window exists in every such format)",
            tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
    Theorem("top_output_m_eq_one_iff", "MClassesTopFirst",
            "M classes summed top class first (s := 1, then s := rnd(s + r_j)): rnd(1/s) = 1 ⇔ every r_j ≤ 2^−p "
            "(the small terms are absorbed one by one)",
            tuple(GENERIC_HYPOTHESES) + ("r_j ≥ 0 the rivals' rounded exponentials, any M",)),
    Theorem("top_output_m_le_one", "MClassesTopFirst", "M classes summed top class first: rnd(1/s) ≤ 1",
            tuple(GENERIC_HYPOTHESES) + ("r_j ≥ 0",)),
    Theorem("top_m_one_from_two_class_threshold", "MClassesTopFirst",
            "rnd(e^−T) ≤ 2^−p (T: the two-class threshold) and every rival's gap ≥ T ⇒ the M-class top output "
            "summed top class first is exactly 1, for any M", tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
    Theorem("others_m_zero_from_two_class_threshold", "MClassesTopFirst",
            "rnd(e^−T0) = 0 (T0: the two-class others-zero gap) and every rival's gap ≥ T0 ⇒ every rival's output "
            "rnd(r_j / s) is exactly 0, for any M (the sum taken top class first)",
            tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
    Theorem("kernel_top_one_from_gap_of_bound", "KernelExpError",
            "exp(−T) ∈ [2^(e−1), 2^e) and exp(−T) + k·2^fexp(e) < succ(2^−p) ⇒ ∀ g ≥ T, ∀ r ∈ F with r ≥ 0 and "
            "|r − e^−g| ≤ k·ulp(e^−g): rnd(1/rnd(1 + r)) = 1",
            tuple(GENERIC_HYPOTHESES) + ("k ≥ 0; the kernel's exp any value r of the format within k ulps",)),
    Theorem("kernel_top_below_one_of_bound", "KernelExpError",
            "exp(−T) ∈ [2^(e−1), 2^e), 2^−p < exp(−T) − k·2^fexp(e) and 2^−p < 2^e(1 − k·2^(1−p)) ⇒ "
            "∀ g ≤ T, ∀ r with |r − e^−g| ≤ k·ulp(e^−g): rnd(1/rnd(1 + r)) < 1",
            tuple(GENERIC_HYPOTHESES) + ("0 ≤ k, k·2^(1−p) ≤ 1, e ≥ emin + p − 1; r any real within k ulps",)),
]


def format_theorems(t: FormatThresholds) -> list[Theorem]:
    """The main theorems of one generated file, with the thresholds they state."""
    n, file = _ident(t.fmt), THRESHOLDS_FILE
    h = (f"{t.fmt} as Flocq FLT_exp ({t.emin}) {t.p}, round to nearest even", CR_EXP,
         "thresholds from precision.thresholds(fmt, 'shifted', classes=2)")
    T = float(t.top_is_one_from_gap)
    P, E = f"{t.p}%Z", _z(t.emin)
    rexp = f"rnd {P} {E} (exp (- {{}}))"  # the spec's words (coq_spec.VOCABULARY), not the proof file's
    G, Gm = _gap_reals(t.top_is_one_from_gap, t.p, t.emin)
    top = (("format", t.fmt), ("top_is_one_from_gap", str(gap_text(t.top_is_one_from_gap))))
    out = [Theorem(f"{n}_top_is_one_from_gap", file, f"{t.fmt}: ∀ g ≥ T = {T!r}: top output exactly 1", h, top,
                   f"forall g, {G} <= g -> top {P} {E} ({rexp.format('g')}) = 1"),
           Theorem(f"{n}_top_below_one_at_pred", file, f"{t.fmt}: at pred(T) the top output is < 1", h, (),
                   f"{Gm} = pred {P} {E} {G} /\\ top {P} {E} ({rexp.format(Gm)}) < 1")]
    if t.others_zero_from_gap is not None:
        T0 = float(t.others_zero_from_gap)
        G, Gm = _gap_reals(t.others_zero_from_gap, t.p, t.emin)
        zero = (("format", t.fmt), ("others_zero_from_gap", str(gap_text(t.others_zero_from_gap))))
        out += [Theorem(f"{n}_others_zero_from_gap", file,
                        f"{t.fmt}: ∀ g ≥ T0 = {T0!r}: rnd(e^−g) = 0 and the other output is exactly 0", h, zero,
                        f"forall g, {G} <= g -> {rexp.format('g')} = 0 /\\ other {P} {E} ({rexp.format('g')}) = 0"),
                Theorem(f"{n}_other_nonzero_at_pred", file, f"{t.fmt}: at pred(T0) the other output is ≠ 0", h, (),
                        f"{Gm} = pred {P} {E} {G} /\\ other {P} {E} ({rexp.format(Gm)}) <> 0")]
    return out


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


IEEE = ("Flocq's IEEE 754 binary model (BinarySingleNaN): prec bits, infinities at 2^emax, ±0, ±∞, NaN; Bminus, "
        "Bplus, Bdiv round to nearest even and overflow to ±∞",
        "exp: exp(−∞) = +0, exp(NaN) = NaN, correctly rounded at finite d ≤ 0")
NO_INF = "no infinity (float8 e4m3fn): an operation's infinite result (an overflow) is NaN, as in ml_dtypes"
IEEE_THEOREMS: list[Theorem] = [
    Theorem("kernel_overflow_one_zero", "IEEESoftmax",
            "IEEE 754, two classes, max-shifted with the subtraction d = x2 − x1: if d overflows to −∞, the row is "
            "exactly (1, +0)", IEEE),
    Theorem("kernel_no_inf_overflow_nan", "IEEESoftmax",
            "a format without infinity: if the subtraction overflows, both outputs are NaN", IEEE + (NO_INF,)),
    Theorem("kernel_is_flt_model", "IEEESoftmax",
            "no overflow in x2 − x1: the IEEE kernel's outputs are exactly the FLT model's top_output / other_output "
            "at r = rnd(e^rnd(x2 − x1)), and finite", IEEE + ("prec ≥ 2, emax ≥ 4, x2 ≤ x1 finite",)),
    Theorem("ieee_top_one_iff", "IEEESoftmax",
            "no overflow: the IEEE top output is exactly 1 ⇔ rnd(e^rnd(x2 − x1)) ≤ 2^−prec (the FLT theorem on the "
            "IEEE kernel)", IEEE + ("prec ≥ 2, emax ≥ 4, x2 ≤ x1 finite",)),
    Theorem("binary16_overflow_gives_one_zero", "IEEESoftmax",
            "binary16, logits (60000, −60000): −120000 overflows to −∞ and the row is exactly (1, +0)", IEEE),
    Theorem("e4m3_no_inf_overflow_gives_nan", "IEEESoftmax",
            "4 bits without infinity (e4m3fn's precision), logits (448, −448): −896 overflows and the row is "
            "(NaN, NaN), as ml_dtypes gives", IEEE + (NO_INF,)),
]


LOG1P = "log1p r = ln(1 + r) correctly rounded: the form computes rnd(0 − rnd(log1p r)) and rnd(exp(rnd(x1 − lse)))"
LEMMA_2_2_ROUNDED = "d = x2 − x1 the logits' difference before, d′ after (d ≤ d′: the rival rose more), rounded"
ALGORITHM_THEOREMS: list[Theorem] = [
    Theorem("log1p_logprob_eq_zero_iff", "Log1pForm",
            "log1p form, r ∈ F, r ≥ 0: the top log-probability rnd(0 − rnd(log1p r)) = 0 ⇔ r = 0",
            tuple(GENERIC_HYPOTHESES) + (LOG1P,)),
    Theorem("log1p_logprob_zero_iff_exp_le", "Log1pForm",
            "log1p form: top log-probability rnd(0 − rnd(log1p rnd(e^−g))) = 0 ⇔ e^−g ≤ 2^emin/2",
            tuple(GENERIC_HYPOTHESES) + (LOG1P, CR_EXP)),
    Theorem("log1p_logprob_zero_iff_other_zero", "Log1pForm",
            "∀ g ≥ 0: the log1p top log-probability is 0 ⇔ the max-shifted other output is 0 (the same gap T0)",
            tuple(GENERIC_HYPOTHESES) + (LOG1P, CR_EXP)),
    Theorem("round_exp_neg_eq_one_iff", "Log1pForm", "x ∈ F, x ≥ 0: rnd(e^−x) = 1 ⇔ x ≤ 2^(−p−1)",
            tuple(GENERIC_HYPOTHESES) + ("exp correctly rounded",)),
    Theorem("top_output_log1p_at_zero_eq_one_iff", "Log1pForm",
            "log1p form, top logit 0: top output rnd(exp(rnd(0 − rnd(0 + rnd(log1p r))))) = 1 ⇔ r ≤ 2^(−p−1) "
            "(r ∈ F, r ≥ 0: half the division form's bound)", tuple(GENERIC_HYPOTHESES) + (LOG1P,)),
    Theorem("top_output_log1p_eq_one_iff", "Log1pForm",
            "log1p form, top logit x1 ∈ F, x1 ≥ 1/2: top output = 1 ⇔ lse = rnd(x1 + rnd(log1p r)) = x1",
            tuple(GENERIC_HYPOTHESES) + (LOG1P,)),
    Theorem("top_output_antitone", "Lemma22Rounded", "0 ≤ r ≤ r′ ⇒ rnd(1/rnd(1 + r′)) ≤ rnd(1/rnd(1 + r))",
            tuple(GENERIC_HYPOTHESES)),
    Theorem("lemma_2_2_rounded_no_increase", "Lemma22Rounded",
            "Lemma 2.2 rounded, two classes: d ≤ d′ ⇒ l1 = top(rnd(e^rnd(d′))) ≤ p1 = top(rnd(e^rnd(d)))",
            tuple(GENERIC_HYPOTHESES) + (CR_EXP, LEMMA_2_2_ROUNDED)),
    Theorem("lemma_2_2_rounded_equal_once_one", "Lemma22Rounded",
            "Lemma 2.2 rounded: d ≤ d′ and l1 = 1 ⇒ p1 = 1, so l1 < p1 fails once saturated (and raising the top "
            "logit never lowers a top output that is 1)", tuple(GENERIC_HYPOTHESES) + (CR_EXP, LEMMA_2_2_ROUNDED)),
    Theorem("lemma_2_2_rounded_drops_before_one", "Lemma22Rounded",
            "p ≥ 5: logits (2, 0) raised by (1, 2.5): p1 < 1 and l1 < p1 (before saturation it does drop)",
            tuple(GENERIC_HYPOTHESES) + (CR_EXP, "p ≥ 5")),
    Theorem("ieee_raise_top_keeps_one", "Lemma22IEEE",
            "IEEE 754, x2 ≤ x1 ≤ y1 finite, no overflow in x2 − x1: top output 1 at (x1, x2) ⇒ 1 at (y1, x2), "
            "whether y1 − x2 overflows or not (raising the top logit never lowers a top output that is 1)",
            IEEE + ("prec ≥ 2, emax ≥ 4",)),
    Theorem("binary32_lemma_2_2_both_one", "Lemma22IEEE",
            "IEEE binary32, logits (30, 0) raised by (1, 1.1) to (31, 1.1f): both top outputs are exactly 1, so the "
            "paper's l1 < p1 fails", IEEE),
    Theorem("top_rivals_first_eq_one_iff", "MClassesOtherOrders",
            "M classes summed rivals first (S := rnd(… rnd(r_1 + r_2) … + r_n), then s := rnd(S + 1)): "
            "rnd(1/s) = 1 ⇔ S ≤ 2^−p (the bound on the rivals' rounded sum, not on each term)",
            tuple(GENERIC_HYPOTHESES) + ("r_j ≥ 0 the rivals' rounded exponentials, any M",)),
    Theorem("rivals_first_one_implies_top_first_one", "MClassesOtherOrders",
            "rivals first saturated ⇒ every r_j ≤ 2^−p and the top-first sum saturated too (rivals first never "
            "saturates earlier)", tuple(GENERIC_HYPOTHESES) + ("r_j ∈ F, r_j ≥ 0",)),
    Theorem("tree_top_eq_one_iff", "MClassesOtherOrders",
            "any summation tree (pairwise, lanes) with the top class's 1 as a leaf: rnd(1/s) = 1 ⇔ its rounded "
            "sum s = 1", tuple(GENERIC_HYPOTHESES) + ("leaves ∈ F, ≥ 0",)),
    Theorem("tree_node_one_iff", "MClassesOtherOrders",
            "a tree node whose left part holds the 1 (pairwise, top class in column 0): sum = 1 ⇔ the left part "
            "sums to 1 and the right part's rivals to at most 2^−p (each of them ≤ 2^−p)",
            tuple(GENERIC_HYPOTHESES) + ("leaves ∈ F, ≥ 0",)),
    Theorem("top_one_iff_gap_ge", "ThresholdClosedForm",
            "closed form: two classes, top output = 1 ⇔ g ≥ T* = −ln(2^−p + 2^(max(1 − 2p, emin) − 1)) "
            "(the tie e^−g = that midpoint rounds to the even 2^−p)", tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
    Theorem("format_threshold_of_closed_form", "ThresholdClosedForm",
            "a format value G with pred(G) < T* ≤ G: top output 1 for every g ≥ G and < 1 at pred(G) (what each "
            "Thresholds.v states)", tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
    Theorem("window_closed_form", "SumAboveOneWindow",
            "∀ g ≥ 0: top output 1 and other output ≠ 0 ⇔ T* ≤ g < T0* = −ln(2^emin/2) (the sum > 1 window in "
            "closed form)", tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
    Theorem("sum_above_one_closed_form", "SumAboveOneWindow",
            "∀ g ∈ [T*, T0*): the two rounded outputs sum to more than 1", tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
    Theorem("sum_above_one_on_format_window", "SumAboveOneWindow",
            "top output 1 from T on, T0 ∈ F with the other output ≠ 0 at pred(T0) (the per-format theorems) ⇒ on "
            "every format gap g ∈ [T, T0) the top output is 1, the other is r and they sum to more than 1 "
            "(precision.emulated.thresholds.sum_exceeds_one)", tuple(GENERIC_HYPOTHESES) + (CR_EXP,)),
]

# --- kernels whose exp is within k ulps: the interval of possible thresholds -----------------------------------
KERNEL_FILE = "KernelThresholds"
KERNEL_K = tuple(k for k in PROVED_K if k != Fraction(1, 2))  # k = 1/2 is the threshold files' correctly rounded exp


def _k_ident(k: Fraction) -> str:
    return f"k{k.numerator}" if k.denominator == 1 else f"k{k.numerator}_{k.denominator}"


def _k_real(k: Fraction) -> str:
    return f"(IZR {k.numerator})" if k.denominator == 1 else f"(IZR {k.numerator} / IZR {k.denominator})"


def kernel_file(formats=PROVED_FORMATS, ks=KERNEL_K, hi_offset: int = 0, lo_offset: int = 0) -> str:
    """The Coq file of the k-ulp intervals: per format and k, "for every gap g ≥ T_hi(k) and every r of the format
    within k ulps of exp(−g), the top output is exactly 1" and "for every gap g ≤ pred(T_lo(k)) and every r within
    k ulps, it is below 1", the ends from `precision.emulated.exp_error.interval`. An offset of −1 moves T_hi one
    value down (+1 moves T_lo one value up): a file Coq must reject."""
    lines = generated_header(
        ["(** Generated by proofs/checkers/coq.py from precision.emulated.exp_error.interval(fmt, k):",
         "    do not edit; regenerate. Flocq format: radix 2, FLT_exp emin p, round to nearest even. *)"],
        "RoundOnePlus TopOutputTwoClass KernelExpError")
    for fmt in formats:
        name = _ident(fmt)
        p, emin = flocq_parameters(fmt)
        hyps = f"{p}%Z {_z(emin)} {name}_kHp {name}_kHemin"
        F = f"generic_format radix2 (FLT_exp {_z(emin)} {p}%Z)"
        ulp = f"ulp radix2 (FLT_exp {_z(emin)} {p}%Z)"
        top = f"top_output {p}%Z {_z(emin)}"
        lines += format_hypotheses(fmt, p, emin, "k")
        for k in ks:
            iv = kernel_interval(fmt, Fraction(k))
            hi, lo = iv.hi, iv.lo
            for _ in range(-hi_offset):
                hi = predecessor(hi, p, emin)
            for _ in range(lo_offset):
                lo = successor(lo, p, emin)
            kn, kr = f"{name}_{_k_ident(iv.k)}", _k_real(iv.k)
            with mpmath.workprec(max(400, 4 * p)):
                b = mpmath.mpf(2) ** -p
                x = mpmath.exp(-mpmath.mpf(hi.numerator) / hi.denominator)
                e = binade(x)
                u = max(e - p, emin)
                kk = mpmath.mpf(iv.k.numerator) / iv.k.denominator
                succ_b = b + mpmath.mpf(2) ** max(1 - 2 * p, emin)
                prec = max(_bits_needed(x + kk * mpmath.mpf(2) ** u, succ_b), _bits_needed(x, mpmath.mpf(2) ** e),
                           _bits_needed(x, mpmath.mpf(2) ** (e - 1)))
            m, me = normalized(hi, p)
            G = f"{kn}_gap_hi"
            lines += [f"(** k = {iv.k} ulps: T_hi = {float(hi)!r} = {hi.numerator}/{hi.denominator}"
                      + (f" (moved {hi_offset} value(s) from the computed end)" if hi_offset else "")
                      + f"; exp(-T_hi) in [2^{e - 1}, 2^{e}), ulp 2^{u}. *)",
                      f"Definition {G} : R := {_real(m, me)}.", "",
                      f"Theorem {kn}_top_is_one_from_gap :",
                      f"  forall g r, {G} <= g -> {F} r -> 0 <= r ->",
                      f"  Rabs (r - exp (- g)) <= {kr} * {ulp} (exp (- g)) ->",
                      f"  {top} r = 1.",
                      "Proof.",
                      f"  apply (kernel_top_one_from_gap_of_bound {hyps} {kr} {G} {_z(e)} {_z(e - 1)} {_z(u)} "
                      f"{_z(max(1 - 2 * p, emin))});",
                      f"    [lra | reflexivity | reflexivity | reflexivity | unfold {G}; split | unfold {G}].",
                      f"  - interval with (i_prec {prec}).",
                      f"  - interval with (i_prec {prec}).",
                      f"  - interval with (i_prec {prec}).",
                      "Qed.", ""]
            if lo == 0:
                continue  # nothing is proved below: every gap may already give 1
            below = predecessor(lo, p, emin)
            with mpmath.workprec(max(400, 4 * p)):
                x = mpmath.exp(-mpmath.mpf(below.numerator) / below.denominator)
                e = binade(x)
                u = max(e - p, emin)
                prec = max(_bits_needed(x - kk * mpmath.mpf(2) ** u, b), _bits_needed(x, mpmath.mpf(2) ** e),
                           _bits_needed(x, mpmath.mpf(2) ** (e - 1)))
            m, me = normalized(below, p)
            L = f"{kn}_gap_lo_pred"
            lines += [f"(** k = {iv.k} ulps: T_lo = {float(lo)!r}"
                      + (f" (moved {lo_offset} value(s) from the computed end)" if lo_offset else "")
                      + f"; its predecessor {float(below)!r}: exp(-pred T_lo) in [2^{e - 1}, 2^{e}), ulp 2^{u}. *)",
                      f"Definition {L} : R := {_real(m, me)}.", "",
                      f"Theorem {kn}_top_below_one_below_gap :",
                      f"  forall g r, g <= {L} -> Rabs (r - exp (- g)) <= {kr} * {ulp} (exp (- g)) ->",
                      f"  {top} r < 1.",
                      "Proof.",
                      f"  apply (kernel_top_below_one_of_bound {hyps} {kr} {L} {_z(e)} {_z(e - 1)} {_z(u)} "
                      f"{_z(1 - p)});",
                      f"    [lra | reflexivity | interval | lia | reflexivity | reflexivity | unfold {L}; split "
                      f"| unfold {L} | interval].",
                      f"  - interval with (i_prec {prec}).",
                      f"  - interval with (i_prec {prec}).",
                      f"  - interval with (i_prec {prec}).",
                      "Qed.", ""]
    return "\n".join(lines) + "\n"


def kernel_theorems(formats=PROVED_FORMATS, ks=KERNEL_K) -> list[Theorem]:
    """The main theorems of the generated k-ulp file, with the interval ends they state."""
    out = []
    for fmt in formats:
        p, emin = flocq_parameters(fmt)
        for k in ks:
            iv = kernel_interval(fmt, Fraction(k))
            kn = f"{_ident(fmt)}_{_k_ident(iv.k)}"
            h = (f"{fmt} as Flocq FLT_exp ({emin}) {p}, round to nearest even",
                 f"the kernel's exp: any value r of the format with |r − e^−g| ≤ {iv.k}·ulp(e^−g)",
                 "ends from precision.emulated.exp_error.interval(fmt, k)")
            P, E, kr = f"{p}%Z", _z(emin), _k_real(iv.k)
            within = f"Rabs (r - exp (- g)) <= {kr} * ulp {P} {E} (exp (- g))"  # the spec's words
            out.append(Theorem(f"{kn}_top_is_one_from_gap", KERNEL_FILE,
                               f"{fmt}, exp within {iv.k} ulp: ∀ g ≥ T_hi = {float(iv.hi)!r}: top output exactly 1",
                               h, (), f"forall g r, {_real(*normalized(iv.hi, p))} <= g -> F {P} {E} r -> 0 <= r -> "
                                      f"{within} -> top {P} {E} r = 1"))
            if iv.lo:
                below = _real(*normalized(predecessor(iv.lo, p, emin), p))
                out.append(Theorem(f"{kn}_top_below_one_below_gap", KERNEL_FILE,
                                   f"{fmt}, exp within {iv.k} ulp: ∀ g ≤ pred(T_lo), T_lo = {float(iv.lo)!r}: "
                                   "top output < 1", h, (),
                                   f"forall g r, g <= {below} -> {within} -> top {P} {E} r < 1"))
    return out
