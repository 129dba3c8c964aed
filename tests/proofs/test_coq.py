"""The Coq development checks, every main theorem rests only on the reals' standard axioms (and the primitive
integers and floats Interval computes with), listed per theorem, coqchk accepts every module, and a threshold moved
one value down is rejected by Coq (not vacuous)."""
import re
import shutil
import subprocess
from fractions import Fraction

import pytest

from precision.emulated.exp_error import threshold_interval
from proofs.checkers import coq, coq_build, coq_jobs, coq_spec

needs_coq = pytest.mark.skipif(coq_build.coqc() is None, reason=coq.INSTALL_HINT)


def test_normalized_and_predecessor():
    assert coq.normalized(Fraction(2), 3) == (4, -1)
    assert coq.predecessor(Fraction(2), 3, -16) == Fraction(7, 4)  # e5m2: below a power of two
    assert coq.predecessor(Fraction(11, 4), 4, -9) == Fraction(5, 2)  # e4m3fn


def test_generated_file_uses_the_projects_thresholds():
    t = coq.format_thresholds("float32")
    text = coq.threshold_file("float32", thresholds=t)
    m, e = coq.normalized(t.top_is_one_from_gap, 24)
    assert f"IZR {m} * bpow radix2 ({e})%Z" in text
    assert coq.threshold_file("float32", thresholds=t) == text  # deterministic
    assert not coq_spec.forbidden_commands(text)


def test_assumption_parsing():
    out = "Axioms:\nClassical_Prop.classic : forall P : Prop, P \\/ ~ P\nSoftmaxSat.X.bad\n  : False\n"
    assert coq_build.parse_assumptions(out) == ["Classical_Prop.classic", "SoftmaxSat.X.bad"]
    assert coq_build.parse_assumptions("Closed under the global context\n") == []
    assert coq.allowed("Classical_Prop.classic") and coq.allowed("Uint63.add_spec")
    assert not coq.allowed("SoftmaxSat.X.bad") and not coq.allowed("Rdefinitions.my_axiom")


@needs_coq
def test_the_development_checks(coq_checked):
    result, _, seconds = coq_checked
    assert result.status == "checked", result.note
    assert all(f.ok for f in result.files)
    names = {t.name for t in result.theorems}
    for fmt in ("float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2"):
        assert f"{fmt}_top_is_one_from_gap" in names and f"{fmt}_others_zero_from_gap" in names
    assert "round_one_plus_eq_one_iff" in names and "top_one_stays_one" in names
    assert {"Spec", "SpecFormats", "coqchk"} <= {f.name for f in result.files}
    assert all(t.pinned for t in result.theorems)
    print(f"Coq development checked in {seconds:.1f} s: " + ", ".join(f"{f.name} {f.seconds:.1f}"
                                                                      for f in result.files))


@needs_coq
def test_only_standard_axioms_listed_per_theorem(coq_checked):
    result, _, _ = coq_checked
    for t in result.theorems:
        assert t.assumptions, f"{t.name}: no Print Assumptions recorded"
        assert all(coq.allowed(a) for a in t.assumptions), (t.name, t.assumptions)
        assert not any(a.startswith("SoftmaxSat") for a in t.assumptions)
    by_name = {t.name: t for t in result.theorems}
    alone = by_name["lemma_2_2_corrected"]  # the reals only, not its file neighbour's Interval primitives
    assert alone.assumptions_of == coq_build.PRINTED_ALONE and len(alone.assumptions) <= 4
    assert not any(a.startswith(coq.PRIMITIVE_MODULES) for a in alone.assumptions)
    assert not any(a.startswith(coq.PRIMITIVE_MODULES) for t in result.theorems if not t.file.startswith(
        tuple(coq_build.GENERATED_FILES)) for a in t.assumptions)  # `interval` only in the generated files
    assert any(a.startswith(coq.PRIMITIVE_MODULES) for a in by_name["float32_top_is_one_from_gap"].assumptions)
    every = {a for t in result.theorems for a in t.assumptions}
    assert every <= coq.REAL_AXIOMS | {a for a in every if a.startswith(coq.PRIMITIVE_MODULES)}


@needs_coq
def test_the_readmes_axiom_list_is_what_coq_prints(coq_checked):
    """README's list of axioms is complete and exact: the union of every theorem's `Print Assumptions`."""
    result, _, _ = coq_checked
    readme = (coq_build.SOURCE.parents[1] / "README.md").read_text()
    section = readme[readme.index("**Axioms, per theorem.**"):readme.index("Time to check everything")]
    listed = set(re.findall(r"`((?:ClassicalDedekindReals|FunctionalExtensionality|Classical_Prop|PrimInt63|Uint63|"
                            r"PrimFloat|FloatAxioms)\.\w+)`", section))
    assert {a for t in result.theorems for a in t.assumptions} == listed
    ieee = [t for t in result.theorems if t.file == "IEEESoftmax"]
    assert len(ieee) == 6 and all(set(t.assumptions) <= coq.REAL_AXIOMS for t in ieee)


