"""proofs/coq/RoundOnePlusModes.v: rnd(1 + e) = 1 and rnd(1 − e) = 1 per rounding mode. The bounds its theorems
state are the ones the project's own exact rounding gives (float16 and bfloat16, every mode); Coq accepts the file
with the reals' standard axioms only, and rejects it when any theorem's bound is moved (each direction of each
"iff" can fail)."""
import re
import shutil
import subprocess
import time
from fractions import Fraction

import pytest

from precision.formats import get_format
from precision.formats.number_formats import to_fraction
from proofs.checkers import coq, coq_build, coq_spec

FILE = "RoundOnePlusModes"
needs_coq = pytest.mark.skipif(coq_build.coqc() is None, reason=coq_build.INSTALL_HINT)

# Per theorem: the project's mode, what is rounded (+: rnd(1 + e) = 1, −: rnd(1 − e) = 1, 0: rnd(x) = 0, top:
# rnd(1 / rnd(1 + e)) = 1), the right-hand side as the .v file states it (e, r, x ≥ 0, b = 2^−p, 2^emin the smallest
# subnormal σ), and the same bound moved (the mutants Coq must reject).
THEOREMS = [
    ("round_NA_one_plus_eq_one_iff", "nearest-away", "+", "e < b", ["e <= b", "e < b / 2"]),
    ("round_DN_one_plus_eq_one_iff", "toward-negative", "+", "e < 2 * b", ["e < b", "e <= 2 * b"]),
    ("round_ZR_one_plus_eq_one_iff", "toward-zero", "+", "e < 2 * b", ["e < b", "e <= 2 * b"]),
    ("round_UP_one_plus_eq_one_iff", "toward-positive", "+", "e = 0", ["e <= b", "e < 0"]),
    ("round_odd_one_plus_eq_one_iff", "to-odd", "+", "e = 0", ["e <= b", "e < 0"]),
    ("round_NE_one_minus_eq_one_iff", "nearest-even", "-", "e <= b / 2", ["e < b / 2", "e <= b"]),
    ("round_NA_one_minus_eq_one_iff", "nearest-away", "-", "e <= b / 2", ["e < b / 2", "e <= b"]),
    ("round_UP_one_minus_eq_one_iff", "toward-positive", "-", "e < b", ["e <= b", "e < b / 2"]),
    ("round_DN_one_minus_eq_one_iff", "toward-negative", "-", "e = 0", ["e < b"]),
    ("round_ZR_one_minus_eq_one_iff", "toward-zero", "-", "e = 0", ["e < b"]),
    ("round_odd_one_minus_eq_one_iff", "to-odd", "-", "e = 0", ["e < b"]),
    ("round_NE_eq_zero_iff", "nearest-even", "0", "x <= bpow radix2 emin / 2",
     ["x < bpow radix2 emin / 2", "x <= bpow radix2 emin"]),
    ("round_NA_eq_zero_iff", "nearest-away", "0", "x < bpow radix2 emin / 2",
     ["x <= bpow radix2 emin / 2", "x < bpow radix2 emin"]),
    ("round_DN_eq_zero_iff", "toward-negative", "0", "x < bpow radix2 emin",
     ["x <= bpow radix2 emin", "x < bpow radix2 emin / 2"]),
    ("round_ZR_eq_zero_iff", "toward-zero", "0", "x < bpow radix2 emin",
     ["x <= bpow radix2 emin", "x < bpow radix2 emin / 2"]),
    ("round_UP_eq_zero_iff", "toward-positive", "0", "x = 0", ["x <= bpow radix2 emin / 2"]),
    ("round_odd_eq_zero_iff", "to-odd", "0", "x = 0", ["x <= bpow radix2 emin / 2"]),
    ("top_output_NE_eq_one_iff", "nearest-even", "top", "r <= b", ["r < b"]),
    ("top_output_NA_eq_one_iff", "nearest-away", "top", "r < b", ["r <= b"]),
    ("top_output_DN_eq_one_iff", "toward-negative", "top", "r < 2 * b", ["r < b"]),
    ("top_output_ZR_eq_one_iff", "toward-zero", "top", "r < 2 * b", ["r < b"]),
    ("top_output_UP_eq_one_iff", "toward-positive", "top", "r = 0", ["r <= b"]),
    ("top_output_odd_eq_one_iff", "to-odd", "top", "r = 0", ["r <= b"]),
]
MUTANTS = [(name, rhs, moved) for name, _, _, rhs, moves in THEOREMS for moved in moves]


def holds(rhs: str, e: Fraction, b: Fraction, sigma: Fraction) -> bool:
    """The right-hand side, evaluated exactly."""
    op, bound = re.fullmatch(r"[erx] (<=|<|=) (.+)", rhs).group(1, 2)
    x = {"0": Fraction(0), "b": b, "2 * b": 2 * b, "b / 2": b / 2, "bpow radix2 emin": sigma,
         "bpow radix2 emin / 2": sigma / 2}[bound]
    return {"<": e < x, "<=": e <= x, "=": e == x}[op]


def scan(side: str, b: Fraction, sigma: Fraction) -> list[Fraction]:
    """The points checked: [0, 3b] (or [0, 3σ]) in steps of an eighth, and just around b and 2b."""
    unit = sigma if side == "0" else b
    return sorted({unit * Fraction(k, 8) for k in range(25)} | {unit + unit / 2 ** 30, 2 * unit - unit / 2 ** 30})


def source() -> str:
    return (coq.SOURCE / f"{FILE}.v").read_text()


