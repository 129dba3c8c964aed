"""Figures of torch's CPU kernels as measured on each code path (`torch.backends.cpu.get_cpu_capability()`): the
same call rounds differently with AVX512's 16 float32 lanes and AVX2's 8, so a figure is only true of the path it was
measured on. A test reads the figure of the path its process runs, and skips, saying so, on a path nobody measured."""
import pytest

from precision.common.devices import torch_cpu_capability


def on_this_path(figures: dict):
    """The value `figures` holds for this process's torch CPU path (keys `AVX512`, `AVX2`, ...)."""
    path = torch_cpu_capability()
    if path not in figures:
        pytest.skip(f"measured on torch's {' and '.join(figures)} CPU paths; this process runs {path}")
    return figures[path]