@needs_coq
@pytest.mark.skipif(shutil.which("coq_makefile") is None or shutil.which("make") is None, reason="no coq_makefile")
def test_the_hand_written_development_builds_with_coq_makefile(tmp_path):
    """proofs/coq alone, as a Coq user builds it: coq_makefile from its _CoqProject, then make (Spec.v included)."""
    src = tmp_path / "coq"
    shutil.copytree(coq_build.SOURCE, src)
    subprocess.run(["coq_makefile", "-f", "_CoqProject", "-o", "CoqMakefile"], cwd=src, check=True,
                   capture_output=True)
    r = subprocess.run(["make", "-f", "CoqMakefile", "-j2"], cwd=src, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert {f"{n}.vo" for n in coq_build.generic_files()} <= {p.name for p in src.glob("*.vo")}


@needs_coq
def test_coqchk_accepts_every_module(coq_checked):
    """The check ran coqchk on every module it compiled (one of its jobs), and coqchk can fail."""
    result, build, _ = coq_checked
    (chk,) = [f for f in result.files if f.name == "coqchk"]
    assert chk.ok and chk.cpu > 0, chk.error
    assert not coq_build.coqchk(build, ["NoSuchModule"]).ok


def _coqc(build, name, text):
    (build / f"{name}.v").write_text(text)
    return subprocess.run([shutil.which("coqc"), "-q", "-Q", ".", coq_build.LOGICAL, f"{name}.v"], cwd=build,
                          capture_output=True, text=True, timeout=300)


@needs_coq
@pytest.mark.parametrize("moved", ["top", "others"])
def test_moved_threshold_is_rejected(coq_checked, moved):
    """float32 with T (or the others-zero gap) replaced by its predecessor: coqc must refuse the file."""
    result, build, _ = coq_checked
    assert result.ok, result.note
    offsets = {"top_offset": -1} if moved == "top" else {"others_offset": -1}
    text = coq.threshold_file("float32", **offsets)
    name = f"Thresholds_float32_moved_{moved}"
    r = _coqc(build, name, text.replace("Thresholds_float32", name))
    assert r.returncode != 0, f"Coq accepted a threshold one value too low ({moved})"
    thm = "float32_top_is_one_from_gap" if moved == "top" else "float32_others_zero_from_gap"
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith(f"Theorem {thm}"))
    failing = int(r.stderr.split("line ")[1].split(",")[0]) if "line " in r.stderr else -1
    assert failing > line, r.stderr  # it is that theorem's bound on exp that fails, not a typo
    assert "Numerical evaluation failed" in r.stderr or "interval" in r.stderr.lower(), r.stderr


@needs_coq
def test_kernel_intervals_are_proved(coq_checked):
    result, _, _ = coq_checked
    names = {t.name for t in result.theorems}
    for fmt in coq.PROVED_FORMATS:  # float16, bfloat16, float32, float64, float8 e4m3fn and e5m2
        for k in ("k1", "k2"):
            assert f"{fmt}_{k}_top_is_one_from_gap" in names and f"{fmt}_{k}_top_below_one_below_gap" in names
    assert "kernel_top_one_from_gap_of_bound" in names and "kernel_top_below_one_of_bound" in names
    assert "top_output_m_eq_one_iff" in names and "top_m_one_from_two_class_threshold" in names
    assert any(f.name == coq.KERNEL_FILE and f.ok for f in result.files)


@needs_coq
@pytest.mark.parametrize("moved", ["hi", "lo"])
def test_moved_kernel_interval_end_is_rejected(coq_checked, moved):
    """T_hi(k) one value down, or T_lo(k) one value up (float32, k = 1 and 2): coqc must refuse the file."""
    result, build, _ = coq_checked
    assert result.ok, result.note
    offsets = {"hi_offset": -1} if moved == "hi" else {"lo_offset": 1}
    for k in coq.KERNEL_K:
        text = coq.kernel_file(("float32",), (k,), **offsets)
        name = f"KernelThresholds_moved_{moved}"
        r = _coqc(build, name, text)
        assert r.returncode != 0, f"Coq accepted a k = {k} interval end moved one value inwards ({moved})"
        thm = "top_is_one_from_gap" if moved == "hi" else "top_below_one_below_gap"
        line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("Theorem ") and thm in ln)
        failing = int(r.stderr.split("line ")[1].split(",")[0]) if "line " in r.stderr else -1
        assert failing > line, r.stderr
        assert "Numerical evaluation failed" in r.stderr or "interval" in r.stderr.lower(), r.stderr
        assert not coq_spec.forbidden_commands(coq.kernel_file(("float32",), (k,)))


