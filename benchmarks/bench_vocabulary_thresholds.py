"""A real kernel's thresholds at a language model's vocabulary (M = 128,256, all rivals equal), side by side in one
run: the scan as it is (16-bit dtypes searched, a ±523-step window: `precision.kernels.gaps.window_steps`) against
the rule it replaced (every 16-bit gap, a ±4096-step window), and whether the two find the same thresholds.

Goal (issue 19): at most 2 s per kernel and dtype, so that `make report` can include the vocabulary.
Usage: python benchmarks/bench_vocabulary_thresholds.py [--classes 128256] [--kernels torch,torch-log,...]
"""
from __future__ import annotations

import argparse
import time
from unittest import mock

import precision.kernels.gaps as gaps
from precision.formats.dtypes import NARROW
from precision.kernels.registry import available_kernels
from precision.kernels.scan import kernel_thresholds

FACTS = ("top_is_one_from_gap", "others_zero_from_gap", "nan_from_gap", "top_not_one_after_first")


def timed(kernel, dtype: str, classes: int):
    start = time.perf_counter()
    t = kernel_thresholds(kernel, dtype, classes)
    return t, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=128_256)
    parser.add_argument("--kernels", default="torch,torch-log", help="also timed under the old rule (slow)")
    args = parser.parse_args()
    old_rule = args.kernels.split(",")
    kernels = available_kernels()
    for k in kernels:  # warm each kernel (imports, first compilations) outside the timings
        kernel_thresholds(k, k.dtypes[0], 2)
    print(f"M = {args.classes:,}, all rivals equal; seconds per kernel and dtype")
    print(f"{'kernel':12s} {'dtype':9s} {'now':>6s} {'before':>7s} {'ratio':>6s}  top = 1 from   same facts")
    for k in kernels:
        for d in (d for d in k.dtypes if d in NARROW):
            now, s_now = timed(k, d, args.classes)
            line = f"{k.name:12s} {d:9s} {s_now:6.2f}"
            if k.name in old_rule:
                with mock.patch.object(gaps, "EXHAUSTIVE_MAX_CELLS", 1 << 40), \
                        mock.patch.object(gaps, "WINDOW_CELLS", 1 << 40):
                    before, s_before = timed(k, d, args.classes)
                same = all(getattr(now, f) == getattr(before, f) for f in FACTS)
                line += f" {s_before:7.2f} {s_before / s_now:5.1f}×  {now.top_is_one_from_gap:<12.6g} {same}"
            else:
                line += f" {'':7s} {'':6s}  {now.top_is_one_from_gap:<12.6g}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
