"""Lemmas 2.1 and 2.2, property-tested in every reading. Each test asserts what is true; the paper's
statements as written are refuted by the explicit examples kept here (found by hypothesis or by hand)."""
from fractions import Fraction

from hypothesis import example, given
from hypothesis import strategies as st

from precision.emulated.lemmas import (
    MONOTONE_ALGORITHMS,
    lemma_2_1,
    lemma_2_1_corrected,
    lemma_2_2,
    lemma_2_2_condition,
    lemma_2_2_corrected,
)
from precision.formats.named_formats import get_format
from precision.formats.number_formats import to_fraction
from precision.strategies import IEEE_FORMATS, gaps_near_threshold, signed_values, values

deltas = st.sampled_from(["0.05", "0.01", "0.001"])


def top_first(u):
    i = max(range(len(u)), key=lambda k: u[k])
    return [u[i]] + u[:i] + u[i + 1:]


@st.composite
def lemma_2_1_inputs(draw, fmt):
    """A top logit at or past the saturation gap (where the lemma has something to say), and a larger one."""
    f = get_format(fmt)
    rivals = draw(st.lists(signed_values(fmt, 20), min_size=1, max_size=4))
    gap = draw(st.one_of(gaps_near_threshold(fmt, len(rivals) + 1, spread=512), values(fmt, 48, 400)))
    u = [to_fraction(f.round(max(rivals) + gap))] + rivals
    return u, to_fraction(f.round(u[0] + draw(values(fmt, 1, 64))))


# --- Lemma 2.1 --------------------------------------------------------------------------------------
@given(u=st.lists(st.fractions(-50, 50, max_denominator=64), min_size=2, max_size=5),
       gap=st.fractions(1, 60, max_denominator=64), rise=st.fractions(0, 20, max_denominator=64), delta=deltas)
@example(u=[Fraction(10), Fraction(0)], gap=Fraction(0), rise=Fraction(1), delta="0.05")
def test_lemma_2_1_as_written_never_holds_in_exact_arithmetic(u, gap, rise, delta):
    """In real arithmetic p1 < 1 always: "p1 ≡ 1" fails whenever the premise p1 > 1 − δ holds."""
    u = [abs(max(u)) + gap + 1] + u[1:]
    verdict = lemma_2_1(u, u[0] + rise + Fraction(1, 64), "exact", delta=delta)
    assert verdict.vacuous or (not verdict.holds and verdict.failed.startswith("p1 ≡ 1"))


def test_lemma_2_1_as_written_fails_on_the_nearest_delta_grid():
    """p1 ∈ (1 − δ, 1 − δ/2) rounds to 1 − δ, not to 1."""
    verdict = lemma_2_1([3, 0], 4, "delta0.05", "rounded_once")
    assert not verdict.holds and verdict.failed.startswith("p1 ≡ 1")


@given(u=st.lists(st.fractions(-20, 20, max_denominator=16), min_size=2, max_size=5),
       gap=st.fractions(0, 12, max_denominator=16), rise=st.fractions(1, 10, max_denominator=16), delta=deltas)
def test_lemma_2_1_holds_once_rounded_on_the_delta_grid(u, gap, rise, delta):
    """Proved reading: exact softmax rounded once. With the paper's rule the premise p1 > 1 − δ suffices;
    with nearest rounding the premise must be p1 > 1 − δ/2 (the corrected statement)."""
    u = [max(u) + gap + Fraction(1, 16)] + u[1:]
    d = Fraction(delta)
    assert lemma_2_1(u, u[0] + rise, f"delta{delta}-paper", "rounded_once").holds
    assert lemma_2_1(u, u[0] + rise, f"delta{delta}", "rounded_once", delta=d / 2).holds


@given(data=st.data(), fmt=st.sampled_from(IEEE_FORMATS), algorithm=st.sampled_from(MONOTONE_ALGORITHMS))
def test_corrected_lemma_2_1_holds_for_monotone_algorithms(data, fmt, algorithm):
    u, v1 = data.draw(lemma_2_1_inputs(fmt))
    assert lemma_2_1_corrected(u, v1, fmt, algorithm).holds


def test_lemma_2_1_as_written_fails_in_float32_the_others_are_not_zero():
    verdict = lemma_2_1([17, 0], 17.5, "float32", "shifted")
    assert not verdict.holds and verdict.failed.startswith("P(v1")


def test_corrected_lemma_2_1_fails_for_the_naive_and_log1p_algorithms():
    """Counterexamples found by a scan (kept here): naive overflows to NaN; the log1p form's top output
    leaves 1 when the top logit crosses into a binade with a finer ulp."""
    assert not lemma_2_1_corrected([Fraction(3.4765625), Fraction(-4.75)], Fraction(11.1171875), "float16", "naive")
    assert not lemma_2_1_corrected([Fraction(-0.34765625), Fraction(-8.28125)], Fraction(-0.2421875),
                                   "float16", "logsumexp_log1p")


# --- Lemma 2.2 --------------------------------------------------------------------------------------
@st.composite
def lemma_2_2_inputs(draw, classes):
    u = draw(st.lists(st.fractions(-10, 10, max_denominator=32), min_size=classes, max_size=classes))
    u = [max(u) + draw(st.fractions(Fraction(1, 32), 8, max_denominator=32))] + u[1:]
    t = draw(st.integers(1, classes - 1))
    v1 = draw(st.fractions(Fraction(1, 32), 5, max_denominator=32))
    room = u[0] + v1 - u[t]  # vt must stay below this
    vt = v1 + room * Fraction(draw(st.integers(1, 1023)), 1024)
    v = [v1] + [0] * (classes - 1)
    v[t] = vt
    return u, v, t


@given(lemma_2_2_inputs(2))
def test_lemma_2_2_holds_for_two_classes_in_exact_arithmetic(args):
    assert lemma_2_2(*args, "exact").holds


@given(lemma_2_2_inputs(4))
@example(([Fraction(2), Fraction(0), Fraction(19, 10)], [Fraction(1), Fraction(11, 10), Fraction(0)], 1))
def test_corrected_lemma_2_2_exact_condition(args):
    """With a third class, raising the top logit also takes mass from it: l1 < p1 exactly when
    pt(e^(vt − v1) − 1) > (1 − p1 − pt)(1 − e^(−v1))."""
    assert lemma_2_2_corrected(*args, "exact").holds


def test_lemma_2_2_as_written_fails_with_three_classes():
    args = ([Fraction(2), Fraction(0), Fraction(19, 10)], [Fraction(1), Fraction(11, 10), Fraction(0)], 1)
    verdict = lemma_2_2(*args, "exact")
    assert not verdict.holds and verdict.failed == "l1 < p1" and not lemma_2_2_condition(*args)


@given(args=lemma_2_2_inputs(2), fmt=st.sampled_from(IEEE_FORMATS), algorithm=st.sampled_from(MONOTONE_ALGORITHMS))
def test_corrected_lemma_2_2_no_increase_for_two_classes_in_floats(args, fmt, algorithm):
    assert lemma_2_2_corrected(*args, fmt, algorithm).holds


def test_lemma_2_2_as_written_fails_once_saturated():
    verdict = lemma_2_2([30, 0], [1, Fraction(11, 10)], 1, "float32", "shifted")
    assert not verdict.holds and verdict.failed == "l1 < p1"  # both are exactly 1.0
