"""The kernel says yes to true steps and no to false ones, for every kind of evidence."""
import builtins
import json

import pytest

from proofs import (
    SMT,
    Claim,
    Counterexample,
    Exhaustive,
    IntervalBound,
    Proof,
    Symbolic,
    check_claim,
    check_proof,
    proof_holds,
    steps,
)
from proofs.lemma_2_1 import exact_p1_is_not_one
from softmax_sat import main

z3 = pytest.importorskip("z3")


def status(evidence):
    return check_claim(Claim("claim", evidence)).status


def test_symbolic():
    pos = {"a": {"positive": True}, "b": {"positive": True}}
    assert status(Symbolic("a/(a + b) + b/(a + b) - 1", "== 0", pos)) == "checked"
    assert status(Symbolic("a/(a + b) + b/(a + b) - 1 + a", "== 0", pos)) == "failed"
    assert status(Symbolic("a - b", "> 0", pos)) == "failed"  # undecided is not proved


def test_interval():
    g = ("16.63553237915039", "16.63553237915039")
    assert status(IntervalBound("exp(-g)", {"g": g}, "<", "mpf(2)**-24")) == "checked"
    assert status(IntervalBound("exp(-g)", {"g": ("16", "17")}, "<", "mpf(2)**-24")) == "failed"


def test_exhaustive():
    assert status(steps.top_monotone_exhaustively("float8_e5m2", "shifted", 2).evidence) == "checked"
    # the naive algorithm's top output is not monotone over every float16 gap
    assert status(steps.top_monotone_exhaustively("float16", "naive", 2).evidence) == "failed"
    assert status(Exhaustive("always fails", lambda: (3, "case 3"), {})) == "failed"


def test_smt():
    assert status(steps.one_plus_e_is_one_iff_half_ulp("float16").evidence) == "checked"
    half = z3.FPSort(5, 11)
    wrong = SMT("float16: 1 + 2^-11·1.5 rounds to 1", lambda: z3.fpAdd(
        z3.RNE(), z3.FPVal(1.0, half), z3.FPVal(1.5 * 2**-11, half)) == z3.FPVal(1.0, half))
    assert status(wrong) == "failed"


def test_smt_is_skipped_without_z3(monkeypatch):
    real_import = builtins.__import__
    monkeypatch.setattr(builtins, "__import__", lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name))
                        if name == "z3" else real_import(name, *a, **k))
    assert status(steps.one_plus_e_is_one_iff_half_ulp("float16").evidence) == "skipped"


def test_counterexample():
    assert status(Counterexample(exact_p1_is_not_one, {"u": [10, 0], "delta": "0.05"})) == "checked"
    assert status(Counterexample(exact_p1_is_not_one, {"u": [1, 0], "delta": "0.05"})) == "failed"  # premise false


def test_a_refutation_needs_a_counterexample_and_a_proof_none():
    claim = steps.outputs_sum_to_one()
    assert not proof_holds(check_proof(Proof("x", "r", "s", "refuted", [], [claim])))
    assert proof_holds(check_proof(Proof("x", "r", "s", "proved", [], [claim])))
    cx = Claim("c", Counterexample(exact_p1_is_not_one, {"u": [10, 0], "delta": "0.05"}))
    assert not proof_holds(check_proof(Proof("x", "r", "s", "proved", [], [claim, cx])))


def test_prove_command_writes_the_certificate(tmp_path):
    assert main(["prove", "--no-coq", "--out", str(tmp_path)]) == 0  # Coq: tests/proofs/test_coq.py
    records = json.loads((tmp_path / "certificate.json").read_text())
    verdicts = {(r["lemma"], r["reading"].split(",")[0]): (r["verdict"], r.get("corrected", {}).get("verdict"))
                for r in records}
    assert verdicts[("2.1", "exact real arithmetic")] == ("refuted", "proved")
    assert verdicts[("2.2", "exact real arithmetic")] == ("refuted", "proved")
    assert all(r["checks"] for r in records)
    assert {"statement", "verdict", "assumptions", "evidence", "counterexample"} <= set(records[0])
    assert "Lemma 2.2" in (tmp_path / "proofs.md").read_text()


def test_a_query_asked_again_in_one_run_takes_the_first_answer_and_only_that_query():
    """The corrected Lemmas 2.1 and 2.2 cite the same z3 step per format (10 s for float64): asked once a run. A
    different query under the same description is solved on its own, and a failed answer stays failed."""
    x = z3.Real("x")
    calls = []

    def formula(claim):
        def build():
            calls.append(claim)
            return claim
        return build
    true, false = x * x >= 0, x * x > 0
    answered: dict = {}
    first = check_claim(Claim("a", SMT("x² ≥ 0", formula(true))), answered)
    again = check_claim(Claim("b", SMT("x² ≥ 0", formula(true))), answered)
    assert (first.status, again.status) == ("checked", "checked") and "same query" in again.detail
    assert calls.count(true) == 3  # the key of each, and one solver run
    wrong = check_claim(Claim("c", SMT("x² ≥ 0", formula(false))), answered)  # same words, another query
    assert wrong.status == "failed" and "same query" not in wrong.detail
    assert check_claim(Claim("d", SMT("x² ≥ 0", formula(false))), answered).status == "failed"
    assert check_claim(Claim("e", SMT("x² ≥ 0", formula(true)))).detail == first.detail  # no memo: solved again
