"""The GPU check (issue 18): on a machine with a CUDA GPU and no network, in under 8 minutes, what the kernel report
says on CUDA, written under benchmarks/gpu_check/ (results.json, results.md) and printed:

1. the CUDA rows of the kernel report: torch.softmax in float16, bfloat16, float32 and float64 at 2, 1000 and
   128,256 classes (all rivals equal, and one rival), and a user's kernel (`Kernel.from_callable(..., device=)`:
   a max-shifted softmax written in torch, as a user's fused kernel would stand in) at the same points;
2. `verify --device cuda` for float32 with two classes: every one of the 2^31 gaps;
3. the attack's batched loop against per-image and bare loops (`benchmarks/bench_attack.py`), where the shared
   sample (images, weights) is there;
4. the fused and compiled kernels (issue 28): every SDPA backend that runs on the device (math, flash,
   memory-efficient, cuDNN) on one-hot rows (g, 0, …, 0), output for output against the online-softmax model
   (`precision.emulated.online`: torch's CPU flash kernel on the CPU, the FlashAttention-2 model on a GPU) and with
   its measured one-hot thresholds beside the model's; the FP8 attention path (float8_e4m3fn inputs, where torch
   runs them) against the FP8 model; torch.compile's softmax (Inductor: C++ on the CPU, Triton on a GPU) against
   eager torch.softmax. Every GPU row of the model is labelled "model, not measured" until this script has run on
   a GPU; what it prints on the CPU is in benchmarks/RESULTS.md.

Every step has its share of the time budget and is recorded as skipped, with why, when it cannot run. With
`--device cpu --quick` the whole script runs in a minute or two on a CPU (the test suite's slow marker).
Usage: python benchmarks/gpu_check.py [--device cuda] [--budget 450] [--quick] [--out benchmarks/gpu_check]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DTYPES = ("float16", "bfloat16", "float32", "float64")
CLASSES = (2, 1000, 128256)


def user_softmax(x):
    """A user's softmax on torch tensors: exp(x − max) / Σ, written out (a fused kernel's stand-in)."""
    e = (x - x.amax(dim=-1, keepdim=True)).exp()
    return e / e.sum(dim=-1, keepdim=True)


class Budget:
    """Seconds left for the whole check; each step asks before it starts."""

    def __init__(self, seconds: float):
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()


def kernel_rows(device: str, classes, dtypes, budget: Budget, share: float) -> list[dict]:
    """Measured thresholds of torch.softmax and of a user's kernel on the device."""
    from precision.kernels.registry import Kernel, get_kernel
    from precision.kernels.scan import kernel_thresholds
    user = Kernel.from_callable(user_softmax, torch=True, device=device if device != "cpu" else None,
                                name="user-torch-softmax")
    stop = time.perf_counter() + share
    rows = []
    for kernel in (get_kernel("torch"), user):
        for d in dtypes:
            for m in classes:
                for rivals in (("equal", "one") if m > 2 else ("equal",)):
                    if time.perf_counter() > stop or budget.left() < 30:
                        rows.append({"kernel": kernel.name, "dtype": d, "classes": m, "rivals": rivals,
                                     "skipped": "time budget"})
                        continue
                    start = time.perf_counter()
                    t = kernel_thresholds(kernel, d, m, rivals, device)
                    rows.append({"kernel": kernel.name, "dtype": d, "classes": m, "rivals": rivals,
                                 "top_is_one_from_gap": _float(t.top_is_one_from_gap),
                                 "others_zero_from_gap": _float(t.others_zero_from_gap),
                                 "nan_from_gap": _float(t.nan_from_gap), "method": t.method,
                                 "seconds": round(time.perf_counter() - start, 2)})
                    print(f"  {kernel.name:20s} {d:9s} M={m:<6d} {rivals:5s} top = 1 from "
                          f"{rows[-1]['top_is_one_from_gap']}  ({rows[-1]['seconds']} s)", flush=True)
    return rows


def _float(v):
    return None if v is None else float(v)


def verify_row(device: str, gaps: int | None, budget: Budget) -> dict:
    """`verify` float32, two classes, on the device: every gap (gaps=None) or the first `gaps`."""
    sys.path.insert(0, str(HERE))
    from bench_verify import timed_verify

    from precision.kernels.registry import get_kernel
    if budget.left() < 60:
        return {"skipped": "time budget"}
    seconds, cert = timed_verify(get_kernel("torch"), "float32", gaps, device)
    d = cert.as_dict()
    verdict = {"holds": cert.holds, "counterexample": cert.counterexample} if gaps is None else \
        {"partial": f"the first {gaps:,} gaps only (tiny ones): a timing, not a certificate"}
    return {"device": device, "gaps_evaluated": cert.gaps_evaluated, "seconds": round(seconds, 1), **verdict,
            **{k: d.get(k) for k in ("top_is_one_from_gap", "others_zero_from_gap", "nan_from_gap", "monotone",
                                     "never_leaves_one", "sum_error_max_ulps", "others_when_one_max_ulps")}}


