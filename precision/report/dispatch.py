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
from precision.common.markdown import table
from precision.formats.dtypes import IEEE

KERNELS = ("torch", "torch-log")
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


def configurations(kernels=KERNELS, dtypes=DTYPES, classes=CLASSES) -> list[tuple[str, str, int, str]]:
    """Every (kernel, dtype, classes, rivals): 'one' rival only where it differs from 'equal' (M > 2)."""
    return [(k, d, m, r) for k in kernels for d in dtypes for m in classes
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


def compare_paths(kernels=KERNELS, dtypes=DTYPES, classes=CLASSES, capabilities=None,
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
        if explain and not agree and kernel == "torch":
            row["models"] = {c: explaining_models(dtype, m, rivals, p["top_is_one_from_gap"])
                             for c, p in paths.items()}
        rows.append(row)
    return {"machine": cpu_dispatch(), "capabilities": list(capabilities),
            "ran": {c: measured[c]["capability"] for c in capabilities}, "rows": rows}


def _gap(v) -> str:
    return "never" if v is None else f"{v:.9g}"


def dispatch_markdown(data: dict) -> str:
    """The report's section on torch's CPU paths: a table per kernel, the rows where the paths disagree first."""
    caps, machine = data["capabilities"], data["machine"]
    ran = ", ".join(f"`{c}` → {data['ran'][c]}" for c in caps)
    here = machine.get("torch_cpu_capability", "unknown")
    lines = ["## torch's CPU code paths", "",
             f"PyTorch picks its CPU code path at run time from the processor. This one ({machine['processor']}; "
             f"flags {machine['cpu_flags'] or 'unknown'}) runs **{here}** unless told otherwise; every path it "
             f"supports was measured in its own process with `ATEN_CPU_CAPABILITY` ({ran}). On another processor, "
             "read the column of `torch.backends.cpu.get_cpu_capability()`: AVX512 needs avx512f/bw/vl/dq and fma, "
             "AVX2 needs avx2 and fma, older x86 and most ARM machines run DEFAULT.", ""]
    disagree = [r for r in data["rows"] if not r["agree"]]
    lines += [f"The paths disagree on {len(disagree)} of {len(data['rows'])} configurations." if disagree else
              f"The paths agree on all {len(data['rows'])} configurations.", ""]
    header = ["kernel", "dtype", "M", "rivals"] + [f"top = 1 from ({c})" for c in caps] + \
        [f"others 0 from ({c})" for c in caps] + ["agree", "emulated model of each path"]
    cells = []
    for r in sorted(data["rows"], key=lambda r: r["agree"]):
        models = "; ".join(f"{c}: {', '.join(ms) or 'none found'}" for c, ms in r.get("models", {}).items())
        cells.append([r["kernel"], r["dtype"], r["classes"], r["rivals"]] +
                     [_gap(r["paths"][c]["top_is_one_from_gap"]) for c in caps] +
                     [_gap(r["paths"][c]["others_zero_from_gap"]) for c in caps] +
                     ["yes" if r["agree"] else "**no**", models or "—"])
    return "\n".join(lines + [table(header, cells)]) + "\n"


def dispatch_section(**options) -> tuple[dict, str]:
    """The rows (JSON-ready) and the Markdown fragment of the report's CPU-path section."""
    data = compare_paths(**options)
    return data, dispatch_markdown(data)
