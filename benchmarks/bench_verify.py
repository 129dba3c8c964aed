"""`verify` on a user's kernel against the built-in torch kernel, float32, two classes, measured side by side.

Goal (issue 18): a user's kernel through `verify` for float32, two classes, every one of the 2^31 gaps, within
1.3× of the built-in torch kernel (and under 4 minutes here). The user's kernels are `torch.softmax` handed in as
a user would: on torch tensors (`Kernel.from_callable(fn, torch=True)`) and on NumPy arrays
(`torch.from_numpy` inside), so the ratio is the cost of the user-kernel path itself, not of another softmax.

The runs alternate (built-in, user, built-in, user, ...) so that load from other processes falls on both alike.
Usage: python benchmarks/bench_verify.py [--gaps 268435456 | --full] [--repeat 2]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def torch_tensors(x):
    """A user's kernel on torch tensors."""
    import torch
    return torch.softmax(x, dim=-1)


def numpy_arrays(x):
    """A user's kernel on NumPy arrays."""
    import torch
    return torch.softmax(torch.from_numpy(x), dim=-1).numpy()


def timed_verify(kernel, dtype: str, gaps: int | None, device: str = "cpu") -> tuple[float, object]:
    """Seconds of `verify` over every gap (gaps=None), or over the first `gaps` grid indices with verify's own
    chunks and stream; and the certificate."""
    from precision.kernels import certificate as c
    start = time.perf_counter()
    if gaps is None:
        cert = c.verify(kernel, dtype, 2, device=device, progress=False)
        return time.perf_counter() - start, cert
    scan = c.KernelScan(kernel, dtype, 2, "equal", device)
    k = scan.kernel
    cert = c.Certificate(k.name, k.summary, dtype, 2, "equal", device, "", {})
    stream, step = c._Stream(cert, scan), max(1, c.CELLS // 2)
    limit = min(scan.dtype.max_index, gaps - 1)
    for s in range(0, limit + 1, step):
        idx = np.arange(s, min(limit, s + step - 1) + 1, dtype=np.int64)
        stream.feed(s, scan.state(idx))
        cert.gaps_evaluated += len(idx)
    stream.finish(limit)
    return time.perf_counter() - start, cert


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gaps", type=int, default=1 << 28, help="first grid indices evaluated (default 2^28)")
    parser.add_argument("--full", action="store_true", help="every float32 gap (2^31: minutes per kernel)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    import torch

    from precision.common.devices import cpu_dispatch
    from precision.kernels.registry import Kernel, get_kernel
    kernels = {"built-in torch": get_kernel("torch"),
               "user, torch tensors": Kernel.from_callable(torch_tensors, torch=True, name="user-torch"),
               "user, NumPy arrays": Kernel.from_callable(numpy_arrays, name="user-numpy")}
    gaps = None if args.full else args.gaps
    print(f"verify {args.dtype}, 2 classes, {'every gap' if gaps is None else f'the first {gaps:,} gaps'}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu_dispatch()}")
    seconds: dict[str, list[float]] = {name: [] for name in kernels}
    certs = {}
    for _ in range(args.repeat):
        for name, k in kernels.items():
            t, certs[name] = timed_verify(k, args.dtype, gaps)
            seconds[name].append(t)
            print(f"  {name:22s} {t:8.2f} s", flush=True)
    base = min(seconds["built-in torch"])
    same = {name: {key: v for key, v in c.as_dict().items() if key not in ("kernel", "call", "seconds", "date",
                                                                           "versions", "device_name")}
            for name, c in certs.items()}
    print(f"{'kernel':22s} {'best s':>8s} {'ratio':>6s}  same certificate as built-in")
    for name in kernels:
        best = min(seconds[name])
        print(f"{name:22s} {best:8.2f} {best / base:6.2f}  {same[name] == same['built-in torch']}")
    print("goal: ratio ≤ 1.3 (and the full float32 run under 240 s)")


if __name__ == "__main__":
    main()
