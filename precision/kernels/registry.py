"""The softmax kernels people actually run, called as they are, on a dtype's own values: `KERNELS`, one entry per
kernel holding every fact about it (`precision.kernels.contract.Kernel`). Adding a kernel is adding its entry to
`_ENTRIES`: the report's tables and figures, the language-model section, the logits analysis, `verify` and
`precision.testing` all read the registry.

The grid of a dtype's non-negative finite values is indexed by bit pattern, which for these formats is
`BinaryFormat.index_of` (a test checks it). Each kernel names the emulated configuration that explains it
(`Kernel.model`); whether that model reproduces the kernel bit for bit is measured
(`precision.kernels.scan.agreement`), not assumed.

A user's own softmax is a kernel too: `get_kernel("package.module:function")` or `Kernel.from_callable(fn, ...)`
(the contract is in `Kernel.from_callable`'s docstring). It has no emulated model (`Kernel.has_model` is False).
"""
from __future__ import annotations

import numpy as np

from precision.common.devices import cpu_dispatch
from precision.emulated.algorithms import check_logits
from precision.formats.dtypes import DTYPES, IEEE
from precision.kernels.backends import compiled, jax_xla, numpy_scipy, onnx_runtime, pytorch
from precision.kernels.contract import EmulationModel, Kernel
from precision.kernels.errors import KernelError
from precision.kernels.user import user_kernel

__all__ = ["DTYPES", "KERNELS", "EmulationModel", "Kernel", "KernelError", "available_kernels", "get_kernel",
           "is_built_in", "kernel_versions", "native_softmax"]

_NUMPY_DTYPES = ("float16", "float32", "float64")
_ML_DTYPES = tuple(d for d in DTYPES if d not in IEEE)  # ml_dtypes' float8, FP6 and FP4 formats: NumPy's alone

_ENTRIES = (  # in report order
    Kernel("torch", "torch.softmax(x, dim=-1)", "torch", "attacks", IEEE, pytorch.softmax, pytorch.softmax_model,
           accelerated=True, log_companion="torch-log", exp=pytorch.exp, wide_rows="fast", sections=("cpu-paths",)),
    Kernel("torch-log", "torch.log_softmax(x, dim=-1) (log-probabilities)", "torch", "attacks", IEEE,
           pytorch.log_softmax, pytorch.log_softmax_model, log_space=True, accelerated=True, exp=pytorch.exp,
           wide_rows="fast", sections=("cpu-paths", "log-probabilities")),
    Kernel("torch-log1p", "precision.kernels.accurate.log_softmax: −log1p(Σ_{i≠top} e^(x_i − x_top)) on torch",
           "torch", "attacks", IEEE, pytorch.log1p_log_softmax, pytorch.log1p_model, log_space=True, accelerated=True,
           exp=pytorch.exp, sections=("log-probabilities",)),
    Kernel("jax-log", "jax.nn.log_softmax(x, axis=-1) on the CPU, 1,024 rows a call (log-probabilities)", "jax",
           "kernels", IEEE, jax_xla.log_softmax, jax_xla.log_softmax_model, log_space=True, exp=jax_xla.exp,
           sections=("log-probabilities",)),
    Kernel("scipy-log", "scipy.special.log_softmax(x, axis=1) (log-probabilities)", "scipy", "kernels",
           _NUMPY_DTYPES, numpy_scipy.scipy_log_softmax, numpy_scipy.scipy_log_model, log_space=True,
           exp=numpy_scipy.exp, sections=("log-probabilities",)),
    Kernel("torch-float32", "torch.softmax(x, dim=-1, dtype=torch.float32).to(x.dtype)", "torch", "attacks",
           ("float16", "bfloat16"), pytorch.float32_then_cast, pytorch.upcast_model, accelerated=True,
           log_companion="torch-log", exp=pytorch.exp),
    Kernel("numpy", "e = np.exp(x − x.max(1)); e / e.sum(1)", "numpy", "kernels",
           IEEE + _ML_DTYPES, numpy_scipy.numpy_softmax, numpy_scipy.softmax_model,
           exp=numpy_scipy.exp),
    Kernel("scipy", "scipy.special.softmax(x, axis=1)", "scipy", "kernels", _NUMPY_DTYPES,
           numpy_scipy.scipy_softmax, numpy_scipy.softmax_model, exp=numpy_scipy.exp),
    Kernel("jax", "jax.nn.softmax(x, axis=-1) on the CPU, 1,024 rows a call", "jax", "kernels", IEEE,
           jax_xla.softmax, jax_xla.softmax_model, exp=jax_xla.exp),
    Kernel("onnxruntime", "ONNX Softmax (opset 13), CPU execution provider", "onnxruntime", "kernels",
           _NUMPY_DTYPES, onnx_runtime.softmax, onnx_runtime.softmax_model, exp_note=onnx_runtime.NO_EXP),
)
KERNELS: dict[str, Kernel] = {k.name: k for k in _ENTRIES}