def statement_span(text: str, name: str) -> tuple[int, int, str]:
    """The lines (1-based, from `Theorem name` to its `Qed.`) and the statement of one theorem."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"Theorem {name} :"))
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == "Qed.")
    statement = "\n".join(lines[start:end]).split("Proof.")[0]
    return start + 1, end + 1, statement


def test_theorems_state_the_projects_rounding():
    """Each stated bound is where the project's exact rounding (precision.formats) stops giving 1, on both sides."""
    text = source()
    for name, mode, side, rhs, moves in THEOREMS:
        assert statement_span(text, name)[2].rstrip().endswith(f"<-> {rhs})."), name
        for fmt_name in ("float16", "bfloat16"):
            fmt = get_format(fmt_name).with_rounding(mode)
            b, sigma = Fraction(1, 2 ** fmt.precision_bits), to_fraction(fmt.value_at(1))
            one = fmt.round(1)
            for e in scan(side, b, sigma):
                if side == "0":
                    got = to_fraction(fmt.round(e)) == 0
                elif side == "+":
                    got = to_fraction(fmt.round(1 + e)) == 1
                elif side == "-":
                    got = to_fraction(fmt.round(1 - e)) == 1
                else:  # e as the rounded exp: the format's values only
                    r = fmt.round(e)
                    got = to_fraction(fmt.div(one, fmt.add(one, r))) == 1
                    e = to_fraction(r)
                assert got == holds(rhs, e, b, sigma), (name, fmt_name, e)
    b, sigma = Fraction(1, 2 ** 11), Fraction(1, 2 ** 24)
    sides = {name: side for name, _, side, *_ in THEOREMS}
    for name, rhs, moved in MUTANTS:  # every mutant states a false bound: some point of the scan tells them apart
        assert any(holds(rhs, e, b, sigma) != holds(moved, e, b, sigma) for e in scan(sides[name], b, sigma)), name


def _coqc(build, name: str, text: str) -> subprocess.CompletedProcess:
    (build / f"{name}.v").write_text(text)
    return subprocess.run([shutil.which("coqc"), "-q", "-Q", ".", coq.LOGICAL, f"{name}.v"], cwd=build,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """A build folder holding RoundOnePlus (which the file imports) and RoundOnePlusModes, compiled."""
    folder = tmp_path_factory.mktemp("coq_modes")
    for dep in ("RoundOnePlus", FILE):
        start = time.perf_counter()
        r = _coqc(folder, dep, (coq.SOURCE / f"{dep}.v").read_text())
        assert r.returncode == 0, r.stderr
        print(f"{dep}.v compiled in {time.perf_counter() - start:.1f} s")
    return folder


@needs_coq
def test_file_checks_with_the_reals_axioms_only(build):
    """One `Print Assumptions` of all the theorems together (a tuple of their proofs: one walk through Flocq
    instead of 23): its axioms are the union of theirs."""
    assert not coq_spec.forbidden_commands(source())
    query = (f"From {coq.LOGICAL} Require Import {FILE}.\n"
             f"Definition all_modes := ({', '.join(name for name, *_ in THEOREMS)}).\n"
             "Print Assumptions all_modes.\n")
    r = _coqc(build, "ModesAssumptions", query)
    assert r.returncode == 0, r.stderr
    axioms = coq_build.parse_assumptions(r.stdout)
    assert axioms and all(coq.allowed(a) for a in axioms), axioms
    assert "Classical_Prop.classic" in axioms  # the query did list axioms (Flocq's reals use the excluded middle)


@needs_coq
def test_every_moved_bound_is_rejected(build):
    """Each theorem with its bound moved (tighter: the 'if' direction fails; looser: 'only if') and its proof
    unchanged is refused. One coqtop session (not a coqc per mutant: loading Flocq dominates): the file's section
    without its end, then each mutant as `mut_i`; coqtop reports an error and goes on, and `Check mut_i` then finds
    no such theorem. A statement Coq accepted would be a proof of it (Qed checks the whole term)."""
    text = source()
    section_end = "End RoundOnePlusModes.\n"
    assert text.endswith(section_end)
    lines = text.splitlines()
    script = [text[: -len(section_end)]]
    for i, (name, rhs, moved) in enumerate(MUTANTS):
        start, end, statement = statement_span(text, name)
        assert statement.rstrip().endswith(f"<-> {rhs})."), statement  # the bound: the right-hand side
        moved_statement = statement.rstrip()[: -len(rhs) - 2] + f"{moved}).\n"
        mutant = "\n".join(lines[start - 1:end]).replace(statement, moved_statement)
        script.append(mutant.replace(f"Theorem {name} :", f"Theorem mut_{i} :", 1) + f"\nAbort.\nCheck mut_{i}.\n")
    coqtop = shutil.which("coqtop")
    if coqtop is None:
        pytest.skip("coqc without coqtop: the mutants need an interactive session")
    r = subprocess.run([coqtop, "-q", "-Q", ".", coq.LOGICAL], cwd=build, input="\n".join(script),
                       capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    before, _, after = out.partition("mut_0 <")
    assert after and "Error" not in before, before[-2000:]  # the file itself went through
    rejected = [i for i in range(len(MUTANTS)) if f"The reference mut_{i} was not found" in after]
    accepted = [MUTANTS[i] for i in range(len(MUTANTS)) if i not in rejected]
    assert not accepted, f"Coq accepted moved bounds: {accepted}"
    assert len(rejected) == 35
    print(f"{len(rejected)} mutants rejected")
