"""Where a block-scaled format (precision.formats.block_scaled) flushes and clips a softmax's logits before it and
its probabilities after it, exactly on float32's grid of gaps.

Logits quantised before the softmax: the row [r + g, r, …, r] of M classes (the top in column 0, the M − 1 rivals at
`rival_logit` r, default 1; r + g rounded to float32) is quantised per block and passed to the max-shifted softmax
in float32 (every operation rounded, exp correctly rounded, the top summed first). The rivals sit at r, not 0: a
block quantiser, unlike the softmax, is not shift-invariant, and a rival at 0 is stored as 0 at any gap.
- `rivals_flushed_from_gap`: the rivals sharing the top's block (the first `block` classes) are all stored as 0,
  since the block's scale is set by the top. Only the top's block: the other blocks take their own scale (MX
  stores r = 1 exactly there; NVFP4's block scales are relative to the row's amax, and move them by its rounding).
- `all_rivals_flushed_from_gap`: every rival of the row is stored as 0 (MX: never, for a row of more than one
  block; NVFP4: once the other blocks' scale 448·r/(r + g) rounds to 0 in E4M3).
- `top_is_one_from_gap`: the softmax of the quantised row has a top output of exactly 1; next to it,
  `unquantised_top_is_one_from_gap`, the same softmax of the float32 row.
Probabilities quantised after the softmax, as attention quantises P before P·V: p = the same softmax of
[g, 0, …, 0] (float32), quantised per block.
- `probabilities_flushed_from_gap`: the other probabilities of the top's block are all stored as 0.
- `top_probability_clips_to` c: a top probability in (c, 1) is stored as c: its block's scale is that of the binade
  [1/2, 1), whose largest element falls short of 1 (MX: element max / 2^(emax + 1); None where 1 − 2^-24 is stored
  as itself, as in NVFP4, whose tensor scale maps a row's top to it exactly). `top_probability_clips_from_gap`:
  the first gap whose p_top exceeds c; it is stored as c until `top_probability_one_from_gap`, where p_top is
  exactly 1 and is stored as 1. (For M > 2 a p_top below 1/2 clips in its own binade too; not listed.)

Each threshold is found by `first_true_index` over float32's grid of gaps, which is exact for a predicate monotone
in the gap; the predicates are checked at `CHECKED` gaps spread below each threshold (and as many above, up to
twice it), and a fact whose check fails is named in `not_monotone` (its gap is then *a* step, not the first).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from precision.common.errors import InputError
from precision.emulated.algorithms import emulate
from precision.emulated.thresholds import GapScan, gap_text
from precision.formats.arithmetic import arithmetic
from precision.formats.block_scaled import BlockFormat, block_format, quantise
from precision.formats.named_formats import BUILTIN
from precision.formats.search import first_true_index

FLOAT32 = BUILTIN["float32"]
CHECKED = 512  # gaps at which each predicate is checked on either side of its threshold
POINTS = 64  # gaps probed per search round
GAP_FIELDS = ("rivals_flushed_from_gap", "all_rivals_flushed_from_gap", "top_is_one_from_gap",
              "unquantised_top_is_one_from_gap", "probabilities_flushed_from_gap", "top_probability_clips_from_gap",
              "top_probability_one_from_gap")


@dataclass
class BlockThresholds:
    """The gaps (float32 values) from which a block format flushes or clips; see the module docstring."""

    block_format: str
    classes: int
    rival_logit: float
    block: int
    rivals_flushed_from_gap: float | None = None
    all_rivals_flushed_from_gap: float | None = None
    top_is_one_from_gap: float | None = None
    unquantised_top_is_one_from_gap: float | None = None
    probabilities_flushed_from_gap: float | None = None
    top_probability_clips_to: float | None = None
    top_probability_clips_from_gap: float | None = None
    top_probability_one_from_gap: float | None = None
    method: str = f"search over float32 gaps; each predicate checked at {CHECKED} gaps on either side"
    not_monotone: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-ready, every gap as its exact decimal (`gap_text`)."""
        return {k: gap_text(v) if k in GAP_FIELDS else v for k, v in asdict(self).items()}


