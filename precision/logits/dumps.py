"""`softmax-sat logits SOURCE …`: the one logits pipeline. A single file is a dump of one shard; a dump is one
file, a glob or a folder of shards (`.npy`, `.safetensors`, Parquet, `.csv`, `.pt`), scanned on one process or
over a Dask cluster, with per-token (per-row) flags and a summary whose statistics merge exactly, so that both give
the same files byte for byte (the `scheduler` line of logits.json aside).

Writes, into `out`:
- `logits.json`: the sources (one entry per shard: file, format, shape, first token), kernel, dtypes, versions,
  and per dtype the mergeable statistics of `precision.logits.summary` (counts, min/max, fixed-bin histograms);
- `logits.md`: the table; `logits_past_threshold.png`: the merged histogram (unless `figures=False`);
- `logits.tokens-NNNNN.npy`, one per shard in source order (files beside the others, so that a run's files are
  published one by one): a record per token (`precision.logits.shard_scan`): per
  dtype its flags (bits in logits.json), past_ulps and past_threshold.
Memory is bounded by a block of rows (`shards.chunk_rows`), whatever the size of the files.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from precision.common.files import write_json_atomic, write_text_atomic
from precision.common.markdown import table
from precision.formats.dtypes import IEEE
from precision.kernels.registry import Kernel, get_kernel, kernel_versions
from precision.logits.dask_scan import check_scheduler, scan_with_dask
from precision.logits.figures import past_threshold_figure
from precision.logits.rows import REACH
from precision.logits.shard_scan import FLAG_BITS, scan_shard, token_dtype
from precision.logits.shards import Shard, find_shards
from precision.logits.summary import NO_ULPS, DtypeStatistics, histogram_legend, merge

TOKENS = "logits.tokens-"  # + NNNNN.npy
LOGIT_DTYPES = IEEE  # the dtypes a logits analysis runs by default (those of them the kernel takes)


def _npy_header(rows: int, dtype: np.dtype) -> bytes:
    """The .npy header of `rows` token records (what np.save writes for such an array)."""
    import io

    from numpy.lib import format as npy
    buffer = io.BytesIO()
    npy.write_array_header_1_0(buffer, {"descr": npy.dtype_to_descr(dtype), "fortran_order": False,
                                        "shape": (rows,)})
    return buffer.getvalue()


def tokens_path(out: Path, index: int) -> Path:
    """Where the token records of shard `index` go."""
    return Path(out) / f"{TOKENS}{index:05d}.npy"


def shards_of(sources) -> list[Shard]:
    """`find_shards(sources)`, or the shards themselves when given a list of them."""
    if isinstance(sources, list) and sources and all(isinstance(s, Shard) for s in sources):
        return sources
    return find_shards(sources)


def sources_config(sources) -> dict:
    """What decides a run's numbers on the input side: each shard's resolved path, size and modification time."""
    shards = shards_of(sources)
    return {"logits": [str(Path(s.path).resolve()) for s in shards],
            "bytes": [Path(s.path).stat().st_size for s in shards],
            "modified": [Path(s.path).stat().st_mtime_ns for s in shards]}


def scan_sources(shards: list[Shard], out: Path, dtypes, kernel: Kernel, device: str = "cpu",
                 scheduler: str | None = None, progress: bool = True, workers: int | None = None
                 ) -> dict[str, DtypeStatistics]:
    """Scan every shard (one process, or Dask), write its token records (`tokens_path`), return the merged
    statistics."""
    Path(out).mkdir(parents=True, exist_ok=True)
    records_dtype = token_dtype(dtypes)
    summaries: list[dict[str, DtypeStatistics] | None] = [None] * len(shards)
    total = sum(s.rows for s in shards)
    with tqdm(total=total, unit="token", unit_scale=True, desc=f"logits ({kernel.name})", file=sys.stderr,
              disable=not progress, mininterval=1 if sys.stderr.isatty() else 10) as bar:
        if scheduler is None:
            for i, shard in enumerate(shards):
                with open(tokens_path(out, i), "wb") as f:
                    f.write(_npy_header(shard.rows, records_dtype))
                    summaries[i], _ = scan_shard(shard, dtypes, kernel, device,
                                                 sink=lambda r: f.write(r.tobytes()), progress=bar.update)
        else:
            for i, stats, records in scan_with_dask(shards, dtypes, kernel, device, scheduler, workers):
                with open(tokens_path(out, i), "wb") as f:
                    f.write(_npy_header(shards[i].rows, records_dtype))
                    f.write(records.tobytes())
                summaries[i] = stats
                bar.update(shards[i].rows)
    return merge(summaries)


def analyse_sources(sources, out: Path, dtypes, kernel: Kernel | str, device: str = "cpu", figures: bool = True,
                    scheduler: str | None = None, progress: bool = True, workers: int | None = None) -> dict:
    """Write logits.json, logits.md, logits_past_threshold.png and logits.tokens-NNNNN.npy for a logits dump (see
    the module docstring); `sources`: paths, globs, folders (or the shards of `find_shards`); `scheduler`: None (this
    process), "dask" (a local cluster) or tcp://HOST:PORT."""
    scheduler = check_scheduler(scheduler)
    kernel = get_kernel(kernel)
    dtypes = tuple(dtypes)
    for d in dtypes:
        kernel.check(d, device)  # refuse before any work
    shards = shards_of(sources)
    out = Path(out)
    stats = scan_sources(shards, out, dtypes, kernel, device, scheduler, progress, workers)
    first = 0
    described = []
    for i, s in enumerate(shards):
        described.append({"index": i, **s.describe(), "first_token": first,
                          "tokens": tokens_path(Path("."), i).name})
        first += s.rows
    summary = [stats[d] for d in dtypes]
    data = {"sources": described, "shape": [first, shards[0].classes], "kernel": kernel.name, "call": kernel.summary,
            "device": device, "versions": kernel_versions([kernel]), "dtypes": list(dtypes),
            "scheduler": "this process" if scheduler is None else scheduler,
            "summary": [s.as_dict() for s in summary], "histograms": histogram_legend(),
            "tokens": {"files": f"{TOKENS}NNNNN.npy, one per source, in the order of `sources`",
                       "fields": {f"{d}.{k}": t.str for d in dtypes for k, t in
                                  (("flags", np.dtype("u1")), ("past_ulps", np.dtype("<i8")),
                                   ("past_threshold", np.dtype("<f8")))},
                       "flag_bits": FLAG_BITS, "no_past_ulps": int(NO_ULPS),
                       "past_ulps": "values of the dtype between the row's saturation gap and its gap rounded to "
                                    "the dtype (> 0: past it)"},
            "nulls": f"past_threshold and threshold cover the rows that are neither NaN, overflowing, returned NaN or "
                     f"±inf by the kernel (nonfinite_output), nor beyond a gap of {REACH:g} (beyond_reach); min, max "
                     "and median_bin are null where there is no such row"}
    write_json_atomic(out / "logits.json", data, indent=1)
    write_text_atomic(out / "logits.md", _markdown(data, summary, kernel, device, figures))
    if figures:
        past_threshold_figure({s.dtype: s.past_histogram for s in summary}, out / "logits_past_threshold.png",
                              kernel.name, "token", {s.dtype: s.nonfinite_output for s in summary})
    return data


