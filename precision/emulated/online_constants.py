"""The constants of an online softmax checked against each other: an FP8 P's offset and format against the rescale
threshold (flash-attention#2716/#2717), and a finite stand-in for −inf as the running max's start (flashinfer#4267).

FP8 P: with exp2 and a running max m that moves only when a block's max exceeds it by more than τ (log₂ units),
P = 2^(d + offset) with d = (s − m)·c·log₂e ≤ τ, cast to the format. The cast *clips* (P ≥ max + half a step: the
saturating cast returns max, losing P − max) once d reaches a computed point, possible iff offset + τ reaches it;
the constraint offset + τ ≤ log₂(max) rules it out (sufficient; the exact bound is log₂(max + half a step)). The
cast *flushes* P to 0 once d falls below log₂(smallest subnormal / 2) − offset: such keys get weight exactly 0.
Every point is a float32 value of d found on its grid with P = exp2(d + offset) correctly rounded, as the model.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from precision.emulated.online import OnlineSoftmax, Step, attention_weights
from precision.formats.binary import BinaryFormat
from precision.formats.named_formats import BUILTIN, get_format
from precision.formats.search import first_true_index

F32 = BUILTIN["float32"]


@dataclass(frozen=True)
class Fp8CastCheck:
    """Whether the cast of P = 2^(d + offset), d ≤ τ, to an FP8 format can clip or flush, and where."""

    format: str
    offset: int
    rescale_threshold: float
    format_max: float
    clips: bool  # some d ≤ τ clips
    clip_from_d: float  # smallest float32 d whose P the cast clips (P ≥ max + half a step)
    largest_p: float  # 2^(τ + offset): the largest P the kernel can form
    weight_kept: float  # max / largest_p: the fraction of the largest key's weight the clipped cast keeps
    flush_below_d: float  # largest float32 d whose P the cast flushes to 0 (every smaller d too)
    constraint_holds: bool  # offset + τ ≤ log₂(max): FA4's constraint (sufficient for no clipping)

    def as_dict(self) -> dict:
        return asdict(self)


def _first_magnitude(fmt: BinaryFormat, pred, hi: float) -> float | None:
    """The smallest non-negative value v ≤ hi of the format where the monotone pred(v) holds (None: nowhere)."""
    top = fmt.index_of(fmt.round(min(hi, float(fmt.max_finite))))
    at = first_true_index(lambda idx: np.array([pred(float(v)) for v in fmt.values_at(np.asarray(idx))]), 0, top, 64)
    return None if at is None else float(fmt.values_at(np.array([at]))[0])


def fp8_cast_check(offset: int = 8, rescale_threshold: float = 8.0, fmt: str = "float8_e4m3fn") -> Fp8CastCheck:
    """Decide exactly whether an FP8 P can clip or flush (see the module docstring)."""
    f = get_format(fmt)
    assert isinstance(f, BinaryFormat)
    step = Step(OnlineSoftmax("check", base="2"))
    p = lambda d: step.exp2(np.array([d + offset], dtype=np.float64))  # noqa: E731
    top = float(f.max_finite)
    clip_at = _first_magnitude(F32, lambda d: p(d)[0] >= top + _half_step(f), 64.0)
    flush = _first_magnitude(F32, lambda m: f.round_array(p(-m))[0] == 0, 200.0)
    largest = 2.0 ** (rescale_threshold + offset)
    clip = math.inf if clip_at is None else clip_at
    return Fp8CastCheck(fmt, offset, rescale_threshold, top, bool(rescale_threshold >= clip), clip, largest,
                        min(1.0, top / largest), -math.inf if flush is None else -flush,
                        offset + rescale_threshold <= math.log2(top))


def _half_step(f: BinaryFormat) -> float:
    top = float(f.max_finite)
    return float(f.epsilon) * 2.0 ** math.floor(math.log2(top)) / 2


def fp8_counterexample(offset: int = 8, rescale_threshold: float = 4.0, d: float = 3.96, keys: int = 256,
                       block: int = 128) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A row that breaks a configuration whose offset + τ passes the clip point: the first block's scores are 0, the
    second block holds one score d ≤ τ log₂ units above them (so the max does not move), whose P ≈ 2^(d + offset)
    the e4m3 cast clips. Returns the row (float32 scores, scale 1), the model's weights and the exact softmax."""
    cfg = OnlineSoftmax("fp8-lazy-rescale", block=block, lanes=1, base="2", p_dtype="float8_e4m3fn",
                        p_offset=offset, rescale_threshold=rescale_threshold)
    s = np.zeros((1, keys))
    s[0, block] = float(np.float32(d * math.log(2)))
    exact = np.exp(s - s.max())
    return s, attention_weights(s, "float32", cfg), exact / exact.sum()


@dataclass(frozen=True)
class StandInCheck:
    """Rows whose every score is at or below `zero_from_score` come back as all zeros (not NaN, not an error)."""

    stand_in: float
    dtype: str
    zero_from_score: float | None  # the largest score of the dtype from which a row returns zeros (all below too)
    with_minus_inf_zero: bool  # whether the same row under a −inf start returns zeros too (it must not)

    def as_dict(self) -> dict:
        return asdict(self)


def stand_in_zero_rows(stand_in: float = -5e4, dtype: str = "float32", keys: int = 4,
                       cfg: OnlineSoftmax | None = None) -> StandInCheck:
    """From which scores a row silently returns zeros when the running max starts at a finite `stand_in`: the max
    never rises above it, every P = exp(s − stand_in) underflows, l = 0 and the kernel returns 0 for the row."""
    base = cfg or OnlineSoftmax("stand-in", lanes=1, p_dtype=None)
    with_stand_in = base.with_(max_start=stand_in)
    fmt = get_format(dtype)
    assert isinstance(fmt, BinaryFormat)

    def zeros(c: OnlineSoftmax, s: float) -> bool:
        return not attention_weights(np.full((1, keys), s), dtype, c).any()

    first = _first_magnitude(fmt, lambda m: zeros(with_stand_in, -m), 4 * abs(stand_in))
    if first is None:
        return StandInCheck(stand_in, dtype, None, False)
    return StandInCheck(stand_in, dtype, -first, zeros(base, -first))
