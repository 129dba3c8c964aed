"""Every proof of the two lemmas checked into certificate records, and their Markdown (`softmax-sat prove`)."""
from __future__ import annotations

import time
from dataclasses import asdict

from . import lemma_2_1, lemma_2_2
from .kernel import Proof, check_proof, proof_holds


def all_proofs() -> list[Proof]:
    return lemma_2_1.proofs() + lemma_2_2.proofs()


def certify(proof: Proof) -> dict:
    """One certificate record: the statement, verdict and every checked claim (and the corrected statement)."""
    start = time.perf_counter()
    results = check_proof(proof)
    record = {"lemma": proof.lemma, "reading": proof.reading, "statement": proof.statement, "verdict": proof.verdict,
              "assumptions": proof.assumptions, "checks": proof_holds(results),
              "evidence": [asdict(r) for r in results],
              "counterexample": next((r.inputs for r, c in zip(results, proof.claims)
                                      if c.evidence.kind == "counterexample" and r.status == "checked"), None)}
    if proof.corrected is not None:
        record["corrected"] = certify(proof.corrected)
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


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
          "proof follow. Skipped steps (z3 not installed) are marked.", ""]
    for r in records:
        md += [f"## Lemma {r['lemma']} — {r['reading']}", "", f"**As written:** {r['statement']}", "",
               f"**Verdict: {r['verdict'].upper()}**" + ("" if r["checks"] else " — EVIDENCE FAILED TO CHECK"), ""]
        md += ["Assumptions: " + "; ".join(r["assumptions"]), ""]
        md += [f"- [{e['status']}] ({e['kind']}) {e['statement']}: {e['detail']}" for e in r["evidence"]] + [""]
        c = r.get("corrected")
        if c:
            md += [f"**Corrected statement ({c['verdict']}):** {c['statement']}", "",
                   "Assumptions: " + "; ".join(c["assumptions"]), ""]
            md += [f"- [{e['status']}] ({e['kind']}) {e['statement']}: {e['detail']}" for e in c["evidence"]] + [""]
    return "\n".join(md)
