"""Exact saturation thresholds of a softmax on a format's grid of logit gaps.

The top logit sits `gap` above its rivals: rivals "equal" puts all M−1 rivals at 0, rivals "one" puts one rival
at 0 and the other M−2 so far below (−largest finite, or −10^6 where the format has no largest) that they only
count as classes; a vector puts the rivals where it says and the top logit at max(rivals) + gap. Gaps are the
format's own non-negative values, walked by grid index: exhaustively where the grid is small enough, otherwise
by a k-ary search that is exact when the predicate is monotone in the gap (true for every algorithm here except
the naive one, whose overflow to NaN is found and reported separately).
"""
from __future__ import annotations

import copy
import decimal
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import ClassVar, Literal, TypeAlias, Union, get_args

import mpmath
import numpy as np

from precision.common.errors import InputError
from precision.emulated.algorithms import ALGORITHMS, ORDERS, AlgorithmName, Order, emulate
from precision.emulated.mode_forms import mode_closed_forms
from precision.formats.arithmetic import arithmetic, equals
from precision.formats.named_formats import get_format
from precision.formats.number_formats import Format, mpf_of, to_fraction
from precision.formats.rounding import DEFAULT_ROUNDING
from precision.formats.search import SEARCH_POINTS, first_true_index, runs

Gap: TypeAlias = Union[float, mpmath.mpf, decimal.Decimal, Fraction]  # a value of the format
RivalsName = Literal["one", "equal"]  # the named arrangements of the M − 1 rivals (see the module docstring)
RIVALS: tuple[RivalsName, ...] = get_args(RivalsName)
Rivals: TypeAlias = Union[RivalsName, Sequence[object], np.ndarray]  # a name, or the M − 1 rival logits themselves
EXHAUSTIVE_CELLS = 4_000_000  # rows × classes evaluated at once in an exhaustive scan
VERIFY_WINDOW = 256  # grid points on each side of a searched threshold that are evaluated one by one


def far_logit(fmt: Format) -> Gap:
    """A rival logit so low that it only counts as a class: −largest finite, or −10^6 where that is larger."""
    return -fmt.max_finite if fmt.max_finite is not None and fmt.max_finite < 10**6 else -(10**6)


def rival_logits(fmt: Format, classes: int, rivals: Rivals) -> np.ndarray:
    """The M−1 rival logits of an arrangement, as exact values (before rounding into the format)."""
    if classes < 2 or int(classes) != classes:
        raise InputError("classes", f"must be an integer ≥ 2, got {classes!r}")
    if isinstance(rivals, str):
        if rivals == "equal":
            return np.array([0] * (classes - 1), dtype=object)
        if rivals == "one":
            return np.array([0] + [far_logit(fmt)] * (classes - 2), dtype=object)
        raise InputError("rivals", f"must be {' or '.join(map(repr, RIVALS))} or a vector of M−1 logits, "
                                   f"got {rivals!r}")
    r = np.asarray(rivals, dtype=object).ravel()
    if len(r) != classes - 1:
        raise InputError("rivals", f"a vector needs classes−1 = {classes - 1} entries, got {len(r)}")
    if not all(np.isfinite(float(v)) for v in r):
        raise InputError("rivals", "must be finite")
    return r


