"""`softmax-sat logits FILE`: is the softmax of *your* logits already saturated, with the kernel you
run, in each dtype, and by how much?

Rows are streamed in chunks (memory bounded whatever N is); per row and dtype: the top output exactly 1 or not,
the outputs summing to more than 1, logits beyond the dtype's range and outputs the kernel returned NaN or ±inf
(flagged, never counted as "not saturated"), and the row's gap minus its own saturation gap
(`precision.logits.rows`).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from precision.common.files import write_json_atomic, write_text_atomic
from precision.common.markdown import table
from precision.formats.dtypes import IEEE
from precision.kernels.registry import Kernel, kernel_versions
from precision.kernels.scan import CELLS
from precision.logits.figures import past_threshold_figure
from precision.logits.files import LogitsFile
from precision.logits.rows import REACH, Saturation, saturation_of
from precision.logits.summary import past_histogram

LOGIT_DTYPES = IEEE


@dataclass(frozen=True)
class DtypeSummary:
    """The share of saturated rows of one dtype."""

    dtype: str
    rows: int
    saturated: int
    sum_exceeds_one: int
    overflow: int
    nan: int  # rows holding a NaN logit (a file holding one is refused when read: 0 there)
    nonfinite_output: int  # rows of finite logits whose outputs the kernel returned NaN or ±inf
    beyond_reach: int
    median_past_threshold: float | None
    max_past_threshold: float | None

    @property
    def saturated_percent(self) -> float:
        return round(100 * self.saturated / self.rows, 2)

    def as_dict(self) -> dict:
        return {**self.__dict__, "saturated_percent": self.saturated_percent}


def _join(parts: list[Saturation]) -> Saturation:
    """The per-row results of consecutive chunks as one, array field by array field."""
    first = parts[0]
    joined: dict[str, Any] = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(first)
                              if isinstance(getattr(first, f.name), np.ndarray)}
    return replace(first, **joined)


def saturation_of_file(logits: LogitsFile, dtypes, kernel: Kernel, device: str = "cpu",
                       progress: bool = False) -> dict[str, Saturation]:
    """Per dtype, the saturation of every row of the file, computed chunk by chunk."""
    for d in dtypes:
        kernel.check(d, device)  # refuse before any work
    parts: dict[str, list[Saturation]] = {d: [] for d in dtypes}
    n, c = logits.shape
    step = max(1, CELLS // (4 * c))
    with tqdm(total=n * len(dtypes), unit="row", unit_scale=True, desc=f"logits ({kernel.name})",
              file=sys.stderr, disable=not progress, mininterval=1 if sys.stderr.isatty() else 10) as bar:
        for _, block in logits.chunks(step):  # one call for every dtype: the rows' float64 work is done once
            for d, s in saturation_of(block, dtypes, kernel, device, exact_distance=True).items():
                parts[d].append(s)
            bar.update(len(block) * len(dtypes))
    return {d: _join(p) for d, p in parts.items()}


def summarize(r: Saturation) -> DtypeSummary:
    past = r.past_threshold[r.top_is_one]
    past = past[np.isfinite(past)]
    return DtypeSummary(r.dtype, len(r.gap), int(r.top_is_one.sum()), int(r.sum_exceeds_one.sum()),
                        int(r.overflow.sum()), int(r.nan.sum()), int(r.nonfinite_output.sum()),
                        int(r.beyond_reach.sum()),
                        float(np.median(past)) if len(past) else None, float(np.max(past)) if len(past) else None)


def _nullable(a: np.ndarray) -> list:
    return [float(v) if np.isfinite(v) else None for v in a]


def analyse_logits(logits: LogitsFile, out: Path, dtypes, kernel: Kernel, device: str = "cpu",
                   figures: bool = True, progress: bool = False) -> dict:
    """Write logits.json, logits.md and logits_past_threshold.png for a user's logits."""
    path = logits.path
    results = saturation_of_file(logits, dtypes, kernel, device, progress)
    summary = [summarize(r) for r in results.values()]
    data = {"file": str(path), "shape": list(logits.shape), "kernel": kernel.name, "call": kernel.summary,
            "device": device, "versions": kernel_versions([kernel]),
            "summary": [s.as_dict() for s in summary],
            "nulls": f"gap and threshold are null where a logit overflows the dtype (overflow true) or is NaN "
                     f"(nan true); threshold is null where the kernel returned NaN or ±inf for the row "
                     f"(nonfinite_output true) or the row does not saturate below a gap of {REACH:g}",
            "rows": {d: {"top_is_one": r.top_is_one.tolist(), "sum_exceeds_one": r.sum_exceeds_one.tolist(),
                         "overflow": r.overflow.tolist(), "nan": r.nan.tolist(),
                         "nonfinite_output": r.nonfinite_output.tolist(), "gap": _nullable(r.gap),
                         "threshold": _nullable(r.threshold), "past_threshold": _nullable(r.past_threshold)}
                     for d, r in results.items()}}
    lines = [f"# Saturation of the logits in `{path}`", "",
             f"{logits.shape[0]} rows × {logits.shape[1]} classes, kernel `{kernel.name}` (`{kernel.summary}`) "
             f"on {device}. *Past threshold* = the row's top-logit gap minus the gap from which its top output is "
             "exactly 1 with this kernel: how much of the logit's lead the softmax no longer shows.", ""]
    num = lambda v: "—" if v is None else f"{v:.4g}"
    lines.append(table(["dtype", "rows with top output exactly 1", "%", "outputs sum > 1", "overflow rows",
                        "rows with NaN/inf outputs", "median past threshold", "max past threshold"],
                       [[s.dtype, f"{s.saturated} / {s.rows}", s.saturated_percent, s.sum_exceeds_one, s.overflow,
                         s.nonfinite_output, num(s.median_past_threshold), num(s.max_past_threshold)]
                        for s in summary]))
    lines += nonfinite_note({s.dtype: s.nonfinite_output for s in summary}, kernel.name, "rows")
    if figures:
        past_threshold_figure(past_histograms(results), out / "logits_past_threshold.png", kernel.name,
                              nonfinite_output={s.dtype: s.nonfinite_output for s in summary})
        lines += ["", "![gap minus saturation gap per row](logits_past_threshold.png)"]
    write_json_atomic(out / "logits.json", data)
    write_text_atomic(out / "logits.md", "\n".join(lines) + "\n")
    return data


def nonfinite_note(counts: dict[str, int], kernel: str, unit: str) -> list[str]:
    """Markdown lines that say, where the kernel returned NaN or ±inf for finite logits, in which dtypes and for
    how many rows: such rows are neither saturated nor not (none: no line)."""
    bad = {d: n for d, n in counts.items() if n}
    if not bad:
        return []
    where = ", ".join(f"{n} in {d}" for d, n in bad.items())
    return ["", f"**The kernel `{kernel}` returned NaN or infinite outputs for finite logits** ({unit}: {where}): "
                "these are counted in *NaN/inf outputs*, never as saturated or not, and left out of the figure."]


def past_histograms(results: dict[str, Saturation]) -> dict[str, np.ndarray]:
    """Per dtype, the fixed-bin `past_threshold` histogram of the rows (those of a dump's statistics), for the
    figure."""
    return {d: past_histogram(r.past_threshold[np.isfinite(r.past_threshold)]) for d, r in results.items()}
