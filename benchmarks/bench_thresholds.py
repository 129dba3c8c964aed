"""Speed of the saturation engine (issue: precision engine). Run: python benchmarks/bench_thresholds.py

1. Every threshold for the built-in formats × algorithms × M ∈ {2, 10, 1000} (all rivals equal): goal < 10 s.
2. An exhaustive scan of every representable float16 and bfloat16 gap, per algorithm (M = 2): goal < 1 s each.
3. Side by side in this run: exhaustive scan against the k-ary search for the same float16 thresholds.
"""
import platform
import time

from precision.emulated.algorithms import ALGORITHMS
from precision.emulated.thresholds import thresholds
from precision.formats.named_formats import BUILTIN


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main():
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    total = 0.0
    for m in (2, 10, 1000):
        _, s = timed(lambda: [thresholds(f, a, m, "equal") for f in BUILTIN for a in ALGORITHMS])
        total += s
        print(f"all thresholds, {len(BUILTIN)} formats × {len(ALGORITHMS)} algorithms, M = {m:4d}: {s:6.2f} s")
    print(f"all thresholds, M ∈ {{2, 10, 1000}}: {total:.2f} s (goal < 10 s)")
    for fmt in ("float16", "bfloat16"):
        for a in ALGORITHMS:
            t, s = timed(lambda: thresholds(fmt, a, 2, exhaustive=True))
            print(f"exhaustive scan {fmt:8s} {a:18s}: {t.gaps_evaluated} gaps in {s:.3f} s (goal < 1 s)")
    for a in ("shifted", "online"):
        _, ex = timed(lambda: thresholds("float16", a, 10, exhaustive=True))
        _, se = timed(lambda: thresholds("float16", a, 10, exhaustive=False))
        print(f"float16 {a}, M = 10: exhaustive {ex:.3f} s, search {se:.3f} s, ratio {ex / se:.1f}×")


if __name__ == "__main__":
    main()
