"""Hypothesis strategies for logit vectors in a format, in the manner of `hypothesis.extra.numpy`.

Every value drawn is exactly representable in the format, so a failing example is a real input of that format
and shrinks toward small gaps and few classes.
"""
from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from precision.emulated.thresholds import RivalsName, closed_forms
from precision.formats.dtypes import IEEE
from precision.formats.named_formats import BUILTIN, get_format
from precision.formats.number_formats import Format, to_fraction

IEEE_FORMATS = IEEE


def formats(names=IEEE_FORMATS) -> st.SearchStrategy[Format]:
    """One of the named formats."""
    return st.sampled_from([get_format(n) for n in names])


def values(fmt, min_value=0, max_value=None) -> st.SearchStrategy[Fraction]:
    """Exactly representable non-negative values of `fmt` in [min_value, max_value], drawn by grid index,
    so that subnormals, tiny and huge values are as likely as values near 1."""
    fmt = get_format(fmt)
    lo = fmt.index_of(fmt.round(min_value))
    hi = fmt.max_index if max_value is None else fmt.index_of(fmt.round(max_value))
    return st.integers(lo, hi).map(lambda i: Fraction(to_fraction(fmt.value_at(i))))


def signed_values(fmt, max_abs) -> st.SearchStrategy[Fraction]:
    """Representable values in [−max_abs, max_abs]."""
    return st.tuples(values(fmt, 0, max_abs), st.booleans()).map(lambda t: -t[0] if t[1] else t[0])


def gaps_near_threshold(fmt, classes: int = 2, rivals: RivalsName = "equal",
                        spread: int = 64) -> st.SearchStrategy[Fraction]:
    """Gaps within `spread` grid steps of the closed-form saturation gaps (where the lemmas are decided)."""
    fmt = get_format(fmt)
    forms = closed_forms(fmt, classes, rivals)
    centres = [fmt.index_of(fmt.round(Fraction(g).limit_denominator(1 << 20))) for g in forms.values()]
    return st.sampled_from(centres).flatmap(
        lambda c: st.integers(max(0, c - spread), c + spread).map(lambda i: Fraction(to_fraction(fmt.value_at(i)))))


def logit_vectors(fmt, classes=st.integers(2, 6), max_abs=None) -> st.SearchStrategy[list[Fraction]]:
    """Logit vectors of representable values: a top logit and rivals placed by gaps that are small, tied,
    near a saturation threshold, or huge; with magnitudes up to `max_abs` (default: the format's largest
    value, or 10^4 where it has none)."""
    fmt = get_format(fmt)
    if max_abs is None:
        max_abs = min(Fraction(to_fraction(fmt.max_finite if fmt.max_finite is not None else 10**4)), Fraction(10**4)) \
            if fmt.name in BUILTIN else Fraction(10**4)
    m_strategy = classes if isinstance(classes, st.SearchStrategy) else st.just(classes)

    @st.composite
    def build(draw):
        m = draw(m_strategy)
        base = draw(signed_values(fmt, max_abs / 2))
        gap = st.one_of(st.just(Fraction(0)), values(fmt, 0, 4), gaps_near_threshold(fmt, m),
                        values(fmt, 0, max_abs / 2))
        row = [base] + [Fraction(to_fraction(fmt.round(base - draw(gap)))) for _ in range(m - 1)]
        return draw(st.permutations(row)) if draw(st.booleans()) else row
    return build()