def attack_row(device: str, budget: Budget, quick: bool) -> dict:
    """benchmarks/bench_attack.py on the shared sample, where it is there."""
    shared = Path(os.environ.get("SOFTMAX_SAT_SHARED", ROOT.parent / "shared"))
    data = shared / "data" / "imagenet-sample"
    if not data.is_dir():
        return {"skipped": f"no shared sample at {data}"}
    if budget.left() < 90:
        return {"skipped": "time budget"}
    args = [sys.executable, str(HERE / "bench_attack.py"), "--device", device, "--data", str(data)]
    args += ["--images", "4", "--per-image", "2", "--iterations", "2"] if quick else []
    env = dict(os.environ)
    env.setdefault("SOFTMAX_SAT_WEIGHTS", str(shared / "models"))
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=max(60, budget.left() - 30), env=env,
                              cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"skipped": "time budget (timed out)"}
    out = (done.stdout + done.stderr).strip().splitlines()
    return {"returncode": done.returncode, "output": out[-25:]}


def _model_for(backend: str, device: str, dtype: str):
    """The online-softmax configuration that should explain a backend, and whether it was measured against it here."""
    from precision.emulated import online as on
    if backend == "math":
        return None, "unfused: no online model"
    if device == "cpu" and backend == "flash_attention":
        return on.torch_cpu_flash(dtype), "measured"
    return on.FLASH2_CUDA, "model, not measured"


def online_rows(device: str, dtypes, seq_lens, budget: Budget) -> list[dict]:
    """Each SDPA backend on one-hot rows: output for output against its online model, thresholds beside the model's."""
    import warnings

    from precision.emulated.online import attention_weights
    from precision.emulated.online_thresholds import one_hot_thresholds
    from precision.formats.dtypes import DTYPES as TABLE
    from precision.kernels.attention import attention_rows, attention_thresholds, available_backends
    rows = []
    for d in dtypes:
        for backend in available_backends(d, device):
            for n in seq_lens:
                if budget.left() < 30:
                    rows.append({"backend": backend, "dtype": d, "seq_len": n, "skipped": "time budget"})
                    continue
                cfg, status = _model_for(backend, device, d)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    measured = attention_thresholds(backend, d, n, device)
                    gaps = TABLE[d].cast(np.linspace(0, 120, 241)).astype(np.float64)
                    out = attention_rows(gaps, d, n, backend, device)
                row = {"backend": backend, "dtype": d, "seq_len": n, "model": cfg.name if cfg else None,
                       "status": status, "top_is_one_from_gap": measured.top_one_from_gap,
                       "others_zero_from_gap": measured.others_zero_from_gap}
                if cfg is not None:
                    x = np.zeros((len(gaps), n))
                    x[:, 0] = gaps
                    model = attention_weights(x, d, cfg)
                    t = one_hot_thresholds(cfg, d, n)
                    row |= {"rows_compared": len(gaps), "rows_differing": int((model != out).any(axis=1).sum()),
                            "max_difference": float(np.abs(model - out).max()),
                            "model_top_is_one_from_gap": t.top_is_one_from_gap,
                            "model_others_zero_from_gap": t.others_zero_from_gap}
                rows.append(row)
                print(f"  {backend:19s} {d:9s} L={n:<5d} top = 1 from {row['top_is_one_from_gap']}, others 0 from "
                      f"{row['others_zero_from_gap']}; {row.get('model') or 'no model'} ({status}): "
                      f"{row.get('rows_differing', '-')} of {row.get('rows_compared', '-')} rows differ", flush=True)
    return rows


def fp8_row(device: str) -> dict:
    """FP8 attention (float8_e4m3fn q, k, v) where torch runs it, against the FP8 online model; else why not."""
    import torch
    import torch.nn.functional as F

    from precision.emulated import online as on
    from precision.emulated.online_constants import fp8_cast_check
    check = fp8_cast_check(on.FLASH3_FP8.p_offset, on.FLASH3_FP8.rescale_threshold).as_dict()
    row = {"model": on.FLASH3_FP8.name, "status": "model, not measured", "cast_check": check}
    try:
        q = torch.zeros(1, 1, 64, 128, device=device).to(torch.float8_e4m3fn)
        eye = torch.eye(128, device=device).to(torch.float8_e4m3fn)[None, None]
        F.scaled_dot_product_attention(q, eye, eye, scale=1.0)
        row["runs"] = True
    except (RuntimeError, NotImplementedError, TypeError) as e:
        row["runs"] = False
        row["why_not"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:200]}"
    return row


