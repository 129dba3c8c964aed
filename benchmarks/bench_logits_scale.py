"""A logits dump at language-model scale through `softmax-sat logits` (precision.logits.dumps.analyse_sources):
8,192 tokens × 128,256 classes in bfloat16 (about 10⁹ logits, 2.1 GB), log-probabilities with `torch-log`.

Synthetic logits (no model): per token N(0, 2²) over the vocabulary and one random token lifted by U(0, 30), cast
to bfloat16, written to one .safetensors file in /tmp (bounded memory), then split into 8 shards. Measured, each
in a fresh process (time and the process's own peak RSS):
  1. one file, this process;  2. 8 shards, this process;  3. 8 shards over a local Dask cluster (2 workers).
CPU seconds are the measuring process's own (a Dask run's workers are not in them). Checks that 2 and 3 write the
same files byte for byte (the `scheduler` line of logits.json aside) and that the summary statistics of 1 equal
those of 2.

    python benchmarks/bench_logits_scale.py [--tokens 8192] [--classes 128256] [--shards 8] [--workers 2]
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path("/tmp/softmax-sat-scale")


def write_safetensors(path: Path, rows: int, classes: int, fill) -> None:
    """A one-tensor ('logits', BF16) safetensors file written block by block: fill(start, count) → bfloat16 bits."""
    size = rows * classes * 2
    header = json.dumps({"logits": {"dtype": "BF16", "shape": [rows, classes], "data_offsets": [0, size]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(len(header).to_bytes(8, "little") + header)
        step = max(1, (1 << 25) // classes)
        for start in range(0, rows, step):
            f.write(fill(start, min(step, rows - start)).tobytes())


def synthetic(tokens: int, classes: int):
    import torch

    def fill(start: int, count: int) -> np.ndarray:
        g = torch.Generator().manual_seed(start)
        x = torch.randn(count, classes, generator=g) * 2
        top = torch.randint(0, classes, (count,), generator=g)
        x[torch.arange(count), top] += torch.rand(count, generator=g) * 30
        return x.bfloat16().view(torch.int16).numpy()
    return fill


def make(tokens: int, classes: int, shards: int) -> tuple[Path, Path]:
    HERE.mkdir(exist_ok=True)
    one = HERE / f"logits-{tokens}x{classes}.safetensors"
    if not one.exists() or one.stat().st_size < tokens * classes * 2:
        t = time.perf_counter()
        write_safetensors(one, tokens, classes, synthetic(tokens, classes))
        print(f"wrote {one} ({one.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t:.1f} s", flush=True)
    folder = HERE / f"shards-{tokens}x{classes}-{shards}"
    if not folder.exists():
        from precision.logits.shards import find_shards
        src = find_shards(one)[0]
        folder.mkdir()
        per = -(-tokens // shards)
        for i, start in enumerate(range(0, tokens, per)):
            count = min(per, tokens - start)
            write_safetensors(folder / f"part-{i:03d}.safetensors", count, classes,
                              lambda s, c, base=start: src.read(base + s, c).view(np.int16))
    return one, folder


def measure(source: Path, out: Path, scheduler: str | None, workers: int) -> dict:
    """One analysis in a fresh process: seconds and that process's peak RSS."""
    code = f"""
import json, resource, time
from precision.logits.dumps import analyse_sources
t = time.perf_counter()
analyse_sources({str(source)!r}, {str(out)!r}, ("bfloat16",), "torch-log", figures=False, progress=False,
                scheduler={scheduler!r}, workers={workers})
me = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": time.perf_counter() - t, "cpu_seconds": me.ru_utime + me.ru_stime,
                  "peak_rss_mb": me.ru_maxrss / 1024}}))
"""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    wall, load = time.perf_counter(), os.getloadavg()[0]
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if run.returncode:
        sys.exit(run.stderr)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - wall
    result["load_average_before_after"] = [load, os.getloadavg()[0]]  # the machine's other work, for the reader
    return result


def same_files(a: Path, b: Path) -> bool:
    names = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    if names != sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()):
        return False
    for name in names:
        if name.name == "logits.json":
            x, y = (json.loads((d / name).read_text()) for d in (a, b))
            x.pop("scheduler"), y.pop("scheduler")
            if x != y:
                return False
        elif not filecmp.cmp(a / name, b / name, shallow=False):
            return False
    return True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=8192)
    p.add_argument("--classes", type=int, default=128256)
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--skip-one", action="store_true", help="skip the one-file run")
    a = p.parse_args()
    one, folder = make(a.tokens, a.classes, a.shards)
    results = {}
    if not a.skip_one:
        results["one file, one process"] = measure(one, HERE / "out-one", None, a.workers)
        print("one file:", results["one file, one process"], flush=True)
    results[f"{a.shards} shards, one process"] = measure(folder, HERE / "out-shards", None, a.workers)
    print("shards:", results[f"{a.shards} shards, one process"], flush=True)
    results[f"{a.shards} shards, Dask ({a.workers} workers)"] = measure(folder, HERE / "out-dask", "dask", a.workers)
    print("dask:", results[f"{a.shards} shards, Dask ({a.workers} workers)"], flush=True)
    identical = same_files(HERE / "out-shards", HERE / "out-dask")
    summaries_equal = None
    if not a.skip_one:
        s1, s2 = (json.loads((HERE / d / "logits.json").read_text())["summary"] for d in ("out-one", "out-shards"))
        summaries_equal = s1 == s2
    print(json.dumps({"tokens": a.tokens, "classes": a.classes, "dtype": "bfloat16", "kernel": "torch-log",
                      "runs": results, "dask_equals_one_process_byte_for_byte": identical,
                      "one_file_summary_equals_shards_summary": summaries_equal}, indent=1))


if __name__ == "__main__":
    main()