class GapScan:
    """Evaluates one softmax configuration at batches of grid indices of the gap."""

    def __init__(self, fmt: Format | str, algorithm: AlgorithmName = "shifted", classes: int = 2,
                 rivals: Rivals = "equal", accumulate: Format | str | None = None, order: Order = "sequential"):
        if algorithm not in ALGORITHMS:
            raise InputError("algorithm", f"unknown {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")
        if order not in ORDERS:
            raise InputError("order", f"unknown {order!r}; expected one of {', '.join(ORDERS)}")
        self.fmt = get_format(fmt)
        self.io = arithmetic(self.fmt)
        self.acc = self.io if accumulate is None else arithmetic(accumulate)
        self.algorithm, self.classes, self.order = algorithm, classes, order
        exact = rival_logits(self.fmt, classes, rivals).tolist()  # checks a name is one of RIVALS
        self.rivals_name: RivalsName | Literal["vector"] = (
            "vector" if not isinstance(rivals, str) else "equal" if rivals == "equal" else "one")
        distinct = dict.fromkeys(exact)  # round the few distinct rivals, not M of them
        rounded = dict(zip(distinct, self.io.array(np.array(list(distinct), dtype=object))))
        self.rivals = np.array([rounded[v] for v in exact], dtype=self.io.array(np.zeros(1)).dtype)
        self.base = max(self.rivals)

    def gaps(self, idx: np.ndarray) -> np.ndarray:
        """Gap values at grid indices."""
        if self.io.vectorized:
            return self.fmt.values_at(idx)
        return np.array([self.fmt.value_at(int(i)) for i in idx], dtype=object)

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """Logit rows (B, M) in the format, the top class in column 0, at grid indices of the gap."""
        g = self.gaps(idx)
        top = self.io.add(np.full(len(g), self.base, dtype=g.dtype), g) if self.base != 0 else g
        return np.concatenate([top[:, None], np.broadcast_to(self.rivals, (len(g), len(self.rivals)))], axis=1)

    def outputs(self, idx: np.ndarray) -> np.ndarray:
        """Softmax outputs (B, M) with the top class in column 0."""
        return emulate(self.algorithm, self.rows(idx), self.io, self.acc, self.order)

    def state(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Per index: is the top output exactly 1, are the others exactly 0, is it NaN; and the top value."""
        p = self.outputs(np.asarray(idx))
        top, rest = p[:, 0], p[:, 1:]
        nan = np.array([v != v for v in top]) if top.dtype == object else np.isnan(top)
        return {"top": top, "top_one": top == 1, "others_zero": np.all(equals(rest, 0), axis=1), "nan": nan}


GAP_FACTS = ("top_is_one_from_gap", "others_zero_from_gap", "sum_exceeds_one", "nan_from_gap",
             "top_not_one_after_first")


@dataclass(kw_only=True)
class SaturationFacts:
    """Where a softmax whose top logit sits `gap` above its rivals saturates, named one way for the emulated
    thresholds, a kernel's measured thresholds and a kernel's certificate. Gaps are values of the format (exact);
    in JSON every gap is one string, its exact value in decimal (`gap_text`)."""

    top_is_one_from_gap: Gap | None = None  # first gap whose top output is exactly 1
    others_zero_from_gap: Gap | None = None  # from here on (up to a NaN) every other output is exactly 0
    sum_exceeds_one: tuple[Gap, Gap | None] | None = None  # [top_is_one_from_gap, others_zero_from_gap): top 1
    #                                                      while another output is > 0 (None: empty, or log space)
    nan_from_gap: Gap | None = None  # first gap whose outputs hold a NaN (the naive algorithm overflows)
    top_not_one_after_first: list[tuple[Gap, Gap]] = field(default_factory=list)  # closed gap intervals after
    #                                                      the first 1 where the top output is not 1 (or NaN)
    gaps_evaluated: int = 0  # grid gaps at which the softmax was computed
    facts_after: ClassVar[str | None] = None  # in JSON, the facts follow this field (None: the last one)

    def as_dict(self) -> dict:
        """JSON-ready: the configuration, then the facts; every gap as its exact decimal string."""
        own = [f.name for f in fields(self) if f.name not in _FACT_FIELDS]
        cut = own.index(self.facts_after) + 1 if self.facts_after in own else len(own)
        d = {k: copy.deepcopy(getattr(self, k)) for k in own[:cut] + list(_FACT_FIELDS) + own[cut:]}
        for key in GAP_FACTS:
            d[key] = gaps_json(d[key])
        return d


_FACT_FIELDS = tuple(f.name for f in fields(SaturationFacts))


def sum_exceeds_one(top_is_one_from_gap: Gap | None, others_zero_from_gap: Gap | None,
                    log_space: bool = False) -> tuple[Gap, Gap | None] | None:
    """`SaturationFacts.sum_exceeds_one` from the two thresholds: [top_is_one_from_gap, others_zero_from_gap)
    (open-ended where the others never all turn 0), the gaps where the top output is exactly 1 while another is
    still > 0, so the outputs sum to more than 1. None where there is no such window: the top output is never 1,
    the others are all 0 from the same gap or an earlier one, or the outputs are log-probabilities (`log_space`:
    there is no sum to exceed)."""
    if log_space or top_is_one_from_gap is None:
        return None
    if others_zero_from_gap is not None and others_zero_from_gap <= top_is_one_from_gap:
        return None
    return top_is_one_from_gap, others_zero_from_gap


def gap_text(v) -> str | None:
    """A gap as the string JSON carries: its exact value in plain decimal (`Fraction(text)` is the value, and
    `float(text)` the nearest double); a fraction `p/q` only where the value has no finite decimal expansion.

    >>> gap_text(5.5625), gap_text(93.0), gap_text(np.float32(16.63553237915039)), gap_text(Fraction(1, 3))
    ('5.5625', '93', '16.635532379150390625', '1/3')
    """
    if v is None:
        return None
    q = to_fraction(v)
    den, twos, fives = q.denominator, 0, 0
    while den % 2 == 0:
        den, twos = den // 2, twos + 1
    while den % 5 == 0:
        den, fives = den // 5, fives + 1
    if den != 1:
        return str(q)
    k = max(twos, fives)
    digits = str(abs(q.numerator) * 10**k // q.denominator).rjust(k + 1, "0")
    whole, frac = digits[:len(digits) - k], digits[len(digits) - k:].rstrip("0")
    return ("-" if q < 0 else "") + whole + ("." + frac if frac else "")


def gaps_json(v):
    """A gap, an interval of gaps or a list of them, with every gap as `gap_text`."""
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return [gaps_json(g) for g in v]
    return gap_text(v)


@dataclass
class Thresholds(SaturationFacts):
    """Saturation thresholds of one emulated configuration (the facts of `SaturationFacts`). Gaps are the
    format's own values (exact: float64 for the binary formats it carries, mpf, Decimal or Fraction otherwise)."""

    format: str
    algorithm: AlgorithmName
    classes: int
    rivals: RivalsName | Literal["vector"]
    accumulate: str | None
    order: Order
    method: str  # "exhaustive" (every grid gap), "search" (k-ary, monotone predicates) or search + local scan
    facts_after = "method"
    distinct_top_outputs: int | None = None  # over every representable gap (exhaustive only)
    closed_form: dict = field(default_factory=dict)


def search_limit(scan: GapScan) -> int:
    """The largest grid index searched: the largest finite gap, or a gap far past any threshold."""
    fmt = scan.fmt
    if fmt.searchable_range:
        return fmt.max_index
    bound = 2 * (fmt.precision_bits * math.log(2) + math.log(scan.classes)) + 64
    return fmt.index_of(fmt.round(int(bound)))


def thresholds(fmt: Format | str, algorithm: AlgorithmName = "shifted", classes: int = 2, rivals: Rivals = "equal",
               accumulate: Format | str | None = None, order: Order = "sequential",
               exhaustive: bool | None = None) -> Thresholds:
    """Exact saturation thresholds of one configuration (see the module docstring for the method).

    >>> t = thresholds("bfloat16", "shifted", classes=2)
    >>> float(t.top_is_one_from_gap), float(t.others_zero_from_gap)
    (5.5625, 93.0)
    """
    scan = GapScan(fmt, algorithm, classes, rivals, accumulate, order)
    limit = search_limit(scan)
    if exhaustive is None:
        exhaustive = scan.io.vectorized and (limit + 1) * classes <= EXHAUSTIVE_CELLS and limit < 1 << 17
    if exhaustive:
        return _exhaustive(scan, limit)
    return _searched(scan, limit)


def _record(scan: GapScan, method, top_one, others_zero, nan_from, exceptions, distinct, scanned) -> Thresholds:
    g = lambda i: None if i is None else scan.gaps(np.array([i]))[0]
    one, zero = g(top_one), g(others_zero)
    return Thresholds(
        format=scan.fmt.name, algorithm=scan.algorithm, classes=scan.classes, rivals=scan.rivals_name,
        accumulate=None if scan.acc is scan.io else scan.acc.fmt.name, order=scan.order, method=method,
        top_is_one_from_gap=one, others_zero_from_gap=zero,
        sum_exceeds_one=sum_exceeds_one(one, zero),  # every emulated algorithm outputs probabilities
        nan_from_gap=g(nan_from), top_not_one_after_first=[(g(a), g(b)) for a, b in exceptions],
        distinct_top_outputs=distinct, closed_form=closed_forms(scan.fmt, scan.classes, scan.rivals_name),
        gaps_evaluated=scanned)


@dataclass(frozen=True)
class Transitions:
    """Where a softmax scanned over consecutive grid indices changes state (offsets into the scanned range)."""

    top_one: int | None  # first index whose top output is exactly 1
    others_zero: int | None  # from here on (up to an overflow) every other output is exactly 0
    nan: int | None  # first index whose outputs hold a NaN
    not_one: list[tuple[int, int]]  # index runs after `top_one` where the top output is not 1

    @classmethod
    def of(cls, top_one: np.ndarray, others_zero: np.ndarray, nan: np.ndarray) -> "Transitions":
        """Read the transitions off per-index states of one contiguous range."""
        hits = np.flatnonzero(top_one)
        first = int(hits[0]) if len(hits) else None
        not_one = [] if first is None else [(first + a, first + b) for a, b in runs(~top_one[first:])]
        nans = np.flatnonzero(nan)
        usable = int(nans[0]) - 1 if len(nans) else len(nan) - 1  # past an overflow the outputs mean nothing
        zero_fail = np.flatnonzero(~others_zero[:usable + 1])
        zero = 0 if not len(zero_fail) else (int(zero_fail[-1]) + 1 if zero_fail[-1] < usable else None)
        return cls(first, zero, int(nans[0]) if len(nans) else None, not_one)


def _exhaustive(scan: GapScan, limit: int) -> Thresholds:
    s = scan.state(np.arange(limit + 1))
    t = Transitions.of(s["top_one"], s["others_zero"], s["nan"])
    distinct = len(np.unique(s["top"][~s["nan"]]))
    return _record(scan, "exhaustive", t.top_one, t.others_zero, t.nan, t.not_one, distinct, limit + 1)


def _searched(scan: GapScan, limit: int) -> Thresholds:
    """k-ary search for each threshold, then an exhaustive look at the grid points around it."""
    # object arithmetic pays per element, and so does a wide row: probe fewer points per round there
    width = max(2, min(SEARCH_POINTS, EXHAUSTIVE_CELLS // (64 * scan.classes))) if scan.io.vectorized else 2
    calls = [0]

    def state(idx):
        calls[0] += len(idx)
        return scan.state(idx)

    # Wide formats: gaps below 2^-64 cannot saturate anything, so look there only if pred already holds.
    start = scan.fmt.index_of(scan.fmt.round(Fraction(1, 2**64))) if limit >= 1 << 70 else 0

    def first(key, hi):
        if hi < 0:
            return None
        pred = lambda idx: state(idx)[key]
        if start and start < hi and not pred(np.array([start], dtype=object))[0]:
            return first_true_index(pred, start + 1, hi, width)
        return first_true_index(pred, 0, hi, width)

    nan_from = first("nan", limit) if scan.algorithm == "naive" else None  # only exp(u) itself overflows
    usable = limit if nan_from is None else nan_from - 1
    top_one, others_zero = first("top_one", usable), first("others_zero", usable)
    exceptions = [(nan_from, limit)] if nan_from is not None and top_one is not None else []
    if top_one is not None and scan.io.vectorized and scan.algorithm == "naive":
        # the naive algorithm is not monotone near its threshold: find the true first 1 close by
        lo = max(0, top_one - VERIFY_WINDOW)
        window = state(np.arange(lo, min(usable, top_one + VERIFY_WINDOW) + 1))["top_one"]
        top_one = lo + int(np.argmax(window))
        exceptions = [(top_one + a, top_one + b) for a, b in runs(~window[top_one - lo:])] + exceptions
    method = "search" if scan.algorithm != "naive" else f"search + ±{VERIFY_WINDOW}-step scan (not monotone)"
    return _record(scan, method, top_one, others_zero, nan_from, exceptions, None, calls[0])


def closed_forms(fmt: Format, classes: int, rivals: RivalsName | Literal["vector"]) -> dict:
    """Closed-form gaps where the top output turns 1, for rivals at equal logits (or one rival).

    - `exact_rounded_once`: the exact softmax 1/(1 + k·e^−g), k rival classes, rounded once to the format:
      it reaches 1 when it passes the midpoint between 1 and the value just below 1 (tie goes to 1).
    - `shifted_sum_absorbs`: max-shifted softmax whose sum 1 + e^−g rounds to 1 (top first, two classes):
      about p·ln 2 for a binary format of p bits.
    Under another rounding mode than nearest-even: `mode_closed_forms` (None where a threshold is never reached).
    """
    if rivals == "vector":
        return {}
    k = classes - 1 if rivals == "equal" else 1
    if fmt.rounding != DEFAULT_ROUNDING:
        return mode_closed_forms(fmt, k)
    one = fmt.round(1)
    below = to_fraction(fmt.value_at(fmt.index_of(one) - 1))
    h = (1 - below) / 2  # exact: a tiny δ must not vanish in a working precision
    if fmt.rounds_near_one_up:
        h = 2 * h  # the paper's rule maps everything above 1 − δ to 1
    half_up = (to_fraction(fmt.value_at(fmt.index_of(one) + 1)) - 1) / 2
    return {"exact_rounded_once": float(mpmath.log(mpf_of(k * (1 - h) / h))),
            "shifted_sum_absorbs": float(-mpmath.log(mpf_of(half_up)))}
