"""The opt-in report section `--block-formats`: where MX and NVFP4 flush the top's block and clip the top, logits
quantised before a float32 softmax and probabilities after it (precision.emulated.block_thresholds)."""
from __future__ import annotations

from precision.common.markdown import table
from precision.emulated.block_thresholds import block_thresholds
from precision.formats.block_scaled import BLOCK_FORMATS

BLOCK_CLASSES = (32, 1000)  # one MX block (two NVFP4 blocks), and a row of many blocks


def block_format_rows(classes=None) -> list[dict]:
    """`block_thresholds` of every block format at each number of classes (default `BLOCK_CLASSES`: about 10 s),
    rivals at 1."""
    return [block_thresholds(f, m).as_dict() for m in classes or BLOCK_CLASSES for f in BLOCK_FORMATS]


def _gap(v) -> str:
    return "never" if v is None else f"{float(v):.9g}"


def block_formats_markdown(rows: list[dict]) -> str:
    """The section: one row per block format × classes."""
    clip = lambda r: "no clip" if r["top_probability_clips_to"] is None else \
        f"{r['top_probability_clips_to']:g} for gaps in [{_gap(r['top_probability_clips_from_gap'])}, " \
        f"{_gap(r['top_probability_one_from_gap'])})"
    return "\n".join([
        "## Block-scaled formats (MX, NVFP4): logits quantised before the softmax, probabilities after it", "",
        "Logits [1 + g, 1, …, 1] quantised per block (MX: block 32, power-of-two scale floor(log2 amax) − emax; "
        "NVFP4: block 16, E4M3 scale, each row its own tensor), then the max-shifted softmax in float32. The block's "
        "scale is set by its largest value, so the top flushes the rivals of its own block (only those: the other "
        "blocks keep their own scale). Probabilities of [g, 0, …, 0] quantised as attention quantises P before "
        "P·V: the other probabilities of the top's block are flushed, and a top probability below 1 takes the "
        "scale of [1/2, 1), where the element's largest value falls short of 1, so it clips. Gaps are float32 "
        "values, each the first where the fact holds (not one float32 step below).", "",
        table(["block format", "classes", "rivals of the top's block = 0 from gap", "every rival = 0 from gap",
               "softmax top = 1 from gap",
               "(unquantised)", "other probabilities of the block = 0 from gap", "top probability stored as",
               "not monotone"],
              [[r["block_format"], r["classes"], _gap(r["rivals_flushed_from_gap"]),
                _gap(r["all_rivals_flushed_from_gap"]), _gap(r["top_is_one_from_gap"]),
                _gap(r["unquantised_top_is_one_from_gap"]), _gap(r["probabilities_flushed_from_gap"]), clip(r),
                ", ".join(r["not_monotone"]) or "—"] for r in rows])])
