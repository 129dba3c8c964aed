"""One shard of a logits dump scanned block by block with the per-row engine (`precision.logits.rows`): per token
and dtype, its flags and how far past its own saturation gap it is (the token records), and the shard's mergeable
statistics (`precision.logits.summary`).

The engine is the one of `row_saturation` (threshold by bisection on the real kernel), called per dtype on the
block as stored (no float64 copy of the file's values is made first: values are rounded to each dtype exactly as
`saturation_of` rounds them). NaN rows, rows beyond a dtype's range and rows the kernel returns NaN or ±inf for are
flagged, never refused: one bad token does not stop a scan of a billion.

Token records (`token_dtype`), per dtype `d`: `d.flags` (bits of FLAG_BITS), `d.past_ulps` (int64; NO_ULPS where
there is none) and `d.past_threshold` (float64; NaN where there is none).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Callable

import numpy as np

from precision.formats.dtypes import ALL_DTYPES
from precision.kernels.registry import Kernel, get_kernel
from precision.logits.rows import Saturation, log_kernel_of, margin_and_log_odds, saturation_in_dtype
from precision.logits.shards import Shard
from precision.logits.summary import NO_ULPS, DtypeStatistics, merge

FLAG_BITS = {"top_is_one": 1, "others_zero": 2, "log_prob_zero": 4, "nan": 8, "overflow": 16, "beyond_reach": 32,
             "sum_exceeds_one": 64, "nonfinite_output": 128}


def token_dtype(dtypes) -> np.dtype:
    """The record of one token: per dtype its flags, past_ulps and past_threshold (little-endian, packed)."""
    return np.dtype([(f"{d}.{name}", kind) for d in dtypes
                     for name, kind in (("flags", "u1"), ("past_ulps", "<i8"), ("past_threshold", "<f8"))])


def past_ulps(s: Saturation) -> np.ndarray:
    """Per row: the number of the dtype's values between its saturation gap and its gap rounded to the dtype
    (> 0: past it); NO_ULPS for flagged rows and rows beyond reach."""
    d = ALL_DTYPES[s.dtype]
    ok = np.isfinite(s.threshold) & np.isfinite(s.gap)
    out = np.full(len(s.gap), NO_ULPS, dtype=np.int64)
    if ok.any():
        out[ok] = d.index(d.cast(s.gap[ok])) - d.index(d.cast(s.threshold[ok]))
    return out


def scan_block(block: np.ndarray, dtypes, kernel: Kernel, device: str = "cpu"
               ) -> tuple[np.ndarray, dict[str, DtypeStatistics]]:
    """The token records and statistics of one block of rows (any real dtype: values rounded to each dtype)."""
    log_kernel = log_kernel_of(kernel)
    if block.dtype.kind == "f" or block.dtype.name == "bfloat16":
        nan = np.isnan(block).any(axis=1)
        if nan.any():
            block = np.where(nan[:, None], np.zeros((), block.dtype), block)
    else:
        nan = np.zeros(len(block), dtype=bool)
        block = block.astype(np.float64)  # integers: rounded to each dtype from their exact float64 values
    # the rivals' weight (in float32 but for float64 blocks: it only guesses each row's threshold)
    margin, log_odds = margin_and_log_odds(block.astype(np.float32 if block.dtype.itemsize <= 4 else np.float64),
                                           nan, overwrite=True)
    records = np.zeros(len(block), dtype=token_dtype(dtypes))
    stats = {}
    for d in dtypes:
        s = saturation_in_dtype(block, nan, d, kernel, log_kernel, "cpu" if device is None else device, True, margin,
                                log_odds)
        ulps = past_ulps(s)
        flags = np.zeros(len(block), dtype=np.uint8)
        for name, bit in FLAG_BITS.items():
            flags |= np.where(getattr(s, name), np.uint8(bit), np.uint8(0))
        records[f"{d}.flags"] = flags
        records[f"{d}.past_ulps"] = ulps
        records[f"{d}.past_threshold"] = s.past_threshold
        stats[d] = DtypeStatistics.of(s, ulps)
    return records, stats


@functools.cache
def _malloc_trim() -> Callable[[], object] | None:
    """glibc's malloc_trim, where there is one: returns a block's freed arrays to the system, so the resident size
    stays that of one block (without it, glibc's heap grows by fragments from block to block)."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    return lambda: trim(0)


def scan_shard(shard: Shard, dtypes, kernel: Kernel | str, device: str = "cpu",
               sink: Callable[[np.ndarray], object] | None = None, rows: int | None = None,
               progress: Callable[[int], None] | None = None) -> tuple[dict[str, DtypeStatistics], np.ndarray | None]:
    """The statistics of a shard, and its token records: handed to `sink` block by block, else returned whole."""
    kernel = get_kernel(kernel)
    parts: list[np.ndarray] = []
    summaries = []
    for _, block in shard.blocks(rows):
        records, stats = scan_block(block, dtypes, kernel, device)
        summaries.append(stats)
        if sink is None:
            parts.append(records)
        else:
            sink(records)
        if progress is not None:
            progress(len(block))
        del block, records
        trim = _malloc_trim()
        if trim is not None:
            trim()
    return merge(summaries), (np.concatenate(parts) if sink is None else None)
