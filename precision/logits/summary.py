"""Statistics of a logits dump that merge exactly: counts, and histograms with fixed bin edges, so that the
statistics of shards scanned anywhere, in any order, add up to those of one scan of everything, bit for bit.

Per dtype: rows; rows whose top output is exactly 1 (log-space kernels: log-probability exactly 0), whose other
outputs are all exactly 0, whose outputs sum to more than 1, whose top log-probability is exactly 0; rows flagged
`nan` or `overflow` (the logits), or `nonfinite_output` (the kernel returned NaN or ±inf for finite logits);
rows that do not saturate below the engine's REACH (`beyond_reach`); the least and largest `past_threshold` and
`threshold` (min and max merge exactly); and two histograms:
- `past_ulps`: the row's gap (rounded to the dtype) minus its saturation gap, in steps of the dtype's grid (an
  integer: the number of values of the dtype between the two), in signed powers of two: bin 0 holds 0; bin ±(k+1)
  holds ±[2^k, 2^(k+1)).
- `past_threshold`: gap − threshold in logits, PAST_WIDTH wide bins from PAST_LOW, with a bin below and one above.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from precision.logits.rows import Saturation

PAST_LOW, PAST_WIDTH, PAST_BINS = -32.0, 0.25, 512  # [-32, 96) in quarter logits, plus below and above
ULP_POWERS = 63  # |past_ulps| < 2^63: bins ±[2^k, 2^(k+1)) for k = 0 … 62, and 0
COUNTS = ("rows", "saturated", "others_zero", "sum_exceeds_one", "log_prob_zero", "nan", "overflow",
          "nonfinite_output", "beyond_reach")
NO_ULPS = np.iinfo(np.int64).min  # past_ulps of a row that has none (flagged, or beyond reach)


def past_edges() -> np.ndarray:
    """The inner edges of the `past_threshold` histogram (PAST_BINS + 1 of them)."""
    return PAST_LOW + PAST_WIDTH * np.arange(PAST_BINS + 1)


def past_bins(past: np.ndarray) -> np.ndarray:
    """Histogram bin of each finite past_threshold: 0 below PAST_LOW, PAST_BINS + 1 from the top edge on."""
    b = np.floor((past - PAST_LOW) / PAST_WIDTH)
    return (np.clip(b, -1, PAST_BINS) + 1).astype(np.int64)


def past_histogram(past: np.ndarray) -> np.ndarray:
    """The `past_threshold` histogram (PAST_BINS + 2 counts, the open bins below and above included) of finite
    values."""
    return np.bincount(past_bins(past), minlength=PAST_BINS + 2).astype(np.int64)


def ulp_bins(ulps: np.ndarray) -> np.ndarray:
    """Histogram bin (0 … 2·ULP_POWERS) of integer distances: ULP_POWERS holds 0, ULP_POWERS ± (k + 1) holds
    ±[2^k, 2^(k+1)); exact for every int64 (the power is corrected after the float estimate)."""
    u = np.asarray(ulps, dtype=np.int64)
    mag = np.abs(u)
    k = np.frexp(mag.astype(np.float64))[1].astype(np.int64) - 1  # floor(log2 |u|), or one more (rounded up)
    k = np.clip(k, 0, ULP_POWERS - 1)
    k -= (mag < np.left_shift(np.int64(1), k)).astype(np.int64)
    return np.where(u == 0, ULP_POWERS, ULP_POWERS + np.sign(u) * (k + 1))


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


@dataclass
class DtypeStatistics:
    """The mergeable statistics of the rows of one dtype (see the module docstring)."""

    dtype: str
    rows: int = 0
    saturated: int = 0
    others_zero: int = 0
    sum_exceeds_one: int = 0
    log_prob_zero: int = 0
    nan: int = 0
    overflow: int = 0
    nonfinite_output: int = 0
    beyond_reach: int = 0
    past_min: float | None = None
    past_max: float | None = None
    threshold_min: float | None = None
    threshold_max: float | None = None
    past_histogram: np.ndarray = field(default_factory=lambda: np.zeros(PAST_BINS + 2, dtype=np.int64))
    ulps_histogram: np.ndarray = field(default_factory=lambda: np.zeros(2 * ULP_POWERS + 1, dtype=np.int64))

    @classmethod
    def of(cls, s: Saturation, past_ulps: np.ndarray) -> "DtypeStatistics":
        """The statistics of one block's engine result and its past_ulps (NO_ULPS where none)."""
        measured = ~(s.nan | s.overflow | s.nonfinite_output) & np.isfinite(s.threshold)
        past = s.past_threshold[measured]
        threshold = s.threshold[measured]
        return cls(s.dtype, len(s.gap), int(s.top_is_one.sum()), int(s.others_zero.sum()),
                   int(s.sum_exceeds_one.sum()), int(s.log_prob_zero.sum()), int(s.nan.sum()), int(s.overflow.sum()),
                   int(s.nonfinite_output.sum()), int(s.beyond_reach.sum()),
                   float(past.min()) if len(past) else None, float(past.max()) if len(past) else None,
                   float(threshold.min()) if len(past) else None, float(threshold.max()) if len(past) else None,
                   past_histogram(past),
                   np.bincount(ulp_bins(past_ulps[measured]), minlength=2 * ULP_POWERS + 1).astype(np.int64))

    def merge(self, other: "DtypeStatistics") -> "DtypeStatistics":
        """These rows and the other's: counts and histograms added, extremes compared (exact, any order)."""
        if other.dtype != self.dtype:
            raise ValueError(f"cannot merge statistics of {self.dtype} with {other.dtype}")
        out = DtypeStatistics(self.dtype, past_min=_min(self.past_min, other.past_min),
                              past_max=_max(self.past_max, other.past_max),
                              threshold_min=_min(self.threshold_min, other.threshold_min),
                              threshold_max=_max(self.threshold_max, other.threshold_max),
                              past_histogram=self.past_histogram + other.past_histogram,
                              ulps_histogram=self.ulps_histogram + other.ulps_histogram)
        for c in COUNTS:
            setattr(out, c, getattr(self, c) + getattr(other, c))
        return out

    @property
    def saturated_percent(self) -> float:
        return round(100 * self.saturated / self.rows, 2) if self.rows else 0.0

    def median_past_bin(self) -> list[float | None] | None:
        """[low, high) edges of the past_threshold bin holding the median measured row (None: an open end)."""
        total = int(self.past_histogram.sum())
        if not total:
            return None
        b = int(np.searchsorted(np.cumsum(self.past_histogram), (total + 1) // 2))
        edges = [None, *past_edges().tolist(), None]
        return [edges[b], edges[b + 1]]

    def as_dict(self) -> dict:
        """Strict-JSON statistics (histograms as sparse {bin: count} of their non-empty bins)."""
        counts = {c: int(getattr(self, c)) for c in COUNTS}
        return {"dtype": self.dtype, **counts, "saturated_percent": self.saturated_percent,
                "past_threshold": {"min": self.past_min, "max": self.past_max, "median_bin": self.median_past_bin(),
                                   "histogram": _sparse(self.past_histogram)},
                "threshold": {"min": self.threshold_min, "max": self.threshold_max},
                "past_ulps": {"histogram": _sparse(self.ulps_histogram)}}

    @classmethod
    def from_dict(cls, d: dict) -> "DtypeStatistics":
        """The statistics `as_dict` wrote (to merge summaries of runs written earlier)."""
        def dense(sparse: dict, size: int) -> np.ndarray:
            a = np.zeros(size, dtype=np.int64)
            for k, v in sparse.items():
                a[int(k)] = v
            return a
        out = cls(d["dtype"], past_min=d["past_threshold"]["min"], past_max=d["past_threshold"]["max"],
                  threshold_min=d["threshold"]["min"], threshold_max=d["threshold"]["max"],
                  past_histogram=dense(d["past_threshold"]["histogram"], PAST_BINS + 2),
                  ulps_histogram=dense(d["past_ulps"]["histogram"], 2 * ULP_POWERS + 1))
        for c in COUNTS:
            setattr(out, c, int(d[c]))
        return out


def _sparse(h: np.ndarray) -> dict[str, int]:
    return {str(i): int(h[i]) for i in np.flatnonzero(h)}


def merge(summaries) -> dict[str, DtypeStatistics]:
    """Per dtype, the merge of several summaries (dicts dtype → DtypeStatistics), in any order."""
    out: dict[str, DtypeStatistics] = {}
    for s in summaries:
        for d, stats in s.items():
            out[d] = out[d].merge(stats) if d in out else stats
    return out


def histogram_legend() -> dict:
    """What the histogram bins of `as_dict` mean, for the JSON beside them."""
    low, width = f"{PAST_LOW:g}", f"{PAST_WIDTH:g}"
    return {"past_threshold": f"bin 0: below {low}; bin i (1 … {PAST_BINS}): [{low} + {width}·(i−1), "
                              f"{low} + {width}·i); bin {PAST_BINS + 1}: from {PAST_LOW + PAST_WIDTH * PAST_BINS:g} on",
            "past_ulps": f"bin {ULP_POWERS}: 0 steps; bin {ULP_POWERS} + (k + 1): [2^k, 2^(k+1)) steps past; "
                         f"bin {ULP_POWERS} − (k + 1): [2^k, 2^(k+1)) steps short (k = 0 … {ULP_POWERS - 1})"}
