"""Where an online-softmax attention row of one top key and L − 1 equal rivals becomes exactly one-hot.

Equal rivals put the same terms in every lane of a block, so a block's sum is a few vector operations over the gaps
(the lane loop runs over the terms of one lane, at most block / lanes) and every full block has the same sum: the
thresholds at 128k keys cost about as much as at 1k. `EqualRivals.outputs` is checked against the full emulation
(`precision.emulated.online.attention_weights`) output for output.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from precision.common.errors import InputError
from precision.emulated.algorithms import tree_reduce
from precision.emulated.online import OnlineSoftmax, Step, divide, round_p
from precision.emulated.thresholds import SaturationFacts, Transitions, sum_exceeds_one
from precision.formats.arithmetic import arithmetic
from precision.formats.search import SEARCH_POINTS, first_true_index


class EqualRivals:
    """The attention row of scores (g, 0, …, 0) over `seq_len` keys under a configuration, for many gaps g at once:
    equal rivals put the same terms in every lane of a block, so a block's sum is a few vector operations over the
    gaps (the lane loop is over terms per lane, at most block / lanes), whatever the sequence length."""

    def __init__(self, cfg: OnlineSoftmax, dtype: str, seq_len: int):
        if seq_len < 2 or int(seq_len) != seq_len:
            raise InputError("seq_len", f"must be an integer ≥ 2, got {seq_len!r}")
        self.cfg, self.dtype, self.seq_len = cfg, dtype, int(seq_len)
        self.io, self.ar, self.st = arithmetic(dtype), arithmetic(cfg.accumulate), Step(cfg)
        sizes = [min(cfg.block, seq_len - j) for j in range(0, seq_len, cfg.block)]
        self.first, self.rest = sizes[0], sizes[1:]  # keys in the top's block, and in each later block

    def _terms(self, g: np.ndarray):
        """P of the top key (vector and remainder position) and of a rival (vector, remainder), unrounded."""
        st = self.st
        t_g = st.scores(self.ar.convert(g, self.io))[:, None]
        t_0 = st.scores(np.zeros_like(t_g))
        top_arg, rival_arg = st.args(t_g, t_g)[:, 0], st.args(t_0, t_g)[:, 0]
        return (st.exp(top_arg, True), st.exp(top_arg, False), st.exp(rival_arg, True), st.exp(rival_arg, False))

    def _block_sum(self, n: int, terms: tuple[np.ndarray, ...], with_top: bool) -> np.ndarray:
        """One block's sum as `lane_sum` computes it, from the four terms (the top first when `with_top`)."""
        ar, lanes = self.ar, self.cfg.lanes
        top_v, top_e, riv_v, riv_e = terms
        body = n - n % lanes
        per_lane = body // lanes
        zeros = np.zeros(len(riv_v))
        total = zeros
        if per_lane:
            other = zeros
            for _ in range(per_lane):
                other = ar.add(other, riv_v)
            first = other
            if with_top:  # lane 0: the top, then per_lane − 1 rivals
                first = top_v
                for _ in range(per_lane - 1):
                    first = ar.add(first, riv_v)
            total = tree_reduce(ar, np.column_stack([first] + [other] * (lanes - 1)))
        top_in_tail = with_top and not per_lane
        for t in [top_e] * top_in_tail + [riv_e] * (n - body - top_in_tail):
            total = ar.add(total, t)
        return total

    def outputs(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per gap: the top key's weight and the largest rival weight, as the kernel rounds them to the dtype."""
        cfg, ar = self.cfg, self.ar
        terms = self._terms(np.asarray(g, dtype=np.float64))
        top_v, top_e, riv_v, riv_e = terms
        summed = tuple((round_p(cfg, t, self.io) if cfg.sum_of == "rounded_p" else t) for t in terms)
        total = self._block_sum(self.first, summed, with_top=True)
        cache: dict[int, np.ndarray] = {}
        for n in self.rest:
            if n not in cache:
                cache[n] = self._block_sum(n, summed, with_top=False)
            total = ar.add(total, cache[n])
        vector_top = self.first >= cfg.lanes
        kinds = self._rival_kinds()
        p_top = round_p(cfg, top_v if vector_top else top_e, self.io)
        rivals = [round_p(cfg, riv_v if k == "v" else riv_e, self.io) for k in kinds]
        out = divide(cfg, ar, np.column_stack([p_top] + rivals), total)
        out = self.io.convert(out, ar)
        return out[:, 0], np.max(np.abs(out[:, 1:]), axis=1)

    def _rival_kinds(self) -> list[str]:
        """Which exps the rivals take: "v" (a vector position) and/or "e" (a remainder position)."""
        lanes = self.cfg.lanes
        kinds = set()
        for n, first in [(self.first, True)] + [(n, False) for n in self.rest]:
            body = n - n % lanes
            vec, tail = max(0, body - first), n - body - (first and not body)
            kinds |= ({"v"} if vec else set()) | ({"e"} if tail else set())
        return sorted(kinds, reverse=True)

    def state(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Per grid index of the gap: is the top weight exactly 1, every rival weight exactly 0, any weight NaN."""
        top, rival = self.outputs(self.io.fmt.values_at(np.asarray(idx)))
        return {"top_one": top == 1, "others_zero": rival == 0, "nan": np.isnan(top) | np.isnan(rival)}


@dataclass
class OnlineThresholds(SaturationFacts):
    """Where an online-softmax attention row of one top key and L − 1 equal rivals is exactly one-hot: the facts of
    `SaturationFacts`, gaps being score gaps (values of the dtype)."""

    config: str
    dtype: str
    seq_len: int
    method: str
    top_not_one_intervals: int = 0  # every interval after the first 1 where the top is not 1 (the first KEPT listed)
    seconds: float = 0.0
    facts_after = "method"


KEPT = 20  # intervals of `top_not_one_after_first` listed
WINDOW = 256  # grid steps evaluated one by one on each side of a searched transition


def one_hot_thresholds(cfg: OnlineSoftmax, dtype: str, seq_len: int) -> OnlineThresholds:
    """The exact one-hot thresholds of a configuration at a sequence length: every gap of a 16-bit dtype, or (float32)
    a bracket search for each transition and every gap within ±`WINDOW` steps of it."""
    start = time.perf_counter()
    rows = EqualRivals(cfg, dtype, seq_len)
    fmt = rows.io.fmt
    limit = fmt.max_index
    if limit < 1 << 16:
        s = rows.state(np.arange(limit + 1))
        t, evaluated, method = Transitions.of(s["top_one"], s["others_zero"], s["nan"]), limit + 1, "exhaustive"
    else:
        t, evaluated = _searched(rows, limit)
        method = f"search + ±{WINDOW}-step window"
    gap = lambda i: None if i is None else float(fmt.values_at(np.array([i]))[0])  # noqa: E731
    one, zero = gap(t.top_one), gap(t.others_zero)
    return OnlineThresholds(config=cfg.name, dtype=dtype, seq_len=seq_len, method=method, top_is_one_from_gap=one,
                            others_zero_from_gap=zero, sum_exceeds_one=sum_exceeds_one(one, zero),
                            nan_from_gap=gap(t.nan),
                            top_not_one_after_first=[(gap(a), gap(b)) for a, b in t.not_one[:KEPT]],
                            top_not_one_intervals=len(t.not_one), gaps_evaluated=evaluated,
                            seconds=time.perf_counter() - start)


def _searched(rows: EqualRivals, limit: int) -> tuple[Transitions, int]:
    evaluated = [0]

    def state(idx):
        evaluated[0] += len(idx)
        return rows.state(idx)

    def window(at):
        lo = max(0, at - WINDOW)
        s = state(np.arange(lo, min(limit, at + WINDOW) + 1))
        return lo, Transitions.of(s["top_one"], s["others_zero"], s["nan"])

    found = {}
    for key in ("nan", "top_one", "others_zero"):
        at = first_true_index(lambda idx, k=key: state(idx)[k], 0, limit, SEARCH_POINTS)
        found[key] = None if at is None else window(at)
    nan = None if found["nan"] is None else found["nan"][0] + found["nan"][1].nan
    one = zero = None
    not_one: list[tuple[int, int]] = []
    if found["top_one"] is not None:
        lo, t = found["top_one"]
        one = None if t.top_one is None else lo + t.top_one
        not_one = [(lo + a, lo + b) for a, b in t.not_one]
    if found["others_zero"] is not None:
        lo, t = found["others_zero"]
        zero = None if t.others_zero is None else lo + t.others_zero
    return Transitions(one, zero, nan, not_one), evaluated[0]
