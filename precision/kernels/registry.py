"""The softmax kernels people actually run, called as they are, on a dtype's own values.

A `Kernel` is a real implementation on this machine (PyTorch on CPU or CUDA, NumPy, SciPy, JAX, ONNX Runtime)
with the dtypes it takes; `KERNELS` is the registry. Inputs and outputs travel as NumPy arrays in the dtype's
own storage (`Dtype.storage`: NumPy's float16/32/64, ml_dtypes' bfloat16 and float8), so no value is rounded
on the way in or out. The grid of a dtype's non-negative finite values is indexed by bit pattern, which for these
formats is `BinaryFormat.index_of` (a test checks it).

Each kernel names the emulated configuration that explains it (`Kernel.model`); whether that model reproduces
the kernel bit for bit is measured (`precision.kernels.scan.agreement`), not assumed.
"""
from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import platform
from dataclasses import dataclass
from typing import Callable

import numpy as np

from precision.common.errors import InputError
from precision.emulated.algorithms import check_logits
from precision.formats.dtypes import DTYPES, IEEE, Dtype


class KernelError(InputError):
    """A kernel that does not exist here, cannot take a dtype or device, or lacks its package."""


@dataclass(frozen=True)
class EmulationModel:
    """The emulated configuration (`precision.emulated.algorithms`) that explains a kernel, and why."""

    algorithm: str
    accumulate: str | None  # None: every operation in the input dtype
    order: str
    why: str


