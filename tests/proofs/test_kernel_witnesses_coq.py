"""The generated KernelWitnesses.v: the k-ulp intervals [T_lo(k), T_hi(k)] of KernelThresholds.v are reached. At
pred(T_hi) a value within k ulps of exp gives a top output below 1, at T_lo one gives exactly 1; the same witness one
gap outwards (where KernelThresholds.v proves every such kernel the other way) is rejected by Coq."""
import shutil
import subprocess
from fractions import Fraction

import mpmath
import pytest

from precision.emulated.exp_error import flocq_parameters, ulp
from proofs.checkers import coq_build, coq_spec
from proofs.checkers.coq_witness import WITNESS_FILE, WITNESS_FORMATS, WITNESS_K, moved, witness_file, witnesses

needs_coq = pytest.mark.skipif(coq_build.coqc() is None, reason=coq_build.INSTALL_HINT)
WS = witnesses()


def test_witnesses_are_within_k_ulps_and_reach_the_ends():
    """Every end has a witness but one (float8_e5m2, k = 2: T_lo = 1.5 is not reached, no value ≤ 2^−3 lies within
    2 ulps of e^−1.5, so the proved lower end is conservative there), and each is checked here at 4p bits."""
    assert {(w.fmt, w.k) for w in WS} == {(f, k) for f in WITNESS_FORMATS for k in WITNESS_K}
    missing = [(w.fmt, w.k, w.end) for w in WS if w.r is None]
    assert missing == [("float8_e5m2", Fraction(2), "lo")]
    for w in WS:
        if w.r is None:
            continue
        p, emin = flocq_parameters(w.fmt)
        with mpmath.workprec(4 * p + 64):
            x = mpmath.exp(-mpmath.mpf(w.at.numerator) / w.at.denominator)
            r = mpmath.mpf(w.r.numerator) / w.r.denominator
            assert abs(r - x) <= mpmath.mpf(w.k.numerator) / w.k.denominator * ulp(x, p, emin), w
        b = Fraction(1, 2 ** p)
        assert (w.r > b) if w.end == "hi" else (w.r <= b), w  # top output < 1 ⇔ r > 2^−p
    assert not coq_spec.forbidden_commands(witness_file(WS))


@needs_coq
@pytest.mark.skipif(shutil.which("coqtop") is None, reason="coqc without coqtop")
def test_witness_moved_one_gap_outwards_is_rejected(coq_checked):
    result, build, _ = coq_checked
    assert result.ok and any(f.name == WITNESS_FILE for f in result.files), result.note
    names = {t.name for t in result.theorems}
    found = [w for w in WS if w.r is not None]
    assert {f"{w.fmt}_k{w.k}_{w.end}_is_tight" for w in found} <= names
    text = witness_file([moved(w) for w in found]).replace("Qed.", "Qed.\nAbort.")
    checks = "\n".join(f"Check {w.fmt}_k{w.k}_{w.end}_is_tight." for w in found)
    r = subprocess.run([shutil.which("coqtop"), "-q", "-Q", ".", coq_build.LOGICAL], cwd=build,
                       input=text + "\n" + checks + "\n", capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    accepted = [w for w in found if f"The reference {w.fmt}_k{w.k}_{w.end}_is_tight was not found" not in out]
    assert accepted == [], f"Coq accepted a witness one gap outwards: {accepted}"
    print(f"{len(found)} moved witnesses rejected")
