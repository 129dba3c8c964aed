"""`verify` on torch.compile's softmax against eager torch.softmax, float32, two classes, measured side by side;
and the online-softmax thresholds at 128k keys.

Goals (issue 28): an exhaustive float32 verify of the compiled softmax within 2× the eager one, compile time kept
out (reported on its own); online-softmax one-hot thresholds at 131,072 keys in at most 2 s per configuration.
The verify runs alternate (eager, compiled, eager, compiled) so load from other processes falls on both alike.
Usage: python benchmarks/bench_compiled.py [--gaps 67108864 | --full] [--repeat 2]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_verify import timed_verify  # noqa: E402


def online_timings(keys: int) -> list[str]:
    """One line per configuration and dtype: the thresholds at `keys` keys and the seconds they took."""
    from precision.emulated import online as on
    from precision.emulated.online_thresholds import one_hot_thresholds
    lines = []
    for dtype in ("bfloat16", "float16", "float32"):
        for cfg in (on.torch_cpu_flash(dtype), on.FLASH2_CUDA, on.FLASH3_FP8):
            t = one_hot_thresholds(cfg, dtype, keys)
            lines.append(f"  {cfg.name:42s} {dtype:9s} top 1 from {t.top_is_one_from_gap}, others 0 from "
                         f"{t.others_zero_from_gap}: {t.seconds:.2f} s ({t.method})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gaps", type=int, default=1 << 26, help="first grid indices evaluated (default 2^26)")
    parser.add_argument("--full", action="store_true", help="every float32 gap (2^31: minutes per kernel)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--keys", type=int, default=131072, help="sequence length of the online thresholds")
    args = parser.parse_args()
    import torch

    from precision.kernels.backends import compiled
    from precision.kernels.registry import DTYPES, get_kernel, kernel_versions
    eager, comp = get_kernel("torch"), get_kernel("torch-compile")
    seconds = compiled.warm("softmax", DTYPES["float32"], 2)
    gaps = None if args.full else args.gaps
    print(f"verify float32, 2 classes, {'every gap' if gaps is None else f'the first {gaps:,} gaps'}; torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads; {kernel_versions([comp])}")
    print(f"  compile (kept out of the timings): {seconds:.2f} s")
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    certs = {}
    for _ in range(args.repeat):
        for name, k in (("eager", eager), ("compiled", comp)):
            t, certs[name] = timed_verify(k, "float32", gaps)
            times[name].append(t)
            print(f"  {name:9s} {t:8.2f} s", flush=True)
    ratio = min(times["compiled"]) / min(times["eager"])
    facts = {name: (c.top_is_one_from_gap, c.others_zero_from_gap, c.top_not_one_after_first_gaps)
             for name, c in certs.items()}
    print(f"compiled / eager = {ratio:.2f} (goal ≤ 2); facts eager {facts['eager']}, compiled {facts['compiled']}")
    print(f"online-softmax one-hot thresholds at {args.keys:,} keys (goal ≤ 2 s each):")
    start = time.perf_counter()
    print("\n".join(online_timings(args.keys)))
    print(f"  all: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
