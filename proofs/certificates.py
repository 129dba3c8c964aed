"""Every proof of the two lemmas checked into certificate records, and their Markdown (`softmax-sat prove`)."""
from __future__ import annotations

import time
from dataclasses import asdict

from . import lemma_2_1, lemma_2_2
from .kernel import Proof, Status, check_proof, proof_holds


def all_proofs() -> list[Proof]:
    return lemma_2_1.proofs() + lemma_2_2.proofs()


CHECKER_OF_KIND = {"symbolic": "project kernel (sympy)", "interval": "project kernel (mpmath interval arithmetic)",
                   "exhaustive": "project kernel (enumeration)", "smt": "z3 (floating-point theory)",
                   "counterexample": "project kernel (re-check at 120 digits)", "kernel": "project kernel"}
COQ_GROUPS = [("2.1", "Coq: IEEE binary formats, any precision p ≥ 2 (Flocq)",
               ("RoundOnePlus", "TopOutputTwoClass", "MClassesTopFirst")),
              ("2.1", "Coq: IEEE 754 with overflow, infinities and NaN (Flocq's binary model)", ("IEEESoftmax",)),
              ("2.1", "Coq: kernels whose exp is within k ulps, generic and per format (Flocq + Interval)",
               ("KernelExpError", "KernelThresholds", "KernelWitnesses")),
              ("2.1", "Coq: exact thresholds per format, generated from precision.thresholds (Flocq + Interval)",
               ("Thresholds",)),
              ("2.1", "Coq: the two-class threshold in every other deterministic rounding mode, per format, generated "
                      "from precision.thresholds (Flocq + Interval)", ("ModeThresholds",)),
              ("2.1", "Coq: δ-grid, exact softmax rounded once", ("Lemma21DeltaGrid",)),
               ("2.2", "Coq: exact real arithmetic (Reals)", ("Lemma22Reals",)),
               ("2.1", "Coq: the division-free log1p form, other summation orders, the threshold and the sum > 1 "
                       "window in closed form, any precision p ≥ 2 (Flocq)",
                ("Log1pForm", "MClassesOtherOrders", "ThresholdClosedForm", "SumAboveOneWindow", "FormatCorollaries")),
               ("2.2", "Coq: rounded, FLT any precision and IEEE binary32 (Flocq)", ("Lemma22Rounded", "Lemma22IEEE"))]