@needs_coq
def test_admitted_is_refused(tmp_path):
    """A file that assumes is refused before coqc runs (check's per-file job), with the reason; it stops the rest."""
    (tmp_path / "Cheat.v").write_text("Lemma cheat : 1 = 2. Proof. Admitted.\n")
    (tmp_path / "Fine.v").write_text("Lemma fine : 1 = 1. Proof. reflexivity. Qed.\n")
    exe = coq_build.coqc()
    done = coq_jobs.run([coq_build._compile_job(exe, tmp_path, n, ["Cheat", "Fine"]) for n in ("Cheat", "Fine")],
                        tmp_path, workers=1)
    assert not done["Cheat"].ok and done["Cheat"].output == "forbidden: Admitted"
    assert "Fine" not in done or done["Fine"].ok
    done = coq_jobs.run([coq_build._compile_job(exe, tmp_path, "Fine", ["Fine"])], tmp_path)
    assert done["Fine"].ok and (tmp_path / "Fine.vo").exists() and done["Fine"].cpu > 0


@pytest.mark.parametrize("required", ["no", "flag", "env"])
def test_prove_says_coq_skipped_loudly_and_fails_when_required(tmp_path, monkeypatch, capsys, required):
    """Without coqc the Coq part is reported as skipped (with how to install it), never as passed; with
    --require-coq or SOFTMAX_SAT_REQUIRE_COQ=1 (as CI sets it) `prove` exits 1."""
    import json

    from proofs import cli

    monkeypatch.setattr(coq_build, "coqc", lambda: None)
    monkeypatch.setattr(cli, "all_proofs", lambda: [])  # the kernel's proofs are tested in test_kernel.py
    monkeypatch.delenv(cli.REQUIRE_COQ, raising=False)
    if required == "env":
        monkeypatch.setenv(cli.REQUIRE_COQ, "1")

    class Args:
        out = tmp_path
        coq = True
        require_coq = required == "flag"
        coq_build = None
    assert cli.run_prove(Args()) == (0 if required == "no" else 1)
    err = capsys.readouterr().err
    assert "COQ PART SKIPPED" in err and "apt-get install coq" in err
    assert ("required" in err) == (required != "no")
    records = json.loads((tmp_path / "certificate.json").read_text())
    assert [r["verdict"] for r in records] == ["skipped"]
    assert records[0]["evidence"][0]["status"] == "skipped"


def test_require_coq_with_no_coq_is_refused(tmp_path):
    from softmax_sat import main
    assert main(["prove", "--no-coq", "--require-coq", "--out", str(tmp_path)]) == 2


@needs_coq
def test_certificate_names_the_checker(coq_checked):
    from proofs.certificates import coq_records, markdown
    result, _, _ = coq_checked
    records = coq_records(result)
    assert {r["lemma"] for r in records} == {"2.1", "2.2"} and all(r["checks"] for r in records)
    for r in records:
        for e in r["evidence"]:
            assert e["kind"] == "coq" and e["checker"].startswith("Coq ") and e["inputs"]["axioms"]
            assert e["inputs"]["coq_name"].startswith("SoftmaxSat.") and e["inputs"]["coq_statement"]
            assert e["inputs"]["axioms_of"] and "pinned" in e["detail"]
    assert "Checked by Coq" in markdown(records)


@needs_coq
def test_prove_fails_naming_a_swapped_statement(tmp_path, monkeypatch, capsys):
    """The whole pipeline on a development whose e4m3_offset8_tau4_clips was replaced by True under the same name
    (a full proof, so coqc accepts the file): `prove` exits 1 and names the theorem."""
    from proofs import cli
    source = tmp_path / "coq"
    shutil.copytree(coq_build.SOURCE, source)
    f = source / "OnlineFp8Offset.v"
    text = f.read_text()
    start = text.index("Corollary e4m3_offset8_tau4_clips")
    f.write_text(text[:start] + "Corollary e4m3_offset8_tau4_clips : True.\nProof. exact I. Qed.\n")
    monkeypatch.setattr(coq_build, "SOURCE", source)
    check = coq_build.check
    monkeypatch.setattr(coq_build, "check", lambda build_dir: check(formats=(), kernel_formats=(), mode_formats=(),
                                                                    witness_formats=(), build_dir=build_dir))
    monkeypatch.setattr(cli, "all_proofs", lambda: [])
    monkeypatch.delenv(cli.REQUIRE_COQ, raising=False)

    class Args:
        out = tmp_path / "out"
        coq = True
        require_coq = False
        coq_build = None
    assert cli.run_prove(Args()) == 1
    err = capsys.readouterr().err
    assert "Spec.v rejects e4m3_offset8_tau4_clips: its statement is not the pinned one" in err, err


