"""Devices by name: the torch device a name means here, a device described in words for reports, and the CPU code
path torch runs on this processor (`cpu_dispatch`)."""
from __future__ import annotations

import functools
import os
import platform
import sys
from pathlib import Path

from precision.common.errors import InputError

# The processor flags that decide which code path PyTorch's CPU kernels take (ATen's DispatchStub): AVX512 needs
# avx512f/bw/vl/dq and fma, AVX2 needs avx2 and fma; on ARM, SVE256 needs sve (with 256-bit vectors). The other
# flags are recorded because they change what a vectorised exp or sum does (bf16/fp16 arithmetic, AMX).
DISPATCH_FLAGS = ("sse4_2", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni",
                  "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "asimd", "asimdhp", "bf16", "sve", "sve2",
                  "vx", "vxe", "vsx")
CAPABILITY_NEEDS = {"avx2": ("avx2", "fma"), "avx512": ("avx512f", "avx512bw", "avx512vl", "avx512dq", "fma"),
                    "sve256": ("sve",)}


def torch_device(name: str) -> str:
    """A torch device name that exists here (`auto`: CUDA when present)."""
    import torch
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("device", f"{name!r}: no CUDA device here")
    if name != "cpu" and not name.startswith("cuda"):
        raise InputError("device", f"expected cpu, cuda, cuda:N or auto, got {name!r}")
    return name


def device_description(device: str) -> str:
    """What a device is, in words (the GPU's name on CUDA; on the CPU, torch's code path once torch is loaded)."""
    if device.startswith("cuda"):
        import torch
        return torch.cuda.get_device_name(torch.device(device))
    path = torch_cpu_capability() if "torch" in sys.modules else None
    return f"CPU ({platform.machine()}" + (f", torch CPU path {path})" if path else ")")


@functools.cache
def cpu_flags() -> tuple[str, ...]:
    """The processor flags among `DISPATCH_FLAGS` this machine has (from /proc/cpuinfo; empty where unreadable)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ()
    present: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            present.update(value.split())
    return tuple(f for f in DISPATCH_FLAGS if f in present)


def supported_capabilities() -> tuple[str, ...]:
    """The values of `ATEN_CPU_CAPABILITY` this processor can run, from the plainest path to the widest."""
    flags = set(cpu_flags())
    return ("default",) + tuple(c for c, needs in CAPABILITY_NEEDS.items() if flags.issuperset(needs))


def torch_cpu_capability() -> str | None:
    """The CPU code path torch's kernels take in this process (`AVX512`, `AVX2`, `DEFAULT`, ...); None without
    torch."""
    try:
        import torch
    except ImportError:
        return None
    return str(torch.backends.cpu.get_cpu_capability())


def cpu_dispatch(torch: bool = True) -> dict[str, str]:
    """The machine, as every report, threshold file and certificate records it: platform, processor, the flags that
    decide torch's CPU path, and (with `torch`) the path torch runs and whether `ATEN_CPU_CAPABILITY` forced it."""
    out = {"platform": platform.platform(), "processor": platform.machine(), "cpu_flags": " ".join(cpu_flags())}
    if torch:
        path = torch_cpu_capability()
        if path is not None:
            forced = os.environ.get("ATEN_CPU_CAPABILITY")
            out["torch_cpu_capability"] = path + (f" (forced: ATEN_CPU_CAPABILITY={forced})" if forced else "")
    return out
