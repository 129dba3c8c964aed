"""Every cited Coq theorem is pinned to its statement (proofs/coq/Spec.v, and the generated SpecFormats.v): a mutant
that replaces a statement by `True`, adds a `False` hypothesis (or a section's `Hypothesis cheat : False`), weakens it,
or changes a definition it unfolds to is rejected by the pin, which names it.

Mutants are compiled with `coqc -vos` (statements elaborated, proofs skipped: a pin is a type check, which no proof
affects) against the .vo of the session's full build, the mutated file and a pin file of its theorems only, so one
mutant costs two short coqc runs. The full sweep is marked slow; a sample of every kind runs always.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from proofs.checkers import coq, coq_spec
from proofs.checkers.coq_build import LOGICAL, SOURCE

SPEC = (SOURCE / f"{coq_spec.SPEC}.v").read_text()
PINNED = coq_spec.pins(SPEC)
_DECL = r"(Theorem|Corollary|Lemma)\s+{name}\s*:(.*?)\.\s*\n(\s*Proof\b.*?\bQed\.)"
# One weakening per theorem: (text of its statement, replacement), the last occurrence replaced.
WEAKEN = {
    "round_one_plus_eq_one_iff": ("<->", "->"),
    "top_output_eq_one_iff": ("<->", "->"),
    "top_output_le_one": ("0 <= r ->", "0 <= r -> r <= 1 ->"),
    "top_one_iff_rounded_exp_le": ("<->", "->"),
    "top_one_stays_one": ("g <= g' ->", "g <= g' -> 0 <= g ->"),
    "top_one_stays_one_any_exp": ("g <= g' ->", "g <= g' -> 0 <= g ->"),
    "other_zero_iff_rounded_exp_zero": ("<->", "->"),
    "outputs_sum_above_one": ("/\\", "\\/"),
    "top_output_recip_eq": ("= top_output r", "<= top_output r"),
    "other_output_recip_eq_zero_iff": ("<->", "->"),
    "other_recip_zero_iff_rounded_exp_zero": ("<->", "->"),
    "sum_above_one_window_exists": ("0 <= g /\\", "0 <= g \\/"),
    "top_output_m_eq_one_iff": ("<->", "->"),
    "top_output_m_le_one": ("Forall (fun r => 0 <= r) rs ->", "Forall (fun r => 0 <= r <= 1) rs ->"),
    "top_m_one_from_two_class_threshold": ("= 1", "<= 1"),
    "others_m_zero_from_two_class_threshold": ("Forall (fun g => T0 <= g) gs", "Forall (fun g => T0 + 1 <= g) gs"),
    "kernel_top_one_from_gap_of_bound": ("top r = 1", "top r <= 1"),
    "kernel_top_below_one_of_bound": ("top r < 1", "top r <= 1"),
    "lemma_2_2_corrected": ("<->", "->"),
    "lemma_2_2_two_classes": ("<->", "->"),
    "lemma_2_2_as_written_is_false": ("~ lemma_2_2_as_written", "~ (lemma_2_2_as_written /\\ 0 = 1)"),
    "lemma_2_1_delta_grid_paper_rule": ("u1 <= v1 ->", "u1 <= v1 -> v1 <= u1 + 1 ->"),
    "lemma_2_1_delta_grid_nearest": ("u1 <= v1 ->", "u1 <= v1 -> v1 <= u1 + 1 ->"),
    "fp8_offset_no_clip": ("d <= tau ->", "d <= tau -> 0 <= d ->"),
    "fp8_offset_clips": ("log2 M < offset + tau", "log2 M + 1 < offset + tau"),
    "e4m3_offset8_tau4_clips": ("d <= 4", "d <= 5"),
    "kernel_overflow_one_zero": ("= 1 /\\", "<= 1 /\\"),
    "kernel_no_inf_overflow_nan": ("/\\", "\\/"),
    "kernel_is_flt_model": ("/\\", "\\/"),
    "ieee_top_one_iff": ("<->", "->"),
    "binary16_overflow_gives_one_zero": ("/\\", "\\/"),
    "e4m3_no_inf_overflow_gives_nan": ("/\\", "\\/"),
    "log1p_logprob_eq_zero_iff": ("<->", "->"),
    "log1p_logprob_zero_iff_exp_le": ("bpow radix2 emin / 2", "bpow radix2 emin"),
    "log1p_logprob_zero_iff_other_zero": ("<->", "->"),
    "round_exp_neg_eq_one_iff": ("x <= h", "x <= b"),
    "top_output_log1p_at_zero_eq_one_iff": ("r <= h", "r <= b"),
    "top_output_log1p_eq_one_iff": ("/ 2 <= x1", "1 <= x1"),
    "top_output_antitone": ("0 <= r <= r' ->", "0 <= r <= r' -> r' <= 1 ->"),
    "lemma_2_2_rounded_no_increase": ("d <= d'", "d + 1 <= d'"),
    "lemma_2_2_rounded_equal_once_one": ("d <= d'", "d + 1 <= d'"),
    "lemma_2_2_rounded_drops_before_one": ("(5 <= p)%Z", "(6 <= p)%Z"),
    "binary32_lemma_2_2_both_one": ("/\\", "\\/"),
    "ieee_raise_top_keeps_one": ("B2R x1 <= B2R y1 ->", "B2R x1 <= B2R y1 <= B2R x1 + 1 ->"),
    "top_rivals_first_eq_one_iff": ("<->", "->"),
    "rivals_first_one_implies_top_first_one": ("/\\", "\\/"),
    "tree_top_eq_one_iff": ("<->", "->"),
    "tree_node_one_iff": ("tree_sum r <= b", "tree_sum r <= 2 * b"),
    "top_one_iff_gap_ge": ("emin - 1)) <= g", "emin - 2)) <= g"),
    "format_threshold_of_closed_form": ("pred G <", "pred G <="),
    "window_closed_form": ("g < - ln", "g <= - ln"),
    "sum_above_one_closed_form": ("> 1", ">= 1"),
    "sum_above_one_on_format_window": ("T <= g < T0", "T <= g <= T0"),
} | {name: ("<->", "->") for name in (  # RoundOnePlusModes: each mode's iff made one-way
    "round_NA_one_plus_eq_one_iff", "round_DN_one_plus_eq_one_iff", "round_ZR_one_plus_eq_one_iff",
    "round_UP_one_plus_eq_one_iff", "round_odd_one_plus_eq_one_iff", "round_NE_one_minus_eq_one_iff",
    "round_NA_one_minus_eq_one_iff", "round_UP_one_minus_eq_one_iff", "round_DN_one_minus_eq_one_iff",
    "round_ZR_one_minus_eq_one_iff", "round_odd_one_minus_eq_one_iff", "round_NE_eq_zero_iff",
    "round_NA_eq_zero_iff", "round_DN_eq_zero_iff", "round_ZR_eq_zero_iff",
    "round_UP_eq_zero_iff", "round_odd_eq_zero_iff", "top_output_NE_eq_one_iff",
    "top_output_NA_eq_one_iff", "top_output_DN_eq_one_iff", "top_output_ZR_eq_one_iff",
    "top_output_UP_eq_one_iff", "top_output_odd_eq_one_iff",)}
# Definitions a pin unfolds: changed, every theorem stated with them must fail (file, old, new, a theorem).
DEFINITIONS = [
    ("TopOutputTwoClass", "(1 / round radix2 (FLT_exp emin p) ZnearestE (1 + r))",
     "(1 / round radix2 (FLT_exp emin p) ZnearestE (1 + r / 2))", "top_output_eq_one_iff"),
    ("Lemma22Reals", "v2 > v1 -> v1 > 0 ->", "v2 > v1 -> v1 > 1 ->", "lemma_2_2_as_written_is_false"),
    ("IEEESoftmax", "let s := Bplus mode_NE Bone r in\n  (Bdiv mode_NE Bone s, Bdiv mode_NE r s).",
     "let s := Bplus mode_NE Bone r in\n  (Bdiv mode_NE Bone s, Bdiv mode_NE Bone s).", "kernel_overflow_one_zero"),
    ("IEEESoftmax", "(4 <= emax)%Z", "(5 <= emax)%Z", "kernel_is_flt_model"),
]


def _source_of(name: str) -> str:
    """The hand-written file that proves `name`."""
    for f in SOURCE.glob("*.v"):
        if re.search(_DECL.format(name=name), f.read_text(), re.S) and f.stem != coq_spec.SPEC:
            return f.stem
    raise AssertionError(f"no file proves {name}")


def mutants(name: str, text: str) -> dict[str, str]:
    """The mutants of one theorem's file: {kind: mutated text}."""
    m = re.search(_DECL.format(name=name), text, re.S)
    assert m, name
    kw, stmt = m.group(1), m.group(2)

    def swap(statement: str, proof: str) -> str:
        return text[:m.start()] + f"{kw} {name} :{statement}.\n{proof}" + text[m.end():]
    out = {"True": swap(" True", "Proof. exact I. Qed."),
           "False hypothesis": swap(f" False -> {stmt.strip()}", "Proof. intros []. Qed.")}
    old, new = WEAKEN[name]
    assert old in stmt, (name, old)
    head, _, tail = stmt.rpartition(old)
    out["weakened"] = swap(head + new + tail, m.group(3).strip())
    if "Hypothesis Hemin" in text:  # a section: its Hypothesis becomes a premise of the theorems that use it
        cheat = swap(stmt, "Proof using Hp Hemin cheat. exfalso; exact cheat. Qed.")
        out["section Hypothesis cheat : False"] = re.sub(r"(Hypothesis Hemin[^\n]*\n)",
                                                         r"\1Hypothesis cheat : False.\n", cheat, count=1)
    return out


