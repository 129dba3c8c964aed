"""Proof steps shared by both lemmas: each function returns a `Claim` with its evidence."""
from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np

from precision.emulated.algorithms import AlgorithmName
from precision.emulated.lemmas import LemmaAlgorithm, outputs
from precision.emulated.thresholds import GapScan
from precision.formats.binary import BinaryFormat
from precision.formats.named_formats import get_format
from precision.formats.number_formats import mpf_of, to_fraction

from .kernel import SMT, Claim, Exhaustive, IntervalBound, Symbolic

Z3_SORTS = {"float16": (5, 11), "bfloat16": (8, 8), "float32": (8, 24), "float64": (11, 53)}


# --- real arithmetic --------------------------------------------------------------------------------
def softmax_top_increases() -> Claim:
    """∂p1/∂u1 = p1(1 − p1) > 0, with c = Σ_{i≠1} e^(u_i) > 0."""
    return Claim("in real arithmetic p1 = e^x/(e^x + c) is strictly increasing in the top logit x: "
                 "its derivative e^x·c/(e^x + c)^2 is positive",
                 Symbolic("diff(exp(x)/(exp(x) + c), x)", "> 0", {"x": {"real": True}, "c": {"positive": True}}))


def softmax_top_below_one() -> Claim:
    return Claim("in real arithmetic 1 − p1 = c/(e^x + c) > 0: no output is ever exactly 1",
                 Symbolic("1 - exp(x)/(exp(x) + c)", "> 0", {"x": {"real": True}, "c": {"positive": True}}))


def outputs_sum_to_one() -> Claim:
    return Claim("the outputs sum to 1, so p_i ≤ 1 − p1 for every rival i",
                 Symbolic("a/(a + b + c) + b/(a + b + c) + c/(a + b + c) - 1", "== 0",
                          {k: {"positive": True} for k in "abc"}))


def shifted_sum_decreases() -> Claim:
    return Claim("the max-shifted sum s = 1 + c·e^(−v1) decreases as the top logit v1 grows",
                 Symbolic("-diff(1 + c*exp(-v), v)", "> 0", {"v": {"real": True}, "c": {"positive": True}}))


# --- rounding on the δ-grid (nearest integer of y = x/δ), linear integer/real arithmetic -----------------
def _z3():
    import z3
    return z3


def nearest_is_n_above_n_minus_half() -> Claim:
    def formula():
        z3 = _z3()
        y, n, k = z3.Real("y"), z3.Int("n"), z3.Int("k")
        return z3.ForAll([y, n, k], z3.Implies(z3.And(n - 0.5 < y, y <= n, k != n),
                                                 z3.Abs(y - k) > z3.Abs(y - n)))
    return Claim("on the δ-grid with 1 = n·δ: a value x with 1 − δ/2 < x ≤ 1 has 1 as its unique nearest grid value",
                 SMT("∀ y ∈ ℝ, n, k ∈ ℤ: n − ½ < y ≤ n ∧ k ≠ n ⇒ |y − k| > |y − n|", formula))


def nearest_is_zero_below_half() -> Claim:
    def formula():
        z3 = _z3()
        y, k = z3.Real("y"), z3.Int("k")
        return z3.ForAll([y, k], z3.Implies(z3.And(0 <= y, y < 0.5, k != 0), z3.Abs(y - k) > z3.Abs(y)))
    return Claim("on the δ-grid a value 0 ≤ x < δ/2 has 0 as its unique nearest grid value",
                 SMT("∀ y ∈ ℝ, k ∈ ℤ: 0 ≤ y < ½ ∧ k ≠ 0 ⇒ |y − k| > |y|", formula))


def nearest_rounding_monotone() -> Claim:
    def formula():
        z3 = _z3()
        y1, y2, k1, k2 = z3.Real("y1"), z3.Real("y2"), z3.Int("k1"), z3.Int("k2")
        near = lambda y, k: z3.And(k - 0.5 <= y, y <= k + 0.5)
        return z3.ForAll([y1, y2, k1, k2], z3.Implies(z3.And(y1 < y2, near(y1, k1), near(y2, k2)), k1 <= k2))
    return Claim("rounding to the nearest grid value (any tie rule) is monotone",
                 SMT("∀ y1 < y2, k1 nearest to y1, k2 nearest to y2: k1 ≤ k2", formula))


def saturation_chain(threshold: str) -> Claim:
    """p1(v) ≥ p1(u) > 1 − T and p_i(v) ≤ 1 − p1(v) ⇒ p1(v) > 1 − T and p_i(v) < T."""
    def formula():
        z3 = _z3()
        pu, pv, pi, d = z3.Reals("pu pv pi d")
        t = d / 2 if threshold == "δ/2" else d
        return z3.ForAll([pu, pv, pi, d], z3.Implies(z3.And(d > 0, pv >= pu, pu > 1 - t, pi <= 1 - pv),
                                                      z3.And(pv > 1 - t, pi < t)))
    return Claim(f"chain: p1(v) ≥ p1(u) > 1 − {threshold} and p_i(v) ≤ 1 − p1(v) give p1(v) > 1 − {threshold} "
                 f"and p_i(v) < {threshold}",
                 SMT(f"∀ p1u, p1v, pi, δ > 0: p1v ≥ p1u > 1 − {threshold} ∧ pi ≤ 1 − p1v ⇒ p1v > 1 − {threshold} "
                     f"∧ pi < {threshold}", formula))


# --- IEEE rounding facts (z3's floating-point theory) ------------------------------------------------
def _fp_one_and_e(fmt: str):
    """z3, the format's sort, a free value e and the constant 1 in it."""
    z3 = _z3()
    s = z3.FPSort(*Z3_SORTS[fmt])
    return z3, s, z3.FP("e", s), z3.FPVal(1.0, s)


