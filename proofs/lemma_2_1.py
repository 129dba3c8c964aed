"""Lemma 2.1 in each reading: the paper's statement checked as written, and the corrected statement proved.

Paper (Appendix A): u1 ∈ ℝ+, p1 > p_i, precision "where the smallest positive number is δ", δ ∈ (0, 0.1).
If p1 > 1 − δ then p1 ≡ 1, and for every v1 > u1, P(v1, u2, …, uM) = (1, 0, …, 0).
"""
from __future__ import annotations

from fractions import Fraction

import mpmath

from precision.emulated.algorithms import exact_softmax
from precision.formats.number_formats import mpf_of

from . import steps
from .kernel import Claim, Counterexample, Proof

STATEMENT = ("If p1 > 1 − δ then p1 ≡ 1, and for every v1 > u1, P(v1, u2, …, uM) = (1, 0, …, 0) "
             "(u1 > 0 the top logit, δ ∈ (0, 0.1) the smallest positive number)")
IEEE_ASSUMPTIONS = ["+, −, × and ÷ round to nearest, ties to even (IEEE 754)",
                    "exp is correctly rounded (an assumption: libm's exp is faithful, not always correctly rounded)",
                    "rounding to nearest is monotone (x ≤ y ⇒ RN(x) ≤ RN(y))",
                    "the rivals stay fixed and the top logit stays the largest"]


# --- counterexample re-checks ------------------------------------------------------------------------
def exact_p1_is_not_one(u, delta):
    p = exact_softmax(u)
    false = p[0] > 1 - mpf_of(delta) and p[0] < 1
    return false, f"p1 = {mpmath.nstr(p[0], 30)} > 1 − δ = {1 - Fraction(delta)}, yet p1 < 1 (real arithmetic)"


def nearest_grid_maps_p1_below_one(u, delta):
    d = Fraction(delta)
    p1 = exact_softmax(u)[0]
    r = steps.grid_round(p1, d)
    return bool(p1 > mpf_of(1 - d) and r != 1), \
        f"p1 = {mpmath.nstr(p1, 20)} > 1 − δ rounds to {r} on the grid of step {d}"


def ieee_top_one_others_not_zero(fmt, u, v1, algorithm="shifted"):
    p, q = steps.computed(u, fmt, algorithm), steps.computed([v1] + list(u[1:]), fmt, algorithm)
    e = mpmath.exp(mpf_of(u[1]) - mpf_of(v1))  # the rival's exact exp(u2 − v1) at high precision
    false = p[0] == 1 and q[0] == 1 and any(x != 0 for x in q[1:])
    return false, (f"{fmt} {algorithm}: P(u) = {steps.describe(p)}, P(v1, …) = {steps.describe(q)}; "
                   f"e^(u2 − v1) = {mpmath.nstr(e, 20)} is absorbed by the sum yet is not 0 on its own")


def computed_top_leaves_one(fmt, u, v1, algorithm):
    p, q = steps.computed(u, fmt, algorithm), steps.computed([v1] + list(u[1:]), fmt, algorithm)
    return p[0] == 1 and q[0] != 1, f"{fmt} {algorithm}: top output {steps.describe(p[:1])} at u1 = {u[0]}, " \
                                    f"{steps.describe(q[:1])} at v1 = {v1} > u1"


def _naive_overflows(fmt, u, v1):
    from precision.emulated.algorithms import softmax
    p = softmax([[float(x) for x in u]], fmt, "naive")[0]
    q = softmax([[float(v1)] + [float(x) for x in u[1:]]], fmt, "naive")[0]
    ev = mpmath.exp(mpf_of(v1))
    return bool(p[0] == 1 and q[0] != q[0]), (f"{fmt} naive: top output {p[0]} at u1 = {u[0]}; at v1 = {v1}, "
                                              f"e^v1 = {mpmath.nstr(ev, 12)} overflows and the output is NaN")


# --- the proofs -----------------------------------------------------------------------------------------
def exact() -> Proof:
    corrected = Proof("2.1", "exact real arithmetic",
                      "In real arithmetic no softmax output is ever 1, and p1 is strictly increasing in u1: "
                      "the softmax is always sensitive to the top logit; Lemma 2.1 is a statement about rounding.",
                      "proved", ["M ≥ 2"], [steps.softmax_top_below_one(), steps.softmax_top_increases()])
    return Proof("2.1", "exact real arithmetic", STATEMENT, "refuted", ["M ≥ 2", "δ ∈ (0, 0.1)"],
                 [steps.softmax_top_below_one(),
                  Claim("u = (10, 0), δ = 0.05: p1 > 1 − δ, yet p1 ≡ 1 fails",
                        Counterexample(exact_p1_is_not_one, {"u": [10, 0], "delta": "0.05"}))],
                 corrected)