class BlockScan:
    """The quantised rows and probabilities of one block format and number of classes at float32 gap indices."""

    def __init__(self, fmt: str | BlockFormat, classes: int, rival_logit: float = 1.0):
        self.fmt = block_format(fmt)
        if not isinstance(classes, (int, np.integer)) or classes < 2:
            raise InputError("classes", f"must be an integer ≥ 2, got {classes!r}")
        r = float(rival_logit)
        with np.errstate(all="ignore"):  # a value past float32's range is refused, not an overflow
            representable = bool(np.isfinite(r) and float(np.float32(r)) == r)
        if not representable:
            raise InputError("rival_logit", f"must be a finite float32 value, got {rival_logit!r}")
        self.classes, self.rival = int(classes), r
        self.io = arithmetic("float32")
        self.logits = GapScan("float32", "shifted", self.classes, [r] * (self.classes - 1))
        self.probabilities = GapScan("float32", "shifted", self.classes, "equal")
        self.width = min(self.fmt.block, self.classes)  # the top's block

    def quantised_logits(self, idx: np.ndarray) -> np.ndarray:
        """The rows [r + g, r, …] quantised per block (float32 values)."""
        return self.io.array(quantise(self.logits.rows(idx), self.fmt))

    def top_is_one(self, idx: np.ndarray) -> np.ndarray:
        """The max-shifted float32 softmax of the quantised row has a top output of exactly 1."""
        return emulate("shifted", self.quantised_logits(idx), self.io, self.io, "sequential")[:, 0] == 1

    def rivals_flushed(self, idx: np.ndarray, width: int | None = None) -> np.ndarray:
        """The rivals among the first `width` classes (default: the top's block) are all stored as 0."""
        return np.all(self.quantised_logits(idx)[:, 1:width or self.width] == 0, axis=1)

    def probabilities_flushed(self, idx: np.ndarray) -> np.ndarray:
        q = quantise(self.probabilities.outputs(idx), self.fmt)
        return np.all(q[:, 1:self.width] == 0, axis=1)

    def top_probability_above(self, c: float):
        return lambda idx: self.probabilities.outputs(idx)[:, 0] > c

    def top_probability_stored_one(self, idx: np.ndarray) -> np.ndarray:
        return quantise(self.probabilities.outputs(idx), self.fmt)[:, 0] == 1

    def clip_value(self) -> float | None:
        """What the largest float32 below 1 is stored as, when that is less than it (the top's clip)."""
        below = float(np.nextafter(np.float32(1), np.float32(0)))
        c = float(quantise(np.array([below]), self.fmt)[0])
        return c if c < below else None


def _first(pred, name: str, failed: list[str]) -> float | None:
    """The first float32 gap where `pred` holds (None: not even at the largest), checked on either side."""
    i = first_true_index(pred, 0, FLOAT32.max_index, POINTS)
    if i is None:
        return None
    top = FLOAT32.index_of(FLOAT32.round(2 * float(FLOAT32.value_at(i)) + 1))
    below = np.unique(np.linspace(0, i - 1, CHECKED).astype(np.int64)) if i else np.array([], dtype=np.int64)
    above = np.unique(np.linspace(i, max(i, top), CHECKED).astype(np.int64))
    if (len(below) and pred(below).any()) or not pred(above).all():
        failed.append(name)
    return float(FLOAT32.values_at(np.array([i]))[0])


def block_thresholds(fmt: str | BlockFormat, classes: int, rival_logit: float = 1.0) -> BlockThresholds:
    """Where `fmt` flushes the top's block and clips the top, logits and probabilities (module docstring).

    >>> t = block_thresholds("mxfp4_e2m1", 32)
    >>> t.rivals_flushed_from_gap, t.top_probability_clips_to
    (15.0, 0.75)
    """
    s = BlockScan(fmt, classes, rival_logit)
    failed: list[str] = []
    c = s.clip_value()
    return BlockThresholds(
        block_format=s.fmt.name, classes=s.classes, rival_logit=s.rival, block=s.fmt.block,
        rivals_flushed_from_gap=_first(s.rivals_flushed, "rivals_flushed_from_gap", failed),
        all_rivals_flushed_from_gap=_first(lambda i: s.rivals_flushed(i, s.classes), "all_rivals_flushed_from_gap",
                                           failed),
        top_is_one_from_gap=_first(s.top_is_one, "top_is_one_from_gap", failed),
        unquantised_top_is_one_from_gap=_first(lambda i: s.logits.state(i)["top_one"],
                                               "unquantised_top_is_one_from_gap", failed),
        probabilities_flushed_from_gap=_first(s.probabilities_flushed, "probabilities_flushed_from_gap", failed),
        top_probability_clips_to=c,
        top_probability_clips_from_gap=None if c is None else _first(
            s.top_probability_above(c), "top_probability_clips_from_gap", failed),
        top_probability_one_from_gap=_first(s.top_probability_stored_one, "top_probability_one_from_gap", failed),
        not_monotone=failed)