def one_plus_e_is_one_iff_half_ulp(fmt: str) -> Claim:
    p = Z3_SORTS[fmt][1]

    def formula():
        z3, s, e, one = _fp_one_and_e(fmt)
        return z3.Implies(z3.And(z3.fpGEQ(e, z3.FPVal(0.0, s)), z3.Not(z3.fpIsNaN(e))),
                          (z3.fpAdd(z3.RNE(), one, e) == one) == z3.fpLEQ(e, z3.FPVal(2.0 ** -p, s)))
    return Claim(f"{fmt}: fl(1 + e) = 1 exactly when 0 ≤ e ≤ 2^-{p} (half an ulp of 1, ties to even)",
                 SMT(f"{fmt}: ∀ e ≥ 0: RNE(1 + e) = 1 ⇔ e ≤ 2^-{p}", formula))


def reciprocal_is_one_iff_sum_is_one(fmt: str) -> Claim:
    def formula():
        z3, s, e, one = _fp_one_and_e(fmt)
        total = z3.fpAdd(z3.RNE(), one, e)
        return z3.Implies(z3.And(z3.fpGEQ(e, z3.FPVal(0.0, s)), z3.fpLEQ(e, one)),
                          z3.And((z3.fpDiv(z3.RNE(), one, total) == one) == (total == one),
                                 z3.fpLEQ(z3.fpDiv(z3.RNE(), one, total), one)))
    return Claim(f"{fmt}: the top output fl(1/fl(1 + e)) is at most 1, and is 1 exactly when the sum rounds to 1",
                 SMT(f"{fmt}: ∀ 0 ≤ e ≤ 1: RNE(1/RNE(1 + e)) ≤ 1 ∧ (RNE(1/RNE(1 + e)) = 1 ⇔ RNE(1 + e) = 1)", formula))


# --- rigorous bounds at a measured threshold -----------------------------------------------------------
def sum_absorbs_from_threshold(fmt: str) -> list[Claim]:
    """At the measured two-class threshold g*, e^−g* < 2^−p, so fl(e^−g*) ≤ 2^−p and 1 + it rounds to 1;
    at the representable gap below, e^−g > 2^−p + ulp(2^−p)/2, so fl(e^−g) > 2^−p and the sum exceeds 1."""
    from decimal import Decimal

    from precision.emulated.thresholds import thresholds
    f = get_format(fmt)
    if not isinstance(f, BinaryFormat):  # 2^−p is half an ulp of 1 only in a binary format of p significand bits
        raise TypeError(f"sum_absorbs_from_threshold needs a binary format, got {f.name}")
    p = f.precision
    g = f.round(to_fraction(thresholds(fmt, "shifted", 2).top_is_one_from_gap))
    below = f.value_at(f.index_of(g) - 1)
    exact = lambda v: str(Decimal(to_fraction(v).numerator) / Decimal(to_fraction(v).denominator))
    return [Claim(f"{fmt}: at the measured threshold gap {float(g)!r}, e^−gap < 2^−{p}: the sum absorbs it",
                  IntervalBound("exp(-g)", {"g": (exact(g), exact(g))}, "<", f"mpf(2)**-{p}")),
            Claim(f"{fmt}: at the gap just below, {float(below)!r}, e^−gap > 2^−{p} + 2^−{2 * p}: the sum exceeds 1",
                  IntervalBound("exp(-g)", {"g": (exact(below), exact(below))}, ">",
                                f"mpf(2)**-{p} + mpf(2)**-{2 * p}"))]


# --- exhaustive enumerations over finite formats ----------------------------------------------------
def enumerate_top_monotone(fmt: str, algorithm: AlgorithmName, classes: int) -> tuple[int, object]:
    """Every representable gap: the computed top output never decreases, and once 1 it stays 1."""
    scan = GapScan(fmt, algorithm, classes, "equal")
    idx = np.arange(scan.fmt.max_index + 1)
    top = scan.outputs(idx)[:, 0]
    bad = np.nonzero(~(top[1:] >= top[:-1]))[0]
    if len(bad):
        i = int(bad[0])
        return i + 1, {"gap": float(scan.gaps(idx[i:i + 2])[1]), "top before": float(top[i]),
                       "top after": float(top[i + 1])}
    return len(idx), None


def top_monotone_exhaustively(fmt: str, algorithm: AlgorithmName, classes: int) -> Claim:
    return Claim(f"{fmt}, {algorithm}, {classes} classes: over every representable gap the computed top output "
                 "is non-decreasing (so once 1 it stays 1)",
                 Exhaustive("top output non-decreasing over all gaps", enumerate_top_monotone,
                            {"fmt": fmt, "algorithm": algorithm, "classes": classes}))


# --- counterexample re-checks at high precision ------------------------------------------------------
def computed(u, fmt: str, algorithm: LemmaAlgorithm) -> list[Fraction]:
    """The emulated outputs as exact rationals (the emulation rounds exactly, whatever mpmath's precision)."""
    return [to_fraction(v) for v in outputs([Fraction(x) for x in u], fmt, algorithm)]


def describe(values) -> str:
    return "(" + ", ".join(mpmath.nstr(mpf_of(v) if isinstance(v, Fraction) else v, 8) for v in values) + ")"


def grid_round(x: mpmath.mpf, delta: Fraction) -> Fraction:
    """x rounded to the nearest multiple of δ (ties to even), exactly."""
    return round(to_fraction(x) / delta) * delta
