"""`logits_past_threshold.png`: how far past its own saturation gap each row (token) is, per dtype — one figure for
a logits dump (`precision.logits.dumps`; a single file is a dump of one shard), drawn from the fixed-bin
`past_threshold` histograms of `precision.logits.summary`.

Fixed bins, not bins spread from the least value to the largest: one row 10,000 logits past its threshold would
squeeze every other row into one bin. Such a row lands in the open bin above the edges instead, and the legend
counts the rows of both open bins, and the rows the kernel returned NaN or ±inf for (no gap to measure). The figure
shows the bins from the first non-empty one to the last (and 0).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from precision.logits.summary import PAST_LOW, past_edges


@dataclass(frozen=True)
class PastThresholdBars:
    """What the figure draws: bin edges, and per dtype the rows in each bin and in the open bins outside them."""

    edges: np.ndarray  # of `past_edges()`, from the first non-empty bin to the last, 0 always among them
    counts: dict[str, np.ndarray]  # per dtype, one count per bin between the edges
    below: dict[str, int]  # rows below PAST_LOW
    above: dict[str, int]  # rows from the top of `past_edges()` on
    nonfinite_output: dict[str, int] = field(default_factory=dict)  # rows whose outputs were NaN or ±inf

    def label(self, dtype: str) -> str:
        """The dtype's legend entry, with its rows outside the bins."""
        bad = self.nonfinite_output.get(dtype, 0)
        return (f"{dtype} ({self.below[dtype]} below {PAST_LOW:g}, {self.above[dtype]} from "
                f"{past_edges()[-1]:g} on" + (f"; {bad} with NaN/inf outputs, not drawn)" if bad else ")"))


def past_threshold_bars(histograms: Mapping[str, np.ndarray],
                        nonfinite_output: Mapping[str, int] | None = None) -> PastThresholdBars:
    """The bars of the figure from each dtype's `past_threshold` histogram (`DtypeStatistics.past_histogram`, or
    `summary.past_histogram` of a file's rows), and its rows with NaN or infinite outputs."""
    edges = past_edges()
    occupied = np.flatnonzero(sum(h[1:-1] for h in histograms.values()))
    zero = int(np.searchsorted(edges, 0.0))  # the saturation point stays in view
    lo, hi = (zero, zero + 1) if not len(occupied) else (min(zero, occupied[0]), max(zero, occupied[-1] + 1))
    return PastThresholdBars(edges[lo:hi + 1], {d: h[1:-1][lo:hi] for d, h in histograms.items()},
                             {d: int(h[0]) for d, h in histograms.items()},
                             {d: int(h[-1]) for d, h in histograms.items()}, dict(nonfinite_output or {}))


def past_threshold_figure(histograms: Mapping[str, np.ndarray], path: Path, kernel: str, unit: str = "row",
                          nonfinite_output: Mapping[str, int] | None = None) -> Path:
    """Draw `past_threshold_bars(histograms, nonfinite_output)` into `path`; `unit`: what is counted ("row", or
    "token" for a dump)."""
    from precision.common.plotting import save_figure, subplots  # matplotlib loads when a figure is drawn

    bars = past_threshold_bars(histograms, nonfinite_output)
    fig, ax = subplots(figsize=(8, 4))
    for d, counts in bars.counts.items():
        ax.stairs(counts, bars.edges, lw=1.5, label=bars.label(d))
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel(f"{unit}'s top-logit gap − its saturation gap (> 0: top output is exactly 1)")
    ax.set_ylabel(f"{unit}s")
    ax.set_title(f"How far past softmax saturation each {unit} is, per dtype ({kernel})")
    ax.legend()
    return save_figure(fig, path)
