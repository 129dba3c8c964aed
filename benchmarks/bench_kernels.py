"""The real-kernel speed goals, measured in one run on this machine:

1. `softmax-sat logits` on 50,000 × 1000 float32 logits (ImageNet's validation set), 4 dtypes, the default
   kernel (torch): wall time and peak memory of the whole command (goal ≤ 60 s, ≤ 1.5 GB), and beside it a raw
   torch.softmax pass over the same file and dtypes as a whole process too (issue 24's goal: within 5× of it);
2. 4,096 × 128,256 bfloat16 logits (an LLM's next-token rows), `--dtypes bfloat16` (goal ≤ 60 s);
3. one threshold at M = 128,256: emulated (every dtype) and measured on torch (goal ≤ 1 s each).

The logits are synthetic (rivals normal with σ = 3, the top logit 0–30 above them, as a classifier's), written
to a temporary folder as .npy float32. Usage: python benchmarks/bench_kernels.py [--rows 50000] [--skip-llm]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def synthetic_logits(path: Path, rows: int, classes: int, seed: int = 0, block: int = 4096) -> Path:
    """Rows like a classifier's, written block by block (never all in memory)."""
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, classes))
    for start in range(0, rows, block):
        x = rng.normal(0, 3, (min(block, rows - start), classes)).astype(np.float32)
        x[:, 0] = x.max(axis=1) + rng.uniform(0, 30, len(x))
        out[start:start + len(x)] = x
    out.flush()
    return path


# The child reports its own high-water mark. On Linux, VmHWM: ru_maxrss would also count the pages the child
# shared with this (large) process between fork and exec.
PEAK = ("import resource, sys; from pathlib import Path; from softmax_sat import main; rc = main(sys.argv[1:]); "
        "status = Path('/proc/self/status'); lines = status.read_text().splitlines() if status.exists() else []; "
        "hwm = [int(x.split()[1]) for x in lines if x.startswith('VmHWM:')]; "
        "print(hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)")


# The floor the analysis is compared with: read the same .npy in the same chunks and run torch.softmax once per
# dtype, nothing else (a fresh process: imports and start-up counted on both sides).
RAW = ("import sys, numpy as np, torch; x = np.load(sys.argv[1], mmap_mode='r'); "
       "[torch.softmax(torch.from_numpy(np.ascontiguousarray(x[i:i + 4096])).to(getattr(torch, d)), -1).sum().item() "
       "for d in ('float16', 'bfloat16', 'float32', 'float64') for i in range(0, len(x), 4096)]")


def timed_command(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GB) of `softmax-sat ARGV` in a process of its own."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, *argv], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return seconds, int(done.stdout.split()[-1]) / 1024 ** 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--skip-llm", action="store_true")
    args = parser.parse_args()
    import torch
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = synthetic_logits(tmp / "imagenet.npy", args.rows, 1000)
        s, gb = timed_command(["logits", str(path), "--out", str(tmp / "r1")])
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", RAW, str(path)], check=True)
        raw = time.perf_counter() - start
        print(f"1. logits {args.rows} x 1000 float32, dtypes float16,bfloat16,float32,float64, kernel torch: "
              f"{s:.1f} s, peak {gb:.2f} GB (goal 60 s, 1.5 GB); a raw torch.softmax pass: {raw:.1f} s, "
              f"ratio {s / raw:.1f}x (goal 5x)")
        path.unlink()
        if not args.skip_llm:
            path = synthetic_logits(tmp / "llm.npy", 4096, 128_256, block=64)
            s, gb = timed_command(["logits", str(path), "--dtypes", "bfloat16",
                                   "--out", str(tmp / "r2"), "--no-figures"])
            print(f"2. logits 4096 x 128256, dtype bfloat16, kernel torch: {s:.1f} s, peak {gb:.2f} GB (goal 60 s)")
            path.unlink()
    from precision.emulated.thresholds import thresholds
    from precision.kernels.scan import kernel_thresholds
    for dtype in ("float16", "bfloat16", "float32", "float64"):
        start = time.perf_counter()
        t = thresholds(dtype, "shifted", 128_256, "equal")
        emulated = time.perf_counter() - start
        start = time.perf_counter()
        k = kernel_thresholds("torch", dtype, 128_256, "equal")
        measured = time.perf_counter() - start
        print(f"3. M = 128256 {dtype:8s}: emulated threshold {float(t.top_is_one_from_gap):.6g} in {emulated:.2f} s; "
              f"torch {k.top_is_one_from_gap:.6g} in {measured:.2f} s ({k.method})")


if __name__ == "__main__":
    main()
