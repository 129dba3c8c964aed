"""Lemmas 2.1 and 2.2 of the paper as predicates: does the claim hold for these inputs, and if not, why.

Three readings of "the calculation is performed under a limited decimal precision":
- `"exact"`: real arithmetic, no rounding at all (evaluated with mpmath at 200 bits; the proof kernel re-checks
  counterexamples at higher precision);
- a `DeltaGrid` format with algorithm `"rounded_once"`: the exact softmax, each output rounded once onto the
  grid of step δ — the paper's own model;
- any format with any algorithm of `precision.emulated.algorithms`: every operation rounded, as computers do.

Each predicate tests the statement *as written* (`lemma_2_1`, `lemma_2_2`) or the corrected statement
(`lemma_2_1_corrected`, `lemma_2_2_corrected`) and returns a `Verdict`.
"""
from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal, TypeAlias, Union

import mpmath

from precision.common.errors import InputError
from precision.emulated.algorithms import ALGORITHMS, AlgorithmName, check_logits, exact_bits, exact_softmax, softmax
from precision.formats.named_formats import get_format
from precision.formats.number_formats import Format, mpf_of

# Every step of these is a monotone function of the top logit, so their top output is monotone in it
# (corrected Lemma 2.1). The log-sum-exp forms are not: fl(m + L) − m depends on the binade of m.
MONOTONE_ALGORITHMS: tuple[AlgorithmName, ...] = ("shifted", "shifted_reciprocal", "online")

Real: TypeAlias = Union[int, float, Fraction, decimal.Decimal, str]  # an exact real (a string reads as a decimal)
Reading: TypeAlias = Union[Literal["exact"], Format, str]  # real arithmetic, or a format (by name)
LemmaAlgorithm: TypeAlias = Union[AlgorithmName, Literal["rounded_once"]]  # or the exact softmax rounded once


@dataclass
class Verdict:
    """Whether a lemma's claim holds at given inputs; `failed` names the clause that did not."""

    lemma: str
    reading: str
    holds: bool
    vacuous: bool = False  # the premise did not hold, so the claim says nothing here
    failed: str | None = None
    inputs: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.holds


def outputs(u: Sequence[Real], reading: Reading = "exact", algorithm: LemmaAlgorithm = "shifted") -> list:
    """Softmax outputs of one logit vector in a reading: exact reals, rounded once, or an algorithm."""
    u = list(check_logits(u, "u")[0])
    if reading == "exact":
        return exact_softmax(u)
    fmt = get_format(reading)
    if algorithm == "rounded_once":
        return [fmt.round(p) for p in exact_softmax(u)]
    if algorithm not in ALGORITHMS:
        raise InputError("algorithm", f"unknown {algorithm!r}; expected 'rounded_once' or one of "
                                      f"{', '.join(ALGORITHMS)}")
    return list(softmax([u], fmt, algorithm)[0])


def _reading_name(reading: Reading, algorithm: LemmaAlgorithm) -> str:
    return "exact" if reading == "exact" else f"{get_format(reading).name}/{algorithm}"


def _is_nan(v) -> bool:
    return v != v


def _delta(reading: Reading) -> Fraction | None:
    return None if reading == "exact" else get_format(reading).grid_step


def lemma_2_1(u: Sequence[Real], v1: Real, reading: Reading = "exact", algorithm: LemmaAlgorithm = "shifted",
              delta: Real | None = None) -> Verdict:
    """Lemma 2.1 as written: u1 > 0 the top logit and p1 > 1 − δ ⇒ p1 ≡ 1 and, for every v1 > u1,
    P(v1, u2, …, uM) = (1, 0, …, 0). δ is the grid step for a δ-grid reading; pass it for the others
    (for an IEEE format, the paper's premise p1 > 1 − δ is read as "p1 was mapped to one": p1 = 1)."""
    name = _reading_name(reading, algorithm)
    uq = [Fraction(x) for x in u]
    d = _delta(reading) if delta is None else Fraction(str(delta))
    p = outputs(uq, reading, algorithm)
    inputs = {"u": [str(x) for x in uq], "v1": str(v1), "delta": None if d is None else str(d)}
    exact_p = exact_softmax(uq)
    premise = uq[0] > 0 and Fraction(v1) > uq[0] and all(exact_p[0] > q for q in exact_p[1:])
    premise = premise and (exact_p[0] > mpf_of(1 - d) if d is not None else p[0] == 1)
    if not premise:
        return Verdict("2.1", name, True, vacuous=True, inputs=inputs)
    values = {"p": [str(x) for x in p]}
    if p[0] != 1:
        return Verdict("2.1", name, False, failed="p1 ≡ 1 (p1 > 1 − δ, yet p1 is not mapped to 1)",
                       inputs=inputs, values=values)
    q = outputs([Fraction(v1)] + uq[1:], reading, algorithm)
    values["P(v)"] = [str(x) for x in q]
    if q[0] != 1 or any(x != 0 for x in q[1:]):
        return Verdict("2.1", name, False, failed="P(v1, u2, …, uM) = (1, 0, …, 0)", inputs=inputs, values=values)
    return Verdict("2.1", name, True, inputs=inputs, values=values)