def _pin_file(module: str, names: list[str]) -> str:
    """Spec.v's header, importing `module` only, with the pins of `names`."""
    head = SPEC[:SPEC.index("Definition pin_")]
    head = re.sub(r"From SoftmaxSat Require Import[^.]*\.", f"From SoftmaxSat Require Import {module}.", head)
    body = [m.group(0) for m in re.finditer(r"^Definition pin_(\w+).*?:=\s*\w+\.", SPEC, re.S | re.M)
            if m.group(1) in names]
    return head + "\n\n".join(body) + "\n"


def _coqc_vos(folder: Path, name: str) -> subprocess.CompletedProcess:
    return subprocess.run([shutil.which("coqc"), "-vos", "-q", "-Q", ".", LOGICAL, f"{name}.v"], cwd=folder,
                          capture_output=True, text=True, timeout=300)


def _pins_reject(build: Path, tmp: Path, module: str, text: str, name: str) -> str:
    """Compile a mutated `module` and its pins against the build; the theorem the pin file's error names."""
    work = tmp / "work"
    shutil.copytree(build, work, ignore=shutil.ignore_patterns("*.glob", "*.out", "Assumptions*", "PinCheck*"))
    (work / f"{module}.v").write_text(text)
    r = _coqc_vos(work, module)
    assert r.returncode == 0, f"the mutant itself does not elaborate: {r.stderr}"
    names = [n for n in PINNED if _source_of(n) == module]
    pins = _pin_file(module, names)
    (work / "PinCheck.v").write_text(pins)
    r = _coqc_vos(work, "PinCheck")
    shutil.rmtree(work)
    return "" if r.returncode == 0 else (coq_spec.failed_pin(pins, r.stderr) or r.stderr)


