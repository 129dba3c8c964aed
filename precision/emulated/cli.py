"""`softmax-sat online` (the emulated room's command): the one-hot thresholds of an online-softmax (attention)
configuration, and its constants checked: an FP8 P's clip and flush points, a finite −inf stand-in's zero rows."""
from __future__ import annotations

import argparse
import json
from dataclasses import replace

from precision.common.errors import InputError
from precision.emulated import online as on
from precision.emulated.online_constants import fp8_cast_check, stand_in_zero_rows
from precision.emulated.online_thresholds import one_hot_thresholds

CONFIGS = ("torch-cpu-flash", "flash-attn-2", "flash-attn-3", "flash-attn-4")
DTYPES = ("bfloat16", "float16", "float32")


def _config(name: str, dtype: str) -> on.OnlineSoftmax:
    return on.torch_cpu_flash(dtype) if name == "torch-cpu-flash" else on.KNOWN[name]


def configure_online(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="torch-cpu-flash", choices=CONFIGS,
                        help="a known kernel's configuration (default torch-cpu-flash: measured bit for bit against "
                             "torch's CPU flash SDPA; the flash-attn ones are models, not measured)")
    parser.add_argument("--dtype", default="bfloat16", choices=DTYPES, help="scores and output dtype")
    parser.add_argument("--seq-len", type=int, default=131072, help="keys per row (default 131,072)")
    parser.add_argument("--block", type=int, default=None, help="keys per block (overrides the configuration's)")
    parser.add_argument("--p-offset", type=int, default=None, help="P scaled by 2^offset before its cast")
    parser.add_argument("--rescale-threshold", type=float, default=None,
                        help="τ: the running max moves only when it grows by more than this (log2 units)")
    parser.add_argument("--stand-in", type=float, default=None,
                        help="a finite −inf stand-in (--stand-in=-5e4): from which scores a row returns zeros")


def run_online(args) -> int:
    if args.seq_len < 2:
        raise InputError("--seq-len", f"must be at least 2, got {args.seq_len}")
    cfg = _config(args.config, args.dtype)
    changes = {k: v for k, v in (("block", args.block), ("p_offset", args.p_offset),
                                 ("rescale_threshold", args.rescale_threshold)) if v is not None}
    if changes:
        cfg = replace(cfg, name=cfg.name + " (changed: " + ", ".join(changes) + ")", **changes)
    out = {"config": cfg.as_dict(), "thresholds": one_hot_thresholds(cfg, args.dtype, args.seq_len).as_dict()}
    if cfg.p_dtype not in (None, "input"):
        out["p_cast"] = fp8_cast_check(cfg.p_offset, cfg.rescale_threshold, cfg.p_dtype).as_dict()
    if args.stand_in is not None:
        out["stand_in"] = stand_in_zero_rows(args.stand_in, args.dtype).as_dict()
    print(json.dumps(out, indent=2, default=str))
    return 0