def compiled_rows(device: str, dtypes, budget: Budget) -> list[dict]:
    """torch.compile's softmax (Inductor: C++ here, Triton on a GPU) against eager torch.softmax, two classes."""
    from precision.kernels.backends import compiled
    from precision.kernels.scan import kernel_thresholds
    rows = []
    for d in dtypes:
        if budget.left() < 60:
            rows.append({"dtype": d, "skipped": "time budget"})
            continue
        ours, eager = (kernel_thresholds(k, d, 2, "equal", device) for k in ("torch-compile", "torch"))
        rows.append({"dtype": d, "classes": 2, "compiled_top_is_one_from_gap": _float(ours.top_is_one_from_gap),
                     "eager_top_is_one_from_gap": _float(eager.top_is_one_from_gap),
                     "compiled_others_zero_from_gap": _float(ours.others_zero_from_gap),
                     "eager_others_zero_from_gap": _float(eager.others_zero_from_gap),
                     "compile_seconds": compiled.compile_seconds()})
        print(f"  torch-compile {d:9s} top = 1 from {rows[-1]['compiled_top_is_one_from_gap']} (eager "
              f"{rows[-1]['eager_top_is_one_from_gap']})", flush=True)
    return rows


def markdown(results: dict) -> str:
    lines = [f"# GPU check — {results['device_name']}", "", f"{results['date']}; {results['versions']}", "",
             "## Kernel rows", "", "| kernel | dtype | M | rivals | top = 1 from | others 0 from | NaN from | s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results["kernels"]:
        if "skipped" in r:
            lines.append(f"| {r['kernel']} | {r['dtype']} | {r['classes']} | {r['rivals']} | skipped: "
                         f"{r['skipped']} | | | |")
        else:
            lines.append(f"| {r['kernel']} | {r['dtype']} | {r['classes']} | {r['rivals']} | "
                         f"{r['top_is_one_from_gap']} | {r['others_zero_from_gap']} | {r['nan_from_gap']} | "
                         f"{r['seconds']} |")
    lines += ["", "## verify float32, two classes", "", "```", json.dumps(results["verify"], indent=1), "```", "",
              "## Attack: batched vs per-image and bare loops", "", "```",
              json.dumps(results["attack"], indent=1), "```", "",
              "## Fused and compiled kernels (GPU model rows: model, not measured, until run on a GPU)", "", "```",
              json.dumps(results.get("fused"), indent=1), "```", "", f"Total: {results['seconds']} s", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--budget", type=float, default=450, help="seconds for the whole check (goal < 480)")
    parser.add_argument("--quick", action="store_true",
                        help="a CPU-sized run: M = 2 and 1000, 2^22 verify gaps, a tiny attack")
    parser.add_argument("--out", type=Path, default=HERE / "gpu_check")
    args = parser.parse_args(argv)
    import datetime

    import torch

    from precision.common.devices import device_description, torch_device
    from precision.kernels.registry import get_kernel, kernel_versions
    device = torch_device(args.device)
    budget = Budget(args.budget)
    start = time.perf_counter()
    results = {"device": device, "device_name": device_description(device),
               "date": datetime.datetime.now().isoformat(timespec="seconds"),
               "versions": kernel_versions([get_kernel("torch")]) | {"cuda": torch.version.cuda,
                                                                     "numpy": np.__version__}}
    print(f"GPU check on {results['device_name']} ({device}); budget {args.budget:.0f} s", flush=True)
    classes = CLASSES[:2] if args.quick else CLASSES
    dtypes = ("float16", "float32") if args.quick else DTYPES
    print("1. kernel rows", flush=True)
    results["kernels"] = kernel_rows(device, classes, dtypes, budget, share=0.45 * args.budget)
    print("2. verify float32, two classes", flush=True)
    results["verify"] = verify_row(device, 1 << 22 if args.quick else None, budget)
    print(f"   {results['verify']}", flush=True)
    print("3. attack timing", flush=True)
    results["attack"] = attack_row(device, budget, args.quick)
    print("   " + "\n   ".join(results["attack"].get("output", [str(results["attack"])])), flush=True)
    print("4. fused and compiled kernels against the online model", flush=True)
    results["fused"] = {"sdpa": online_rows(device, ("bfloat16",) if args.quick else ("float16", "bfloat16",
                                                                                       "float32"),
                                            (128,) if args.quick else (128, 1024), budget),
                        "fp8": fp8_row(device),
                        "compiled": compiled_rows(device, ("float32",) if args.quick else DTYPES, budget)}
    print(f"   FP8 attention: {results['fused']['fp8'].get('why_not', 'runs')}", flush=True)
    results["seconds"] = round(time.perf_counter() - start, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1, allow_nan=False))
    (args.out / "results.md").write_text(markdown(results))
    print(f"wrote {args.out / 'results.md'} and results.json in {results['seconds']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