def _all_mutants() -> list[tuple[str, str, str, str]]:
    """(theorem, module, kind, text) of every mutant of every pinned hand-written theorem."""
    out = []
    for name in PINNED:
        module = _source_of(name)
        out += [(name, module, kind, t) for kind, t in mutants(name, (SOURCE / f"{module}.v").read_text()).items()]
    for module, old, new, name in DEFINITIONS:
        text = (SOURCE / f"{module}.v").read_text()
        assert old in text
        out.append((name, module, "definition changed", text.replace(old, new)))
    return out


MUTANTS = _all_mutants()
SAMPLE = {("round_one_plus_eq_one_iff", "True"), ("top_output_le_one", "section Hypothesis cheat : False"),
          ("lemma_2_2_corrected", "False hypothesis"), ("top_m_one_from_two_class_threshold", "weakened"),
          ("top_output_eq_one_iff", "definition changed"), ("e4m3_no_inf_overflow_gives_nan", "weakened"),
          ("kernel_is_flt_model", "definition changed"), ("top_output_log1p_at_zero_eq_one_iff", "weakened")}


def test_every_cited_theorem_is_pinned():
    """The certificate's hand-written theorems and every Coq name the README's table cites have a pin (the
    per-format ones, `<fmt>_…`, are pinned by the generated SpecFormats.v)."""
    assert len(PINNED) >= 32 and not coq_spec.forbidden_commands(SPEC)
    cited = {t.name for t in coq.GENERIC_THEOREMS + coq.EXTRA_THEOREMS + coq.IEEE_THEOREMS + coq.ALGORITHM_THEOREMS}
    assert cited <= set(PINNED), cited - set(PINNED)
    readme = (SOURCE.parents[1] / "README.md").read_text()
    section = readme[readme.index("### Checked by Coq"):readme.index("## The attacks")]
    rows = [ln.split("|")[2] for ln in section.splitlines() if ln.startswith("| ") and ln.count("|") >= 4]
    names = {n.split(".")[-1] for row in rows[2:] for n in re.findall(r"`([^`]+)`", row)}
    assert len(names) >= 20
    assert {n for n in names if "<" not in n and not n.startswith("_")} - set(PINNED) == set()
    with pytest.raises(ValueError, match="pin_x is defined as y"):
        coq_spec.pins("Definition pin_x : True := y.")