def certify(proof: Proof, answered: dict[str, tuple[Status, str]] | None = None) -> dict:
    """One certificate record: the statement, verdict and every checked claim (and the corrected statement);
    `answered`: z3's answers so far in this run (`check_claim`)."""
    start = time.perf_counter()
    results = check_proof(proof, answered)
    record = {"lemma": proof.lemma, "reading": proof.reading, "statement": proof.statement, "verdict": proof.verdict,
              "assumptions": proof.assumptions, "checks": proof_holds(results),
              "evidence": [asdict(r) | {"checker": CHECKER_OF_KIND.get(r.kind, r.kind)} for r in results],
              "counterexample": next((r.inputs for r, c in zip(results, proof.claims)
                                      if c.evidence.kind == "counterexample" and r.status == "checked"), None)}
    if proof.corrected is not None:
        record["corrected"] = certify(proof.corrected, answered)
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def coq_records(result) -> list[dict]:
    """Certificate records of the Coq development (`proofs.checkers.coq.check`): per group of files, every main
    theorem with its Coq name, hypotheses, `Print Assumptions` and the time coqc took on its file."""
    checker = f"Coq {result.version.split()[-1]} (Flocq, CoqInterval)"
    if result.status == "skipped":
        return [{"lemma": "2.1, 2.2", "reading": "Coq development (proofs/coq)", "statement": "the Coq theorems",
                 "verdict": "skipped", "assumptions": [], "checks": True, "checker": checker, "counterexample": None,
                 "evidence": [{"statement": "coqc checks proofs/coq and the generated per-format files",
                               "kind": "coq", "checker": checker, "status": "skipped", "detail": result.note,
                               "seconds": 0.0, "inputs": {}}], "seconds": result.seconds}]
    from .checkers.coq import axiom_summary
    seconds = {f.name: f.seconds for f in result.files}
    records = []
    for lemma, reading, prefixes in COQ_GROUPS:
        ths = [t for t in result.theorems if t.file.startswith(prefixes)]
        files = sorted({t.file for t in ths})
        if not ths:
            continue
        failed = result.status == "failed" and (not all(t.ok for t in ths) or
                                                any(f.name in files and not f.ok for f in result.files))
        hyps = list(dict.fromkeys(h for t in ths for h in t.hypotheses))
        evidence = [{"statement": t.statement, "kind": "coq", "checker": checker,
                     "status": "checked" if t.ok else "failed",
                     "detail": f"Coq theorem {t.file}.{t.name}, its statement pinned in the specification; "
                               f"Print Assumptions ({t.assumptions_of}): {axiom_summary(t.assumptions)}",
                     "seconds": seconds.get(t.file, 0.0),
                     "inputs": {"coq_name": f"SoftmaxSat.{t.file}.{t.name}", "coq_statement": t.pinned,
                                "hypotheses": t.hypotheses, "axioms": t.assumptions,
                                "axioms_of": t.assumptions_of, "proves": t.facts}} for t in ths]
        records.append({"lemma": lemma, "reading": reading,
                        "statement": "; ".join(t.statement for t in ths[:3]) + ("; …" if len(ths) > 3 else ""),
                        "verdict": "failed" if failed else "proved", "assumptions": hyps, "checks": not failed,
                        "checker": checker, "counterexample": None, "evidence": evidence,
                        "files": files, "seconds": round(sum(seconds.get(f, 0.0) for f in files), 3)})
    if result.status == "failed" and all(r["checks"] for r in records):
        records.append({"lemma": "2.1, 2.2", "reading": "Coq development (proofs/coq)", "statement": result.note,
                        "verdict": "failed", "assumptions": [], "checks": False, "checker": checker,
                        "counterexample": None, "evidence": [], "seconds": result.seconds})
    return records


def evidence_kinds(record: dict) -> str:
    kinds = sorted({e["kind"] for e in record["evidence"]} | ({e["kind"] for e in record["corrected"]["evidence"]}
                                                              if "corrected" in record else set()))
    return ", ".join(kinds)


def all_checked(record: dict) -> bool:
    return record["checks"] and ("corrected" not in record or all_checked(record["corrected"]))


def markdown(records: list[dict]) -> str:
    md = ["# Machine-checked Lemmas 2.1 and 2.2", "",
          "Each reading states the paper's lemma as written, the verdict, and the evidence that was checked; where "
          "the lemma is refuted, a counterexample (re-checked at 120 digits) and a corrected statement with its own "
          "proof follow. Skipped steps (z3 or Coq not installed) are marked; each step names its checker (Coq, z3, "
          "or the project's own kernel).", ""]
    for r in records:
        label = "Theorems" if r.get("checker") else "As written"
        md += [f"## Lemma {r['lemma']} — {r['reading']}", "", f"**{label}:** {r['statement']}", "",
               f"**Verdict: {r['verdict'].upper()}**" + ("" if r["checks"] else " — EVIDENCE FAILED TO CHECK"), ""]
        md += ["Assumptions: " + "; ".join(r["assumptions"]), ""]
        if r.get("checker"):
            md += [f"Checked by {r['checker']} in {r['seconds']:.1f} s" +
                   (f" (files: {', '.join(r['files'])})" if r.get("files") else "") + ".", ""]
        md += [f"- [{e['status']}] ({e.get('checker', e['kind'])}) {e['statement']}: {e['detail']}"
               for e in r["evidence"]] + [""]
        c = r.get("corrected")
        if c:
            md += [f"**Corrected statement ({c['verdict']}):** {c['statement']}", "",
                   "Assumptions: " + "; ".join(c["assumptions"]), ""]
            md += [f"- [{e['status']}] ({e.get('checker', e['kind'])}) {e['statement']}: {e['detail']}"
                   for e in c["evidence"]] + [""]
    return "\n".join(md)
