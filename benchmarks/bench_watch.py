"""Overhead of `watch` on a real forward pass, measured side by side in one run: SqueezeNet 1.1 (../shared/models)
on a batch of 64 images at 224 px on this CPU, bare against watched (float32 and bfloat16, kernel torch), with and
without the cross-entropy gradient check. Goal: ≤ 5 % of the forward time.

Usage: SOFTMAX_SAT_WEIGHTS=../shared/models python benchmarks/bench_watch.py [--batch 64] [--repeats 10]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from attacks.models import load_model
from precision.logits.watch import watch


def median_seconds(model, x, repeats: int) -> float:
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    model = load_model("squeezenet1_1")
    x = torch.rand(args.batch, 3, 224, 224) * 255
    median_seconds(model, x, 2)  # warm up
    rounds = []
    for _ in range(3):  # interleaved, so that drifts of the machine hit every variant alike
        bare = median_seconds(model, x, args.repeats)
        with watch(model, ("float32", "bfloat16"), warn_share=1.0) as w:
            watched = median_seconds(model, x, args.repeats)
        with watch(model, ("float32", "bfloat16"), gradients=True, warn_share=1.0) as w:
            with_grads = median_seconds(model, x, args.repeats)
        rounds.append((bare, watched, with_grads))
    bare, watched, with_grads = (statistics.median(r[i] for r in rounds) for i in range(3))
    with torch.no_grad():
        logits = model(x)
    hook = watch(model, ("float32", "bfloat16"), gradients=True, warn_share=1.0)
    start = time.perf_counter()
    for _ in range(args.repeats):
        hook.observe(logits)
    alone = (time.perf_counter() - start) / args.repeats
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; SqueezeNet 1.1, batch {args.batch}, "
          f"median of {args.repeats} × 3 rounds; {len(w.steps)} steps recorded by the last watch")
    print(f"  bare forward              : {1000 * bare:8.1f} ms")
    print(f"  watched (float32, bf16)   : {1000 * watched:8.1f} ms  overhead {100 * (watched / bare - 1):+.1f} %")
    print(f"  watched + CE gradient     : {1000 * with_grads:8.1f} ms  overhead {100 * (with_grads / bare - 1):+.1f} %")
    print(f"  the hook alone (with CE)  : {1000 * alone:8.1f} ms  = {100 * alone / bare:.2f} % of the bare forward")


if __name__ == "__main__":
    main()