# Found by name, never in the default report or `available_kernels`: torch.compile's, each compile taking seconds.
OPT_IN: dict[str, Kernel] = {k.name: k for k in compiled.KERNELS}


def get_kernel(name) -> Kernel:
    """A kernel by name, or a user's `package.module:function` (see `Kernel.from_callable`; the attribute may
    also be a `Kernel` built there, to state dtypes, log space or torch); the error lists the kernels there are."""
    if isinstance(name, Kernel):
        return name
    if not isinstance(name, str):
        return Kernel.from_callable(name)
    if ":" in name:
        return user_kernel(name)
    if name not in KERNELS and name not in OPT_IN:
        raise KernelError("kernel", f"unknown {name!r}; expected one of {', '.join([*KERNELS, *OPT_IN])}, or a "
                          "function of yours as package.module:function")
    return KERNELS.get(name) or OPT_IN[name]


def is_built_in(kernel: Kernel) -> bool:
    """Whether the kernel is an entry this module defines: one that every process importing it finds by name (not
    one registered at run time, nor a user's)."""
    return any(kernel is k for k in _ENTRIES)


def available_kernels() -> list[Kernel]:
    """The kernels whose package is installed here."""
    return [k for k in KERNELS.values() if k.available()]


def in_section(section: str, kernels=None) -> list[Kernel]:
    """The kernels (default: every registered one whose package is installed) that appear in a report section."""
    return [k for k in (available_kernels() if kernels is None else kernels) if section in k.sections]


def log_kernel_of(kernel: Kernel) -> Kernel:
    """The kernel that says whether the top class's log-probability is exactly 0: the kernel itself when it is
    log-space, else its library's log-softmax where it names one (`Kernel.log_companion`)."""
    if kernel.log_space or kernel.log_companion is None:
        return kernel
    return get_kernel(kernel.log_companion)


def kernel_versions(kernels) -> dict[str, str]:
    """Package versions of the given kernels, and the machine: its processor, the CPU code path torch runs
    (`torch_cpu_capability`, where a torch kernel is among them) and the processor flags that decide it."""
    kernels = list(kernels)
    out = {k.package: k.version() for k in kernels}
    if any(k.name in OPT_IN for k in kernels):  # torch.compile's: what decides Inductor's code
        out |= compiled.inductor_settings()
    return out | cpu_dispatch(torch=any(k.package == "torch" for k in kernels))


def native_softmax(logits, backend: str = "numpy", dtype: str = "float32", upcast: str | None = None,
                   device: str = "cpu") -> np.ndarray:
    """Probabilities from a registered kernel, as float64 copies, shape as the input (a vector or a batch).

    `backend` is a kernel name (`torch_log` is read as `torch-log`, whose log-probabilities are exponentiated);
    `upcast="float32"` with `torch` is the `torch-float32` kernel (torch's `dtype=` argument).
    """
    name = backend.replace("_", "-")
    if upcast is not None:
        if (name, upcast) != ("torch", "float32"):
            raise KernelError("upcast", f"only torch computes in float32 for a narrower dtype, got {backend}, {upcast}")
        name = "torch-float32"
    kernel = get_kernel(name)
    p = kernel(check_logits(logits).astype(np.float64), dtype, device).astype(np.float64)
    return (np.exp(p) if kernel.log_space else p).reshape(np.shape(logits))