def _markdown(data: dict, summary: list[DtypeStatistics], kernel: Kernel, device: str, figures: bool) -> str:
    n, c = data["shape"]
    sources = data["sources"]
    where = sources[0]["file"] if len(sources) == 1 else f"{len(sources)} shards ({sources[0]['file']} …)"
    num = lambda v: "—" if v is None else f"{v:.4g}"
    lines = [f"# Saturation of the logits in {where}", "",
             f"{n} tokens × {c} classes, kernel `{kernel.name}` (`{kernel.summary}`) on {device}. *Past threshold* = "
             "the token's top-logit gap minus the gap from which its top output is exactly 1 (log-probability "
             "exactly 0) with this kernel; *ulps* counts the dtype's values between the two.", ""]
    rows = []
    for s in summary:
        bin_ = s.median_past_bin()
        median = "—" if bin_ is None else f"[{num(bin_[0])}, {num(bin_[1])})"
        rows.append([s.dtype, f"{s.saturated} / {s.rows}", s.saturated_percent, s.others_zero, s.sum_exceeds_one,
                     s.log_prob_zero, s.nan, s.overflow, s.nonfinite_output, s.beyond_reach, median,
                     num(s.past_max)])
    lines.append(table(["dtype", "top output exactly 1", "%", "others all exactly 0", "outputs sum > 1",
                        "log p exactly 0", "NaN rows", "overflow rows", "rows with NaN/inf outputs", "beyond reach",
                        "median past threshold (bin)", "max past threshold"], rows))
    lines += nonfinite_note({s.dtype: s.nonfinite_output for s in summary}, kernel.name, "tokens")
    lines += ["", f"Per-token flags: `{TOKENS}NNNNN.npy`, one per source (fields and flag bits in logits.json)."]
    if figures:
        lines += ["", "![gap minus saturation gap per token](logits_past_threshold.png)"]
    return "\n".join(lines) + "\n"


def nonfinite_note(counts: dict[str, int], kernel: str, unit: str) -> list[str]:
    """Markdown lines that say, where the kernel returned NaN or ±inf for finite logits, in which dtypes and for
    how many rows: such rows are neither saturated nor not (none: no line)."""
    bad = {d: n for d, n in counts.items() if n}
    if not bad:
        return []
    where = ", ".join(f"{n} in {d}" for d, n in bad.items())
    return ["", f"**The kernel `{kernel}` returned NaN or infinite outputs for finite logits** ({unit}: {where}): "
                "these are counted in *NaN/inf outputs*, never as saturated or not, and left out of the figure."]