def delta_grid_nearest() -> Proof:
    corrected = Proof("2.1", "δ-grid, exact softmax rounded once to the nearest multiple of δ",
                      "If 1/δ is an integer and p1 > 1 − δ/2, then for every v1 ≥ u1 the rounded "
                      "P(v1, u2, …, uM) = (1, 0, …, 0). (u1 > 0 and p1 > p_i are not needed.)",
                      "proved", ["outputs rounded once, to the nearest multiple of δ", "1/δ ∈ ℕ (1 is on the grid)"],
                      [steps.softmax_top_increases(), steps.outputs_sum_to_one(), steps.saturation_chain("δ/2"),
                       steps.nearest_is_n_above_n_minus_half(), steps.nearest_is_zero_below_half()])
    return Proof("2.1", "δ-grid, exact softmax rounded once to the nearest multiple of δ", STATEMENT, "refuted",
                 ["outputs rounded once, to the nearest multiple of δ"],
                 [Claim("the step 'p1 > 1 − δ ⇒ p1 ≡ 1' fails: u = (3, 0), δ = 0.05 gives p1 = 0.9526, which "
                        "rounds to 0.95",
                        Counterexample(nearest_grid_maps_p1_below_one, {"u": [3, 0], "delta": "0.05"})),
                  Claim("where 1/δ is not an integer, 1 is not on the grid at all: u = (10, 0), δ = 0.03",
                        Counterexample(nearest_grid_maps_p1_below_one, {"u": [10, 0], "delta": "0.03"}))],
                 corrected)


def delta_grid_paper_rule() -> Proof:
    return Proof("2.1", "δ-grid with the paper's rule (below δ ↦ 0, above 1 − δ ↦ 1), rounded once", STATEMENT,
                 "proved", ["each output rounded once with the paper's rule: x < δ ↦ 0, 1 − δ < x < 1 ↦ 1",
                            "u1 > 0 and p1 > p_i are not needed"],
                 [steps.softmax_top_increases(), steps.outputs_sum_to_one(), steps.saturation_chain("δ")])


def ieee(fmt: str = "float32") -> Proof:
    corrected = Proof("2.1", f"IEEE {fmt} and the other IEEE formats, max-shifted softmax",
                      "Once the computed top output is exactly 1 it stays 1 for every larger top logit (max-shifted, "
                      "shifted-reciprocal and online algorithms); the other outputs are not 0 until e^(u_i − v1) "
                      "underflows, so P(v) = (1, 0, …, 0) holds only from that second, larger gap.",
                      "proved", IEEE_ASSUMPTIONS,
                      [steps.shifted_sum_decreases()]
                      + [c for f in steps.Z3_SORTS for c in (steps.one_plus_e_is_one_iff_half_ulp(f),
                                                             steps.reciprocal_is_one_iff_sum_is_one(f))]
                      + [c for f in ("float16", "float32", "float64") for c in steps.sum_absorbs_from_threshold(f)]
                      + [steps.top_monotone_exhaustively(f, a, m) for f in ("float16", "bfloat16")
                         for a in ("shifted", "shifted_reciprocal", "online") for m in (2, 10)])
    return Proof("2.1", f"IEEE {fmt}, max-shifted softmax (computed p1 = 1 read as 'mapped to one')", STATEMENT,
                 "refuted", IEEE_ASSUMPTIONS,
                 [Claim("the paper's step 'p1 ≡ 1 ⇒ P(v) = (1, 0, …, 0)' fails: u = (17, 0), v1 = 17.5 in float32",
                        Counterexample(ieee_top_one_others_not_zero, {"fmt": fmt, "u": [17, 0], "v1": "17.5"}))],
                 corrected)


def ieee_naive() -> Proof:
    return Proof("2.1", "IEEE float16, naive softmax exp(u)/Σexp(u)", STATEMENT, "refuted", IEEE_ASSUMPTIONS,
                 [Claim("the top output is 1 at u1 = 7.625 and NaN at v1 = 11.1171875: e^v1 overflows",
                        Counterexample(_naive_overflows, {"fmt": "float16", "u": ["7.625", 0], "v1": "11.1171875"})),
                  Claim("even before overflow the naive top output leaves 1 as u1 grows: u1 = 7.625 → 7.640625",
                        Counterexample(computed_top_leaves_one, {"fmt": "float16", "u": ["7.625", 0],
                                                                 "v1": "7.640625", "algorithm": "naive"})),
                  Claim("so does the log1p form of the division-free softmax, when the top logit crosses a binade",
                        Counterexample(computed_top_leaves_one, {"fmt": "float16", "u": ["-0.34765625", "-8.28125"],
                                                                 "v1": "-0.2421875", "algorithm": "logsumexp_log1p"}))],
                 Proof("2.1", "IEEE float16, naive softmax", "No corrected statement: the naive algorithm's top "
                       "output is not monotone in the top logit and overflows to NaN; use a max-shifted algorithm.",
                       "refuted", IEEE_ASSUMPTIONS,
                       [Claim("same counterexample",
                              Counterexample(_naive_overflows, {"fmt": "float16", "u": ["7.625", 0],
                                                                "v1": "11.1171875"}))]))


def proofs() -> list[Proof]:
    return [exact(), delta_grid_nearest(), delta_grid_paper_rule(), ieee(), ieee_naive()]
