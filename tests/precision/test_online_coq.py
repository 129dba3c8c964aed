"""proofs/coq/OnlineFp8Offset.v: the FP8 offset constraint, generic in the format's maximum, checked by Coq; and a
wrong instance (offset 8 + τ 0.8 < log₂ 448 claimed to clip) rejected by the same proof script."""
import shutil
import subprocess
from pathlib import Path

import pytest

COQ = Path(__file__).resolve().parents[2] / "proofs" / "coq" / "OnlineFp8Offset.v"
pytestmark = pytest.mark.skipif(shutil.which("coqc") is None, reason="needs coqc")


def _coqc(source: str, tmp_path: Path) -> subprocess.CompletedProcess:
    f = tmp_path / "OnlineFp8Offset.v"
    f.write_text(source)
    return subprocess.run(["coqc", "-Q", str(tmp_path), "SoftmaxSat", str(f)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)


def test_the_constraint_theorems_check_with_no_admitted(tmp_path):
    source = COQ.read_text()
    assert "Admitted" not in source
    done = _coqc(source, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Axioms:" in done.stdout and "Admitted" not in done.stdout  # only the standard reals' axioms


def test_a_wrong_instance_is_rejected(tmp_path):
    wrong = "".join(line for line in COQ.read_text().splitlines(keepends=True)
                    if not line.startswith("Print Assumptions"))
    assert _coqc(wrong, tmp_path).returncode == 0  # the file without the wrong corollary checks
    wrong += ("\nCorollary wrong : exists d, d <= 0.8 /\\ 448 < pow2 (d + 8).\n"
              "Proof. apply fp8_offset_clips; [lra | pose proof log2_448_lt_12; lra]. Qed.\n")
    done = _coqc(wrong, tmp_path)
    last = len(wrong.splitlines())  # the wrong corollary's proof, and nothing before it, fails
    assert done.returncode != 0 and f"line {last}," in done.stderr and "Cannot find witness" in done.stderr
