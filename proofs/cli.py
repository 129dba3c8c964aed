"""Command-line glue of `softmax-sat prove`: options in, the proofs checked, files out."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from precision.common.errors import InputError
from precision.common.files import check_writable, output_folder, write_json_atomic, write_text_atomic
from precision.common.publishing import publishing

from .certificates import all_checked, all_proofs, certify, coq_records, evidence_kinds, markdown
from .kernel import Status


def configure_prove(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=output_folder, default=Path("reports/proofs"), help="folder for the certificate")
    parser.add_argument("--no-coq", dest="coq", action="store_false",
                        help="skip the Coq development (proofs/coq) even when coqc is installed")
    parser.add_argument("--require-coq", action="store_true",
                        help=f"fail (exit 1) when Coq is not installed instead of skipping its part; "
                             f"{REQUIRE_COQ}=1 does the same unless --no-coq is given (CI sets it)")

    parser.add_argument("--coq-build", type=output_folder, default=None, metavar="DIR",
                        help="build the Coq development in DIR and keep it: the hand-written and generated files, a "
                             "_CoqProject listing them all (coq_makefile -f _CoqProject -o CoqMakefile), the .vo")


REQUIRE_COQ = "SOFTMAX_SAT_REQUIRE_COQ"


OUTPUTS = ("certificate.json", "proofs.md")


def run_prove(args) -> int:
    out: Path = args.out
    if args.require_coq and not args.coq:
        raise InputError("--require-coq", "contradicts --no-coq")
    if args.coq_build is not None and not args.coq:
        raise InputError("--coq-build", "contradicts --no-coq")
    # the environment (CI) requires Coq wherever it runs; an explicit --no-coq still skips it
    require = args.require_coq or (args.coq and os.environ.get(REQUIRE_COQ, "") not in ("", "0"))
    check_writable(out)
    with publishing(out, "proofs", {"coq": args.coq, "require_coq": require}, OUTPUTS) as staging:
        ok = _prove_into(staging, args.coq, require, args.coq_build)  # both files visible together
    print(f"wrote {out / 'certificate.json'} and {out / 'proofs.md'}")
    if not ok:
        print("some evidence failed to check: see the table above", file=sys.stderr)
    return 0 if ok else 1


def _prove_into(out: Path, coq_too: bool, require_coq: bool = False, coq_build_dir: Path | None = None) -> bool:
    """Check every proof (and the Coq development), write the certificate and proofs.md into `out`; whether
    everything checked."""
    records, coq_missing = [], False
    answered: dict[str, tuple[Status, str]] = {}  # z3's answers, shared by the proofs that ask the same query
    print(f"{'lemma':6} {'reading':72} {'verdict':8} {'corrected':10} {'evidence':46} {'s':>6}")
    for proof in all_proofs():
        r = certify(proof, answered)
        records.append(r)
        c = r.get("corrected", {}).get("verdict", "—")
        flag = "" if all_checked(r) else "  ← EVIDENCE FAILED"
        print(f"{r['lemma']:6} {r['reading'][:72]:72} {r['verdict']:8} {c:10} {evidence_kinds(r)[:46]:46} "
              f"{r['seconds']:6.2f}{flag}", flush=True)
    if coq_too:
        from .checkers import coq, coq_build
        result = coq_build.check(build_dir=coq_build_dir)
        for r in coq_records(result):
            records.append(r)
            flag = "" if r["checks"] else "  ← COQ FAILED"
            print(f"{r['lemma']:6} {r['reading'][:72]:72} {r['verdict']:8} {'—':10} {'coq':46} {r['seconds']:6.2f}"
                  f"{flag}", flush=True)
        if result.status == "skipped":
            print(f"COQ PART SKIPPED: no theorem was checked by Coq. {coq.INSTALL_HINT}"
                  + (f" — and Coq is required (--require-coq / {REQUIRE_COQ})" if require_coq else ""),
                  file=sys.stderr)
        elif not result.ok:
            print(f"Coq: {result.note}", file=sys.stderr)
        coq_missing = require_coq and result.status == "skipped"
    write_json_atomic(out / "certificate.json", records, indent=1)
    write_text_atomic(out / "proofs.md", markdown(records))
    skipped = sum(e["status"] == "skipped" and e["kind"] == "smt" for r in records
                  for e in r["evidence"] + r.get("corrected", {"evidence": []})["evidence"])
    if skipped:
        print(f"{skipped} SMT steps skipped: no z3 (pip install 'softmax-saturation[proofs]')")
    return all(all_checked(r) for r in records) and not coq_missing
