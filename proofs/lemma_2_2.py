"""Lemma 2.2 in each reading: the paper's statement checked as written, and the corrected statement proved.

Paper (Appendix A): p1 > p_i; for t with p_t > 0 take v with v_t > v1 > 0, u1 + v1 > u_t + v_t and v_k = 0
otherwise; then P(u + v) = (l1, …, lM) with l1 > l_t but l1 < p1.
"""
from __future__ import annotations

from fractions import Fraction

import mpmath

from precision.emulated.algorithms import exact_softmax
from precision.formats.number_formats import mpf_of

from . import steps
from .kernel import Claim, Counterexample, Proof, Symbolic
from .lemma_2_1 import IEEE_ASSUMPTIONS

STATEMENT = ("For t with p_t > 0 and v with v_t > v1 > 0, u1 + v1 > u_t + v_t, v_k = 0 otherwise: "
             "P(u + v) = (l1, …, lM) with l1 > l_t but l1 < p1")


def _plus(u, v):
    return [Fraction(a) + Fraction(b) for a, b in zip(u, v)]


def exact_l1_not_below_p1(u, v):
    p, q = exact_softmax(u), exact_softmax(_plus(u, v))
    return bool(q[0] >= p[0]), f"p = {steps.describe(p)}, l = {steps.describe(q)}: l1 ≥ p1 (real arithmetic)"


def grid_l1_not_below_p1(u, v, delta):
    d = Fraction(delta)
    p = [steps.grid_round(x, d) for x in exact_softmax(u)]
    q = [steps.grid_round(x, d) for x in exact_softmax(_plus(u, v))]
    return q[0] >= p[0], f"rounded to the grid of step {d}: p = {p}, l = {q}: l1 = p1"


def ieee_l1_not_below_p1(fmt, u, v):
    p, q = steps.computed(u, fmt, "shifted"), steps.computed(_plus(u, v), fmt, "shifted")
    e = mpmath.exp(mpf_of(u[1]) - mpf_of(u[0]))
    return q[0] >= p[0], (f"{fmt}: p = {steps.describe(p)}, l = {steps.describe(q)} (e^(u2 − u1) = "
                          f"{mpmath.nstr(e, 12)} is below half an ulp of 1): l1 = p1 = 1")


def two_class_identity() -> Claim:
    """p1 − l1 = a·b·(y − x)/((a + b)(a·x + b·y)) with a = e^u1, b = e^ut, x = e^v1, y = e^vt."""
    return Claim("two classes: p1 − l1 = ab(y − x)/((a + b)(ax + by)) > 0 whenever y = e^vt > x = e^v1",
                 Symbolic("a/(a + b) - a*x/(a*x + b*(x + d))", "> 0", {k: {"positive": True} for k in "abxd"}))


def general_identity() -> Claim:
    return Claim("M classes (c = Σ of the other e^u_k): (p1 − l1)(a + b + c)(ax + by + c) = a(b(y − x) − c(x − 1)), "
                 "so l1 < p1 ⇔ p_t(e^(vt − v1) − 1) > (1 − p1 − p_t)(1 − e^(−v1))",
                 Symbolic("(a/(a + b + c) - a*x/(a*x + b*y + c))*(a + b + c)*(a*x + b*y + c)"
                          " - a*(b*(y - x) - c*(x - 1))",
                          "== 0", {k: {"positive": True} for k in "abcxy"}))


def top_stays_ahead() -> Claim:
    return Claim("l1 > l_t: both share the denominator, and u1 + v1 > ut + vt with exp strictly increasing "
                 "(its derivative is positive)", Symbolic("diff(exp(w), w)", "> 0", {"w": {"real": True}}))


def exact() -> Proof:
    corrected = Proof("2.2", "exact real arithmetic",
                      "l1 > l_t always, and l1 < p1 exactly when p_t(e^(vt − v1) − 1) > (1 − p1 − p_t)(1 − e^(−v1)); "
                      "in particular always for two classes, and whenever the other classes carry no mass.",
                      "proved", ["M ≥ 2"], [top_stays_ahead(), general_identity(), two_class_identity()])
    return Proof("2.2", "exact real arithmetic", STATEMENT, "refuted", ["M ≥ 3"],
                 [two_class_identity(),
                  Claim("three classes: u = (2, 0, 1.9), v = (1, 1.1, 0), t = 2: raising u1 also takes mass from the "
                        "third class, and l1 > p1",
                        Counterexample(exact_l1_not_below_p1, {"u": [2, 0, "1.9"], "v": [1, "1.1", 0]}))],
                 corrected)


def delta_grid() -> Proof:
    corrected = Proof("2.2", "δ-grid, exact softmax rounded once to the nearest multiple of δ",
                      "Two classes: rounded l1 ≤ rounded p1 (no increase; equal where rounding merges them, for "
                      "instance both 1).", "proved", ["M = 2", "outputs rounded once to the nearest multiple of δ"],
                      [two_class_identity(), steps.nearest_rounding_monotone()])
    return Proof("2.2", "δ-grid, exact softmax rounded once to the nearest multiple of δ", STATEMENT, "refuted",
                 ["outputs rounded once to the nearest multiple of δ"],
                 [Claim("u = (10, 0), v = (1, 1.1), δ = 0.01: p1 and l1 both round to 1, so l1 < p1 fails",
                        Counterexample(grid_l1_not_below_p1, {"u": [10, 0], "v": [1, "1.1"], "delta": "0.01"}))],
                 corrected)


def ieee(fmt: str = "float32") -> Proof:
    corrected = Proof("2.2", "IEEE formats, max-shifted softmax",
                      "Two classes, max-shifted (or shifted-reciprocal, or online): if the rounded logits keep the "
                      "rival's larger rise, the computed l1 ≤ p1 — the top output does not increase; it stays equal "
                      "once both are saturated at 1.", "proved",
                      IEEE_ASSUMPTIONS + ["M = 2", "fl(w_t) − fl(w_1) > fl(u_t) − fl(u_1) for the rounded logits"],
                      [two_class_identity(), steps.shifted_sum_decreases()]
                      + [steps.top_monotone_exhaustively(f, a, 2) for f in ("float16", "bfloat16")
                         for a in ("shifted", "shifted_reciprocal", "online")]
                      + [steps.reciprocal_is_one_iff_sum_is_one(f) for f in steps.Z3_SORTS])
    return Proof("2.2", f"IEEE {fmt}, max-shifted softmax", STATEMENT, "refuted", IEEE_ASSUMPTIONS,
                 [Claim("u = (30, 0), v = (1, 1.1) in float32: both top outputs are exactly 1.0, so l1 < p1 fails",
                        Counterexample(ieee_l1_not_below_p1, {"fmt": fmt, "u": [30, 0], "v": [1, "1.1"]}))],
                 corrected)


def proofs() -> list[Proof]:
    return [exact(), delta_grid(), ieee()]