@pytest.mark.parametrize("fmt", ["float16", "bfloat16", "float32", "float8_e4m3fn", "float8_e5m2"])
def test_kernel_threshold_interval(fmt):
    """k = 1/2 ulp (correct rounding) pins the project's threshold; the interval only widens as k grows."""
    T = coq.format_thresholds(fmt).top_is_one_from_gap
    assert threshold_interval(fmt, Fraction(1, 2)) == (T, T)
    previous = (T, T)
    for k in (1, 2, 4):
        lo, hi = threshold_interval(fmt, k)
        assert lo <= previous[0] <= T <= previous[1] <= hi
        previous = (lo, hi)


def test_every_coq_theorem_lands_in_the_certificate():
    """Each main theorem the runner checks belongs to a certificate group (none is checked and then dropped)."""
    from proofs.certificates import COQ_GROUPS
    from proofs.checkers.coq import (
        ALGORITHM_THEOREMS,
        EXTRA_THEOREMS,
        GENERIC_THEOREMS,
        IEEE_THEOREMS,
        format_theorems,
        format_thresholds,
        kernel_theorems,
    )
    from proofs.checkers.coq_modes import mode_theorems, mode_thresholds
    theorems = (GENERIC_THEOREMS + EXTRA_THEOREMS + IEEE_THEOREMS + ALGORITHM_THEOREMS + kernel_theorems()
                + format_theorems(format_thresholds("float32")) + mode_theorems(mode_thresholds(("float16",))))
    prefixes = tuple(p for _, _, group in COQ_GROUPS for p in group)
    assert [t.file for t in theorems if not t.file.startswith(prefixes)] == []


@pytest.mark.parametrize("fmt", coq.FORMATS)
def test_thresholds_are_the_closed_form(fmt):
    """Every format's computed two-class threshold T is what ThresholdClosedForm.format_threshold_of_closed_form
    makes of the closed form: the least format value at or above T* = −ln(2^−p + 2^(max(1 − 2p, emin) − 1)), i.e.
    pred(T) < T* ≤ T. A T one value off either way fails."""
    import mpmath

    from precision.emulated.exp_error import predecessor, successor
    t = coq.format_thresholds(fmt)
    p, emin, T = t.p, t.emin, t.top_is_one_from_gap
    with mpmath.workprec(max(400, 4 * p)):
        star = -mpmath.log(mpmath.mpf(2) ** -p + mpmath.mpf(2) ** (max(1 - 2 * p, emin) - 1))
        value = lambda x: mpmath.mpf(x.numerator) / x.denominator
        closed = lambda g: value(predecessor(g, p, emin)) < star <= value(g)
        assert closed(T)
        assert not closed(successor(T, p, emin)) and not closed(predecessor(T, p, emin))


@needs_coq
def test_sum_above_one_windows_are_proved_and_tight(coq_checked):
    """Every format with an others-zero gap has its [T, T0) sum > 1 theorem and its log1p log-probability zero from
    T0 in the certificate; the float16 window with T0 one value later, or T one value earlier, is refused by coqc
    (the file names the exact window)."""
    from dataclasses import replace

    from precision.emulated.exp_error import predecessor, successor
    from proofs.checkers.coq_corollaries import COROLLARY_FILE, corollary_file
    result, build, _ = coq_checked
    assert result.ok, result.note
    names = {t.name for t in result.theorems if t.file == COROLLARY_FILE}
    assert {f"{coq._ident(f)}_{what}" for f in coq.FORMATS if f != "mp113"
            for what in ("sum_above_one_on_window", "log1p_logprob_zero_from_gap", "log1p_logprob_nonzero_at_pred")
            } <= names
    t = coq.format_thresholds("float16")
    p, emin = t.p, t.emin
    assert _coqc(build, "WindowCheck", corollary_file([t])).returncode == 0
    for moved in (replace(t, others_zero_from_gap=successor(t.others_zero_from_gap, p, emin)),
                  replace(t, top_is_one_from_gap=predecessor(t.top_is_one_from_gap, p, emin))):
        r = _coqc(build, "WindowCheck", corollary_file([moved]))
        assert r.returncode != 0, "Coq accepted a window one value too wide"
