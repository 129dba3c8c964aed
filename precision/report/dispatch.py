"""torch's CPU code paths side by side: the thresholds of the torch kernels measured under each capability this
processor supports (`ATEN_CPU_CAPABILITY=default|avx2|avx512`, one subprocess each, since torch picks its path
once per process), where the paths disagree, and the emulated model that explains each path where one does.

A user on another processor reads the column of the path theirs runs: `torch.backends.cpu.get_cpu_capability()`
(AVX512 needs avx512f/bw/vl/dq and fma, AVX2 needs avx2 and fma; older x86 and most ARM machines run DEFAULT).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from precision.common.devices import cpu_dispatch, supported_capabilities
from precision.common.errors import InputError
from precision.formats.dtypes import IEEE
from precision.kernels.registry import get_kernel, in_section

DTYPES = IEEE
CLASSES = (2, 1000)
FACTS = ("top_is_one_from_gap", "others_zero_from_gap", "nan_from_gap")

_CHILD = r"""
import json, sys
import torch
from precision.kernels.scan import kernel_thresholds
configs = json.loads(sys.argv[1])
rows = []
for kernel, dtype, classes, rivals in configs:
    t = kernel_thresholds(kernel, dtype, classes, rivals)
    rows.append({"kernel": kernel, "dtype": dtype, "classes": classes, "rivals": rivals,
                 **{k: (None if getattr(t, k) is None else float(getattr(t, k)))
                    for k in ("top_is_one_from_gap", "others_zero_from_gap", "nan_from_gap")}})
print(json.dumps({"capability": str(torch.backends.cpu.get_cpu_capability()), "rows": rows}))
"""


def path_kernels() -> tuple[str, ...]:
    """The names of the kernels measured under each CPU path: those registered in the "cpu-paths" section."""
    return tuple(k.name for k in in_section("cpu-paths"))


def configurations(kernels=None, dtypes=DTYPES, classes=CLASSES) -> list[tuple[str, str, int, str]]:
    """Every (kernel, dtype, classes, rivals) (default kernels: `path_kernels()`): 'one' rival only where it differs
    from 'equal' (M > 2)."""
    return [(k, d, m, r) for k in (path_kernels() if kernels is None else kernels) for d in dtypes for m in classes
            for r in (("equal", "one") if m > 2 else ("equal",))]


def measure_path(capability: str, configs, timeout: float = 1800) -> dict:
    """The torch kernels' thresholds in a subprocess forced to one CPU path: {"capability", "rows"}."""
    env = dict(os.environ, ATEN_CPU_CAPABILITY=capability)
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([list(c) for c in configs])], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"ATEN_CPU_CAPABILITY={capability}: the measuring process failed: {tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def explaining_models(dtype: str, classes: int, rivals: str, gap: float | None) -> list[str]:
    """The emulated configurations (max-shifted, with division or a reciprocal; each summation order; in the dtype
    or accumulated in float32) whose first gap with top output exactly 1 is `gap`, by name."""
    from precision.emulated.thresholds import ORDERS, thresholds
    if gap is None:
        return []
    accumulate = (None, "float32") if dtype in ("float16", "bfloat16") else (None,)
    found = []
    for algorithm in ("shifted", "shifted_reciprocal"):
        for acc in accumulate:
            for order in ORDERS:
                t = thresholds(dtype, algorithm, classes, rivals, acc, order).top_is_one_from_gap
                if t is not None and float(t) == gap:
                    found.append(f"{algorithm}, {order}" + (f", accumulate {acc}" if acc else ""))
    return found


def compare_paths(kernels=None, dtypes=DTYPES, classes=CLASSES, capabilities=None,
                  explain: bool = True) -> dict:
    """Thresholds of the torch kernels under every CPU path (default: each this processor supports), as
    {"machine", "capabilities", "ran", "rows"}; a row holds each path's facts and whether the paths agree."""
    capabilities = tuple(capabilities or supported_capabilities())
    unknown = [c for c in capabilities if c not in supported_capabilities()]
    if unknown:
        raise InputError("capabilities", f"this processor cannot run {', '.join(unknown)}; it runs "
                         f"{', '.join(supported_capabilities())}")
    configs = configurations(kernels, dtypes, classes)
    measured = {c: measure_path(c, configs) for c in capabilities}
    rows = []
    for i, (kernel, dtype, m, rivals) in enumerate(configs):
        paths = {c: {k: measured[c]["rows"][i][k] for k in FACTS} for c in capabilities}
        agree = len({json.dumps(p, sort_keys=True) for p in paths.values()}) == 1
        row = {"kernel": kernel, "dtype": dtype, "classes": m, "rivals": rivals, "paths": paths, "agree": agree}
        if explain and not agree and not get_kernel(kernel).log_space:  # the models are softmax algorithms
            row["models"] = {c: explaining_models(dtype, m, rivals, p["top_is_one_from_gap"])
                             for c, p in paths.items()}
        rows.append(row)
    return {"machine": cpu_dispatch(), "capabilities": list(capabilities),
            "ran": {c: measured[c]["capability"] for c in capabilities}, "rows": rows}
