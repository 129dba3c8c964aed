"""`lm compare` at scale: two 8,192 × 128,256 bfloat16 logits dumps (Llama 3's vocabulary; 2.1 GB each, written to
/tmp: the second is the first plus a small perturbation, as a bfloat16 run against a float32 one), compared token by
token (their top tokens, scored by torch.log_softmax in float32 on each dump), on one process and, with --dask, on a
local Dask cluster. Prints the seconds and the peak memory (ru_maxrss) of the one-process run. Goal: at most 60 s on
2 cores, memory bounded by a chunk.

Usage: python benchmarks/bench_lm_compare.py [--tokens 8192] [--vocabulary 128256] [--dask] [--keep]
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import ml_dtypes
import numpy as np
from numpy.lib import format as npy

from precision.lm.compare import setup
from precision.lm.compare_cli import compare_setups
from precision.logits.shards import find_shards


def write_dump(path: Path, rows: int, classes: int, seed: int, noise: float) -> None:
    """Logits N(0, 2²) with a top token lifted by U(0, 30), in blocks; `noise`: a relative perturbation."""
    rng = np.random.default_rng(0)
    jitter = np.random.default_rng(seed)
    with open(path, "wb") as f:
        npy.write_array_header_1_0(f, {"descr": npy.dtype_to_descr(np.dtype(ml_dtypes.bfloat16)),
                                       "fortran_order": False, "shape": (rows, classes)})
        for start in range(0, rows, 256):
            n = min(256, rows - start)
            x = rng.standard_normal((n, classes), dtype=np.float32) * 2
            x[np.arange(n), rng.integers(0, classes, n)] += rng.uniform(0, 30, n).astype(np.float32)
            if noise:
                x *= 1 + noise * jitter.standard_normal((n, classes), dtype=np.float32)
            f.write(x.astype(ml_dtypes.bfloat16).tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--vocabulary", type=int, default=128256)
    parser.add_argument("--dask", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the dumps in /tmp")
    args = parser.parse_args()
    a_path, b_path = Path("/tmp/bench_lm_compare_a.npy"), Path("/tmp/bench_lm_compare_b.npy")
    start = time.perf_counter()
    write_dump(a_path, args.tokens, args.vocabulary, 1, 0.0)
    write_dump(b_path, args.tokens, args.vocabulary, 2, 2 ** -8)
    print(f"two {args.tokens} × {args.vocabulary} bfloat16 dumps written in {time.perf_counter() - start:.1f} s "
          f"({a_path.stat().st_size / 2**30:.2f} GiB each)")
    try:
        a = setup(find_shards(str(a_path)), "torch-log", "float32")
        b = setup(find_shards(str(b_path)), "torch-log", "float32")
        start = time.perf_counter()
        c = compare_setups(a, b, None)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
        print(f"one process: {c.tokens} tokens in {seconds:.1f} s; peak memory {peak:.0f} MiB; outside [0.8, 1.2]: "
              f"{c.outside[0]}, [0.9, 1.1]: {c.outside[1]}; log p exactly 0 trainer only {c.a_zero_only}, sampler "
              f"only {c.b_zero_only}; k3 {c.sums['k3'] / max(c.finite, 1):.3g}")
        if args.dask:
            start = time.perf_counter()
            d = compare_setups(a, b, None, scheduler="dask", workers=2)
            print(f"dask (2 workers): {time.perf_counter() - start:.1f} s; the same numbers: "
                  f"{d.sums == c.sums and d.outside == c.outside and (d.histogram == c.histogram).all()}")
    finally:
        if not args.keep:
            a_path.unlink(missing_ok=True)
            b_path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
