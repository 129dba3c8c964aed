"""A small proof-checking kernel: a proof is a list of claims, each with one piece of evidence the kernel checks.

Evidence kinds:
- `Symbolic`: a sympy expression that must simplify to 0, or be positive / non-negative under the symbols'
  declared assumptions (sympy must *show* it: "could not decide" is a failure);
- `IntervalBound`: an expression over interval variables, evaluated with mpmath.iv: a rigorous enclosure that
  must lie strictly below / above a bound;
- `Exhaustive`: a named enumeration over every value or gap of a finite format, which must find no failure;
- `SMT`: a z3 formula whose negation must be unsatisfiable (skipped, with a note, where z3 is not installed);
- `Counterexample`: inputs at which the refuted statement is re-checked false at 120 significant digits.

`check_proof` runs every claim and names the step whose evidence did not check.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Literal, Protocol

import mpmath
import sympy

CHECK_DIGITS = 120


__all__ = ["SMT", "Claim", "ClaimResult", "Counterexample", "Evidence", "Exhaustive", "IntervalBound", "Proof",
           "Symbolic", "check_claim", "check_proof", "proof_holds"]

EvidenceKind = Literal["symbolic", "interval", "exhaustive", "smt", "counterexample"]
ProofVerdict = Literal["proved", "refuted"]
Status = Literal["checked", "failed", "skipped"]


class EvidenceFailed(Exception):
    """The evidence does not establish its claim."""


class EvidenceSkipped(Exception):
    """The checker for this kind of evidence is not installed."""


class Evidence(Protocol):
    """One piece of evidence: its kind, a check that returns what it showed (or raises `EvidenceFailed` /
    `EvidenceSkipped`), and its inputs as JSON."""

    @property
    def kind(self) -> str: ...

    def check(self) -> str: ...

    def inputs(self) -> dict: ...


@dataclass
class Symbolic:
    """`expr` (sympy syntax) == 0, > 0 or >= 0, with `symbols` declared as {name: {assumption: True}}."""

    expr: str
    relation: str  # "== 0", "> 0" or ">= 0"
    symbols: dict = field(default_factory=dict)
    kind: ClassVar[EvidenceKind] = "symbolic"

    def check(self) -> str:
        names = {n: sympy.Symbol(n, **a) for n, a in self.symbols.items()}
        e = sympy.simplify(sympy.sympify(self.expr, locals=names))
        decide = lambda x: {"== 0": x == 0, "> 0": x.is_positive, ">= 0": x.is_nonnegative}[self.relation]
        decided = decide(e)
        if decided is not True:  # a sign is often visible only once the fraction is cancelled and factored
            e = sympy.factor(sympy.cancel(e))
            decided = decide(e)
        if decided is not True:
            raise EvidenceFailed(f"sympy could not show {self.expr} {self.relation} (simplified: {e})")
        return f"sympy: {self.expr} {self.relation} (simplified to {e})"

    def inputs(self) -> dict:
        return {"expr": self.expr, "relation": self.relation, "symbols": self.symbols}


@dataclass
class IntervalBound:
    """max (or min) of `expr` over the box `variables` {name: (lo, hi)} is < (or >) `bound`, rigorously."""

    expr: str  # mpmath.iv syntax, e.g. "exp(-g)"
    variables: dict
    relation: str  # "<" or ">"
    bound: str  # a number as text, e.g. "2**-24"
    kind: ClassVar[EvidenceKind] = "interval"

    def check(self) -> str:
        iv = mpmath.iv
        saved, iv.prec = iv.prec, 4 * CHECK_DIGITS
        try:
            env = {"exp": iv.exp, "log": iv.log, "log1p": lambda x: iv.log(1 + x), "mpf": iv.mpf}
            env |= {k: iv.mpf([str(lo), str(hi)]) for k, (lo, hi) in self.variables.items()}
            y = eval(self.expr, {"__builtins__": {}}, env)  # noqa: S307 - our own claim text
            b = eval(self.bound, {"__builtins__": {}}, {"mpf": iv.mpf}) * iv.mpf(1)
            ok = (y.b < b.a) if self.relation == "<" else (y.a > b.b)
        finally:
            iv.prec = saved
        if not ok:
            raise EvidenceFailed(f"interval {self.expr} over {self.variables} = {y} is not "
                                 f"{self.relation} {self.bound}")
        return f"mpmath.iv at {4 * CHECK_DIGITS} bits: {self.expr} ∈ {y} {self.relation} {self.bound}"

    def inputs(self) -> dict:
        return {"expr": self.expr, "variables": {k: [str(a), str(b)] for k, (a, b) in self.variables.items()},
                "relation": self.relation, "bound": self.bound}


@dataclass
class Exhaustive:
    """`enumerate(**params)` visits every case and returns (cases checked, first failure or None)."""

    name: str
    enumerate: Callable[..., tuple[int, object]]
    params: dict
    kind: ClassVar[EvidenceKind] = "exhaustive"

    def check(self) -> str:
        n, failure = self.enumerate(**self.params)
        if failure is not None:
            raise EvidenceFailed(f"{self.name}: fails at {failure} (after {n} cases)")
        return f"{self.name}: all {n} cases hold"

    def inputs(self) -> dict:
        return {"enumeration": self.name, **self.params}


def _z3():
    try:
        import z3
    except ImportError:
        raise EvidenceSkipped("z3-solver is not installed (pip install 'softmax-saturation[proofs]')") from None
    return z3


@dataclass
class SMT:
    """z3: `formula()` builds the claim; the kernel asks z3 for a model of its negation (must be unsat)."""

    description: str
    formula: Callable[[], object]
    timeout_ms: int = 60_000
    kind: ClassVar[EvidenceKind] = "smt"

    def check(self) -> str:
        z3 = _z3()
        solver = z3.Solver()
        solver.set("timeout", self.timeout_ms)
        solver.add(z3.Not(self.formula()))
        result = solver.check()
        if result != z3.unsat:
            model = solver.model() if result == z3.sat else None
            raise EvidenceFailed(f"z3 says {result} for the negation of: {self.description}"
                                 + (f"; counter-model {model}" if model is not None else ""))
        return f"z3: negation unsatisfiable ({self.description})"

    def query(self) -> str:
        """The query z3 is asked, as text: two claims with the same query have the same answer."""
        _z3()
        return str(self.formula().sexpr())  # type: ignore[attr-defined]  # a z3 expression

    def inputs(self) -> dict:
        return {"formula": self.description}


@dataclass
class Counterexample:
    """`refutes(**inputs)` re-evaluates the statement at CHECK_DIGITS digits and returns (is_false, detail)."""

    refutes: Callable[..., tuple[bool, str]]
    values: dict
    kind: ClassVar[EvidenceKind] = "counterexample"

    def check(self) -> str:
        with mpmath.workdps(CHECK_DIGITS):
            false, detail = self.refutes(**self.values)
        if not false:
            raise EvidenceFailed(f"not a counterexample: {detail}")
        return f"at {CHECK_DIGITS} digits: {detail}"

    def inputs(self) -> dict:
        return {k: (str(v) if not isinstance(v, (int, float, str, list)) else v) for k, v in self.values.items()}


@dataclass
class Claim:
    """A statement and the one piece of evidence that establishes it."""

    statement: str
    evidence: Evidence


@dataclass
class Proof:
    """What is claimed in one reading, under which assumptions, and the claims that establish or refute it."""

    lemma: str
    reading: str
    statement: str
    verdict: ProofVerdict
    assumptions: list[str]
    claims: list[Claim]
    corrected: "Proof | None" = None


@dataclass
class ClaimResult:
    statement: str
    kind: str
    status: Status
    detail: str
    seconds: float
    inputs: dict


def check_claim(claim: Claim, answered: dict[str, tuple[Status, str]] | None = None) -> ClaimResult:
    """Check one claim's evidence: checked, failed (with what did not hold) or skipped (checker not installed).
    `answered`: z3's answers so far in this run, by query; a query asked again (the corrected Lemmas 2.1 and 2.2
    cite the same step per format: 10 s each for float64) takes the first answer."""
    start = time.perf_counter()
    status: Status
    smt = claim.evidence if isinstance(claim.evidence, SMT) else None
    memo = answered if answered is not None and smt is not None else None
    query = ""
    try:
        query = smt.query() if smt is not None and memo is not None else ""
        if memo is not None and query in memo:
            status, detail = memo[query]
            detail += " (the same query as an earlier claim)"
        else:
            status, detail = "checked", claim.evidence.check()
    except EvidenceSkipped as e:
        status, detail = "skipped", str(e)
    except EvidenceFailed as e:
        status, detail = "failed", str(e)
    except Exception as e:  # a checker that crashes has not checked anything
        status, detail = "failed", f"{type(e).__name__}: {e}"
    if memo is not None and query:
        memo.setdefault(query, (status, detail))
    return ClaimResult(claim.statement, claim.evidence.kind, status, detail, time.perf_counter() - start,
                       claim.evidence.inputs())


def check_proof(proof: Proof, answered: dict[str, tuple[Status, str]] | None = None) -> list[ClaimResult]:
    """Check every claim; a refutation must carry a checked counterexample, a proof must carry none. `answered`:
    see `check_claim`."""
    results = [check_claim(c, answered) for c in proof.claims]
    kinds = [c.evidence.kind for c in proof.claims]
    if proof.verdict == "refuted" and "counterexample" not in kinds:
        results.append(ClaimResult("a refutation carries a counterexample", "kernel", "failed",
                                   "no counterexample among the claims", 0.0, {}))
    if proof.verdict == "proved" and "counterexample" in kinds:
        results.append(ClaimResult("a proof carries no counterexample", "kernel", "failed",
                                   "a counterexample claim in a proof", 0.0, {}))
    return results


def proof_holds(results: list[ClaimResult]) -> bool:
    """True when no claim failed (skipped claims do not count against a proof)."""
    return all(r.status != "failed" for r in results)