@dataclass(frozen=True)
class Kernel:
    """A real softmax implementation: `compute(x, dtype, device)` maps (B, M) storage arrays to outputs."""

    name: str
    summary: str
    package: str  # the import that provides it
    extra: str  # the optional extra of this distribution that installs the package
    dtypes: tuple[str, ...]
    compute: Callable[[np.ndarray, Dtype, str], np.ndarray]
    model: Callable[[str], EmulationModel]
    log_space: bool = False  # outputs are log-probabilities: "exactly 1" reads "exactly 0"
    accelerated: bool = False  # takes a torch device other than the CPU

    def available(self) -> bool:
        return importlib.util.find_spec(self.package) is not None

    def version(self) -> str:
        return importlib.metadata.version(self.package)  # each package's distribution has its name

    def check(self, dtype: str, device: str = "cpu") -> Dtype:
        """The dtype, once the kernel, its package, the dtype and the device are all usable here."""
        if dtype not in self.dtypes:
            raise KernelError("dtype", f"kernel {self.name} does not take dtype {dtype!r}; it takes "
                                       f"{', '.join(self.dtypes)}")
        if device != "cpu" and not self.accelerated:
            raise KernelError("device", f"kernel {self.name} runs on the CPU only, got device {device!r}")
        if not self.available():
            raise KernelError("kernel", f"kernel {self.name} needs the {self.package} package: "
                              f"pip install 'softmax-saturation[{self.extra}]'")
        return DTYPES[dtype]

    @property
    def one(self) -> float:
        """A top output of exactly 1 as this kernel returns it (log-space: a log-probability of 0)."""
        return 0.0 if self.log_space else 1.0

    def saturated(self, p: np.ndarray, top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row of outputs p (B, M): is the output in column top[i] exactly 1, and every other exactly 0?"""
        rows = np.arange(len(p))
        others = p == (-np.inf if self.log_space else 0.0)
        others[rows, top] = True
        return p[rows, top] == self.one, others.all(axis=1)

    def __call__(self, x: np.ndarray, dtype: str, device: str = "cpu") -> np.ndarray:
        """Outputs (probabilities, or log-probabilities for a log-space kernel) of the rows of x, in the dtype."""
        d = self.check(dtype, device)
        x = np.ascontiguousarray(x, dtype=d.storage)
        return np.asarray(self.compute(x, d, device)).astype(d.storage, copy=False)


# --- PyTorch ------------------------------------------------------------------------------------------------
_SIGNED = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}


@functools.cache
def torch_dtypes() -> dict:
    """Our dtype names, and the signed integers of each width, as torch dtypes."""
    import torch
    return {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64,
            1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def _to_torch(x: np.ndarray, d: Dtype, device: str):
    import torch
    # through the bits: torch.from_numpy knows no ml_dtypes type
    return torch.from_numpy(x.view(_SIGNED[x.itemsize])).view(torch_dtypes()[d.name]).to(device)


def _from_torch(t, d: Dtype) -> np.ndarray:
    return t.cpu().view(torch_dtypes()[t.element_size()]).numpy().view(d.storage)


def _torch_softmax(x, d, device):
    import torch
    return _from_torch(torch.softmax(_to_torch(x, d, device), dim=-1), d)


def _torch_log_softmax(x, d, device):
    import torch
    return _from_torch(torch.log_softmax(_to_torch(x, d, device), dim=-1), d)


def _torch_float32_then_cast(x, d, device):
    import torch
    t = _to_torch(x, d, device)
    return _from_torch(torch.softmax(t, dim=-1, dtype=torch.float32).to(t.dtype), d)


def _torch_model(dtype: str) -> EmulationModel:
    wide = dtype in ("float16", "bfloat16")
    return EmulationModel("shifted_reciprocal", "float32" if wide else None, "pairwise",
                          ("16-bit input widened to float32, one rounding at the end; " if wide else "")
                          + "exp(x − max) times 1/Σ, the sum vectorised and blocked (pairwise is the nearest order)")


def _torch_log_model(dtype: str) -> EmulationModel:
    wide = dtype in ("float16", "bfloat16")
    return EmulationModel("logsumexp", "float32" if wide else None, "pairwise",
                          "x − max − log Σ exp(x − max)" + (", in float32, rounded once" if wide else ""))


def _upcast_model(dtype: str) -> EmulationModel:
    return EmulationModel("shifted_reciprocal", "float32", "pairwise",
                          "softmax(x, dtype=float32), then cast to the input dtype: one rounding at the end")


# --- NumPy, SciPy -------------------------------------------------------------------------------------------
def _numpy_softmax(x, d, device):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def _scipy_softmax(x, d, device):
    import scipy.special
    with np.errstate(over="ignore", invalid="ignore"):
        return scipy.special.softmax(x, axis=1)


def _numpy_model(dtype: str) -> EmulationModel:
    if dtype in ("float32", "float64"):
        return EmulationModel("shifted", None, "pairwise", "exp(x − max) / Σ, every operation rounded in the "
                              "dtype; NumPy's vectorised exp is faithful, not correctly rounded, and it sums pairwise")
    if dtype == "float16":
        return EmulationModel("shifted", None, "pairwise", "exp(x − max) / Σ in float16, but NumPy's float16 "
                              "sum accumulates in float32 and its exp goes through float32's")
    return EmulationModel("shifted", None, "sequential", "exp(x − max) / Σ, every operation rounded in the "
                          "dtype (ml_dtypes computes each in float32 and rounds once); the sum runs left to right")


# --- JAX, ONNX Runtime --------------------------------------------------------------------------------------
@functools.cache
def _jax():
    import jax
    jax.config.update("jax_enable_x64", True)  # otherwise float64 inputs are silently computed in float32
    return jax


def _jax_softmax(x, d, device):
    jax = _jax()
    return np.asarray(jax.nn.softmax(jax.numpy.asarray(x), axis=-1))


def _jax_model(dtype: str) -> EmulationModel:
    if dtype == "float16":  # measured: XLA turns the division into a reciprocal and a product
        return EmulationModel("shifted_reciprocal", None, "pairwise", "exp(x − max) · (1/Σ), every operation in "
                              "float16; XLA's exp is not correctly rounded and its reduction order is its own")
    return EmulationModel("shifted", None, "pairwise", "exp(x − max) / Σ, every operation in the dtype; XLA's "
                          "vectorised exp is not correctly rounded and subnormal results are flushed to zero")


_ONNX_TYPES = {"float16": 10, "float32": 1, "float64": 11}  # onnx.TensorProto element types


@functools.cache
def _onnx_session(dtype: str):
    import onnx
    import onnxruntime
    from onnx import helper
    kind = _ONNX_TYPES[dtype]
    graph = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], axis=-1)], "softmax",
                              [helper.make_tensor_value_info("x", kind, [None, None])],
                              [helper.make_tensor_value_info("y", kind, [None, None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime since 1.10
    onnx.checker.check_model(model)
    return onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _onnxruntime_softmax(x, d, device):
    return _onnx_session(d.name).run(None, {"x": x})[0]


def _onnxruntime_model(dtype: str) -> EmulationModel:
    wide = dtype == "float16"
    why = "the ONNX Softmax operator on the CPU provider" + (", float16 computed in float32" if wide else "")
    return EmulationModel("shifted", "float32" if wide else None, "pairwise", why)


KERNELS = {k.name: k for k in (
    Kernel("torch", "torch.softmax(x, dim=-1)", "torch", "attacks", IEEE, _torch_softmax, _torch_model,
           accelerated=True),
    Kernel("torch-log", "torch.log_softmax(x, dim=-1) (log-probabilities)", "torch", "attacks", IEEE,
           _torch_log_softmax, _torch_log_model, log_space=True, accelerated=True),
    Kernel("torch-float32", "torch.softmax(x, dim=-1, dtype=torch.float32).to(x.dtype)", "torch", "attacks",
           ("float16", "bfloat16"), _torch_float32_then_cast, _upcast_model, accelerated=True),
    Kernel("numpy", "e = np.exp(x − x.max(1)); e / e.sum(1)", "numpy", "kernels",
           IEEE + ("float8_e4m3fn", "float8_e5m2"), _numpy_softmax, _numpy_model),
    Kernel("scipy", "scipy.special.softmax(x, axis=1)", "scipy", "kernels", ("float16", "float32", "float64"),
           _scipy_softmax, _numpy_model),
    Kernel("jax", "jax.nn.softmax(x, axis=-1) on the CPU", "jax", "kernels", IEEE, _jax_softmax, _jax_model),
    Kernel("onnxruntime", "ONNX Softmax (opset 13), CPU execution provider", "onnxruntime", "kernels",
           ("float16", "float32", "float64"), _onnxruntime_softmax, _onnxruntime_model),
)}


def get_kernel(name: str) -> Kernel:
    """A kernel by name; the error lists the kernels there are."""
    if name not in KERNELS:
        raise KernelError("kernel", f"unknown {name!r}; expected one of {', '.join(KERNELS)}")
    return KERNELS[name]


def available_kernels() -> list[Kernel]:
    """The kernels whose package is installed here."""
    return [k for k in KERNELS.values() if k.available()]


def kernel_versions(kernels) -> dict[str, str]:
    """Package versions of the given kernels, and the machine."""
    out = {k.package: k.version() for k in kernels}
    return out | {"platform": platform.platform(), "processor": platform.machine()}


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