def test_each_theorem_has_every_kind_of_mutant():
    kinds = {(n, k) for n, _, k, _ in MUTANTS}
    for name in PINNED:
        assert {(name, "True"), (name, "False hypothesis"), (name, "weakened")} <= kinds
    assert SAMPLE <= kinds
    print(f"{len(MUTANTS)} mutants of {len(PINNED)} pinned theorems")


@pytest.mark.parametrize("name,module,kind,text", [m for m in MUTANTS if (m[0], m[2]) in SAMPLE],
                         ids=lambda v: v if isinstance(v, str) and len(v) < 60 else "")
def test_a_sample_of_mutants_is_rejected_by_its_pin(coq_checked, tmp_path, name, module, kind, text):
    _, build, _ = coq_checked
    assert _pins_reject(build, tmp_path, module, (SOURCE / f"{module}.v").read_text(), name) == ""  # the original
    assert _pins_reject(build, tmp_path, module, text, name) == name, kind


@pytest.mark.slow
def test_every_mutant_is_rejected_by_its_pin(coq_checked, tmp_path):
    _, build, _ = coq_checked
    survivors = [(n, k, why) for n, module, k, text in MUTANTS
                 if (why := _pins_reject(build, tmp_path, module, text, n)) != n]
    print(f"{len(MUTANTS) - len(survivors)} of {len(MUTANTS)} mutants rejected, each by its theorem's pin")
    assert survivors == []


def test_generated_statements_are_pinned(coq_checked, tmp_path):
    """A per-format theorem's statement weakened, or its threshold redefined, in the generated file: the generated
    pin (written from the certificate's own statement, not the file's) rejects it."""
    result, build, _ = coq_checked
    assert result.ok, result.note
    t = coq.format_thresholds("float32")
    ths = {th.name: th.coq for th in coq.format_theorems(t)}
    text = coq.threshold_file("float32", thresholds=t)
    weakened = text.replace("(exp (- g))) = 1.", "(exp (- g))) <= 1.", 1)
    moved = re.sub(r"(Definition float32_top_gap : R := \(IZR )(\d+)", lambda g: g.group(1) + str(int(g.group(2)) + 2),
                   text, count=1)
    assert moved != text
    for mutant in (text, weakened, moved):
        work = tmp_path / "work"
        shutil.copytree(build, work, ignore=shutil.ignore_patterns("*.glob", "*.out"))
        (work / "Thresholds_float32.v").write_text(mutant)
        assert _coqc_vos(work, "Thresholds_float32").returncode == 0
        pins = coq_spec.spec_formats_file(ths, ["Thresholds_float32"])
        (work / "PinCheck.v").write_text(pins)
        r = _coqc_vos(work, "PinCheck")
        shutil.rmtree(work)
        if mutant is text:
            assert r.returncode == 0, r.stderr
        else:
            assert coq_spec.failed_pin(pins, r.stderr) == "float32_top_is_one_from_gap", r.stderr


def test_forbidden_commands():
    assert coq_spec.forbidden_commands("Lemma x : True. Proof. Admitted.") == ["Admitted"]
    assert coq_spec.forbidden_commands("(* Admitted *) Axiom foo : False.") == ["Axiom"]
    assert coq_spec.forbidden_commands("Hypothesis cheat : False.") == ["Hypothesis outside a section"]
    assert coq_spec.forbidden_commands("Section S.\nHypothesis cheat : False.\nEnd S.\n") == []
    assert coq_spec.forbidden_commands("Parameter x : nat.\nUnset Guard Checking.") == [
        "Parameter", "Unset Guard Checking"]
    assert coq_spec.forbidden_commands("Local Axiom x : False.") == ["Axiom"]
