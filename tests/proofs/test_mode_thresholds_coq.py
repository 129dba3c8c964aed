"""The generated ModeThresholds.v: the two-class threshold of each format in each deterministic rounding mode other
than nearest-even, from the project's own thresholds. The statements carry the project's numbers, the bounds they
rest on are the closed forms of precision.emulated.mode_forms, and Coq rejects every threshold moved one value of
the format (down: "from T the top output is 1" fails; up: "at pred(T) it is below 1" fails)."""
import shutil
import subprocess

import mpmath
import pytest

from precision.emulated.exp_error import predecessor
from proofs.checkers import coq_build, coq_spec
from proofs.checkers.coq_modes import MODE_FORMATS, MODES, MODES_FILE, _bound, mode_file, mode_theorems, mode_thresholds

needs_coq = pytest.mark.skipif(coq_build.coqc() is None, reason=coq_build.INSTALL_HINT)
THS = mode_thresholds()


def test_every_format_and_mode_is_generated():
    assert {(t.fmt, t.mode) for t in THS} == {(f, m) for f in MODE_FORMATS for m in MODES}
    names = {t.name for t in mode_theorems(THS)}
    for t in THS:
        tag = MODES[t.mode][1]
        if t.mode in ("toward-positive", "to-odd"):  # the project says never, and so does the theorem
            assert t.top_is_one_from_gap is None and f"{t.fmt}_top_{tag}_never_one" in names
        else:
            assert {f"{t.fmt}_top_{tag}_is_one_from_gap", f"{t.fmt}_top_{tag}_below_one_at_pred"} <= names
    assert not coq_spec.forbidden_commands(mode_file(THS))


def test_thresholds_sit_where_the_bounds_say():
    """exp(−T) is below the mode's bound and exp(−pred T) above it (at 4p bits): what Coq proves, checked here
    independently; toward zero and toward −∞ agree, and nearest-away lies past nearest-even by less than a step."""
    for t in THS:
        if t.top_is_one_from_gap is None:
            continue
        _, bound = _bound(t)
        below = predecessor(t.top_is_one_from_gap, t.p, t.emin)
        with mpmath.workprec(4 * t.p + 64):
            T = t.top_is_one_from_gap
            assert mpmath.exp(-mpmath.mpf(T.numerator) / T.denominator) < bound < mpmath.exp(
                -mpmath.mpf(below.numerator) / below.denominator), t
    by = {(t.fmt, t.mode): t.top_is_one_from_gap for t in THS}
    for fmt in MODE_FORMATS:
        assert by[fmt, "toward-zero"] == by[fmt, "toward-negative"] < by[fmt, "nearest-away"]


def _coqtop(build, script: str) -> str:
    r = subprocess.run([shutil.which("coqtop"), "-q", "-Q", ".", coq_build.LOGICAL], cwd=build, input=script,
                       capture_output=True, text=True, timeout=600)
    return r.stdout + r.stderr


@needs_coq
@pytest.mark.skipif(shutil.which("coqtop") is None, reason="coqc without coqtop")
@pytest.mark.parametrize("offset", [-1, 1])
def test_moved_mode_threshold_is_rejected(coq_checked, offset):
    """Every finite threshold moved one value of the format: one coqtop session on the moved file (a failed proof
    is aborted and coqtop goes on), then `Check` of each theorem: the moved end's theorem is not there, the other
    one is (the file itself went through)."""
    result, build, _ = coq_checked
    assert result.ok and any(f.name == MODES_FILE for f in result.files), result.note
    text = mode_file(THS, offset=offset).replace("Qed.", "Qed.\nAbort.")
    finite = [t for t in THS if t.top_is_one_from_gap is not None]
    fails, holds = ("is_one_from_gap", "below_one_at_pred")[::-offset]
    checks = [f"Check {t.fmt}_top_{MODES[t.mode][1]}_{end}." for t in finite for end in (fails, holds)]
    out = _coqtop(build, text + "\n" + "\n".join(checks) + "\n")
    rejected = [t for t in finite if f"The reference {t.fmt}_top_{MODES[t.mode][1]}_{fails} was not found" in out]
    kept = [t for t in finite if f"The reference {t.fmt}_top_{MODES[t.mode][1]}_{holds} was not found" not in out]
    assert rejected == finite, f"Coq accepted a threshold moved by {offset}: {set(finite) - set(rejected)}"
    assert kept == finite, out[-3000:]
    print(f"{len(rejected)} thresholds moved by {offset} rejected")