def lemma_2_1_corrected(u: Sequence[Real], v1: Real, reading: Reading,
                        algorithm: LemmaAlgorithm = "shifted") -> Verdict:
    """Corrected Lemma 2.1 (rounded readings): once the computed top output is 1, it stays 1 for every
    larger top logit — the other outputs need not be 0. Proved for MONOTONE_ALGORITHMS with exp correctly
    rounded (and for `rounded_once` on a δ-grid)."""
    name = _reading_name(reading, algorithm)
    uq = [Fraction(x) for x in u]
    inputs = {"u": [str(x) for x in uq], "v1": str(v1)}
    p = outputs(uq, reading, algorithm)
    if not (p[0] == 1 and Fraction(v1) > uq[0] and uq[0] == max(uq)):
        return Verdict("2.1-corrected", name, True, vacuous=True, inputs=inputs)
    q = outputs([Fraction(v1)] + uq[1:], reading, algorithm)
    holds = bool(q[0] == 1)
    return Verdict("2.1-corrected", name, holds, failed=None if holds else "top output stays 1",
                   inputs=inputs, values={"p": [str(x) for x in p], "P(v)": [str(x) for x in q]})


def _lemma_2_2_premise(u, v, t, p) -> bool:
    m = len(u)
    return (all(p[0] > p[i] for i in range(1, m)) and p[t] > 0 and v[t] > v[0] > 0
            and u[0] + v[0] > u[t] + v[t] and all(v[k] == 0 for k in range(m) if k not in (0, t)))


@dataclass
class _Lemma22Case:
    """Both Lemma 2.2 predicates' common part: the inputs, P(u), and P(u + v) where the premise holds."""

    name: str
    u: list[Fraction]
    v: list[Fraction]
    p: list
    q: list | None  # None: the premise does not hold
    inputs: dict
    values: dict  # P(u) and P(u + v) as strings; empty where the premise does not hold


def _lemma_2_2_case(u: Sequence[Real], v: Sequence[Real], t: int, reading: Reading,
                    algorithm: LemmaAlgorithm) -> _Lemma22Case:
    name = _reading_name(reading, algorithm)
    uq, vq = [Fraction(x) for x in u], [Fraction(x) for x in v]
    if not 0 < t < len(uq) or len(vq) != len(uq):
        raise InputError("t", f"must index a rival (1 ≤ t < M) and v must have M = {len(uq)} entries")
    p = outputs(uq, reading, algorithm)
    inputs = {"u": [str(x) for x in uq], "v": [str(x) for x in vq], "t": t}
    if not _lemma_2_2_premise(uq, vq, t, p):
        return _Lemma22Case(name, uq, vq, p, None, inputs, {})
    q = outputs([a + b for a, b in zip(uq, vq)], reading, algorithm)
    return _Lemma22Case(name, uq, vq, p, q, inputs, {"p": [str(x) for x in p], "l": [str(x) for x in q]})


def lemma_2_2(u: Sequence[Real], v: Sequence[Real], t: int, reading: Reading = "exact",
              algorithm: LemmaAlgorithm = "shifted") -> Verdict:
    """Lemma 2.2 as written: p1 > pi, pt > 0, vt > v1 > 0, u1 + v1 > ut + vt, vk = 0 otherwise ⇒
    P(u + v) = (l1, …) with l1 > lt and l1 < p1. (Index 0 here is the paper's class 1.)"""
    c = _lemma_2_2_case(u, v, t, reading, algorithm)
    if c.q is None:
        return Verdict("2.2", c.name, True, vacuous=True, inputs=c.inputs)
    failed = ("P(u + v) is defined (the algorithm returned NaN)" if any(_is_nan(x) for x in c.q)
              else "l1 > lt" if not c.q[0] > c.q[t] else "l1 < p1" if not c.q[0] < c.p[0] else None)
    return Verdict("2.2", c.name, failed is None, failed=failed, inputs=c.inputs, values=c.values)


def lemma_2_2_condition(u: Sequence[Real], v: Sequence[Real], t: int) -> bool:
    """The exact condition under which l1 < p1 in real arithmetic (corrected Lemma 2.2):
    pt·(e^(vt − v1) − 1) > (1 − p1 − pt)·(1 − e^(−v1)). Always true for M = 2."""
    p = exact_softmax(u)
    with mpmath.workprec(exact_bits(u)):
        v1, vt = mpf_of(v[0]), mpf_of(v[t])
        return p[t] * (mpmath.exp(vt - v1) - 1) > (1 - p[0] - p[t]) * (1 - mpmath.exp(-v1))


def lemma_2_2_corrected(u: Sequence[Real], v: Sequence[Real], t: int, reading: Reading = "exact",
                        algorithm: LemmaAlgorithm = "shifted") -> Verdict:
    """Corrected Lemma 2.2. Exact reading: under the premise, l1 < p1 exactly when `lemma_2_2_condition` holds.
    Rounded readings, two classes, monotone algorithm: l1 ≤ p1 (no increase; equality where rounding merges
    them, e.g. both saturated at 1), provided the rounded inputs keep the rival's larger increase."""
    c = _lemma_2_2_case(u, v, t, reading, algorithm)
    if c.q is None:
        return Verdict("2.2-corrected", c.name, True, vacuous=True, inputs=c.inputs)
    if reading == "exact":
        holds = bool((c.q[0] < c.p[0]) == lemma_2_2_condition(c.u, c.v, t))
        return Verdict("2.2-corrected", c.name, holds, failed=None if holds else "l1 < p1 ⇔ condition",
                       inputs=c.inputs, values=c.values)
    fmt: Format = get_format(reading)
    wr = [fmt.round(a + b) for a, b in zip(c.u, c.v)]
    ur = [fmt.round(x) for x in c.u]
    if len(c.u) != 2 or not (wr[t] - wr[0] > ur[t] - ur[0]):
        return Verdict("2.2-corrected", c.name, True, vacuous=True, inputs=c.inputs, values=c.values)
    holds = bool(c.q[0] <= c.p[0])
    return Verdict("2.2-corrected", c.name, holds, failed=None if holds else "l1 ≤ p1", inputs=c.inputs,
                   values=c.values)
