"""The softmax kernels people actually run, called as they are, on a dtype's own values.

A `Kernel` is a real implementation on this machine (PyTorch on CPU or CUDA, NumPy, SciPy, JAX, ONNX Runtime)
with the dtypes it takes; `KERNELS` is the registry. Inputs and outputs travel as NumPy arrays in the dtype's
own storage (`Dtype.storage`: NumPy's float16/32/64, ml_dtypes' bfloat16 and float8), so no value is rounded
on the way in or out. The grid of a dtype's non-negative finite values is indexed by bit pattern, which for these
formats is `BinaryFormat.index_of` (a test checks it).

Each kernel names the emulated configuration that explains it (`Kernel.model`); whether that model reproduces
the kernel bit for bit is measured (`precision.kernels.scan.agreement`), not assumed.

A user's own softmax is a kernel too: `get_kernel("package.module:function")` or `Kernel.from_callable(fn, ...)`
(the contract is in `Kernel.from_callable`'s docstring). It has no emulated model (`Kernel.has_model` is False).
"""
from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np

from precision.common.devices import cpu_dispatch
from precision.common.errors import InputError
from precision.emulated.algorithms import AlgorithmName, Order, check_logits
from precision.formats.dtypes import DTYPES, IEEE, Dtype, exactly


class KernelError(InputError):
    """A kernel that does not exist here, cannot take a dtype or device, lacks its package, or (a user's kernel)
    breaks its contract: not importable, not callable, raises, returns the wrong shape, dtype or a non-finite value
    for finite input."""


@dataclass(frozen=True)
class EmulationModel:
    """The emulated configuration (`precision.emulated.algorithms`) that explains a kernel, and why."""

    algorithm: AlgorithmName | None  # None: no emulated model explains the kernel (a user's kernel)
    accumulate: str | None  # None: every operation in the input dtype
    order: Order | None
    why: str


NO_MODEL = EmulationModel(None, None, None, "a user's kernel: no emulated model explains it, so none is compared")


def no_model(dtype: str) -> EmulationModel:
    """The model of a kernel that has none (a user's kernel)."""
    return NO_MODEL


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
    user: bool = False  # a user's callable (`from_callable`, `module:function`), not a built-in kernel

    @property
    def has_model(self) -> bool:
        """Whether an emulated model explains this kernel (a user's kernel has none)."""
        return self.model is not None and self.model(self.dtypes[0]).algorithm is not None

    def emulation(self, dtype: str) -> EmulationModel | None:
        """The emulated model of the kernel in a dtype, or None where there is none."""
        return self.model(dtype) if self.has_model else None

    @classmethod
    def from_callable(cls, fn, dtypes=IEEE, log_space: bool = False, device: str | None = None,
                      torch: bool = False, name: str | None = None) -> "Kernel":
        """A user's softmax as a kernel, for `verify`, `kernel_thresholds`, `precision.testing`, `watch`, ...

        The contract: `fn(x)` takes a (B, M) array of logits in one of `dtypes` and returns an array of the same
        shape and dtype: probabilities (each in [0, 1]), or log-probabilities (≤ 0) with `log_space=True`.
        - NumPy (the default): `x` is a C-contiguous `numpy.ndarray` in the dtype's NumPy storage (float16,
          float32, float64; bfloat16 and float8 as ml_dtypes types); return a NumPy array (or anything
          `numpy.asarray` takes without a copy to another dtype, e.g. a JAX array).
        - torch (`torch=True`, or a `device`): `x` is a `torch.Tensor` of the dtype on the device the caller asks
          for (`verify(..., device="cuda")`, `--device cuda`); `device="cuda"` pins it there when the caller asks
          for the default CPU. Return a tensor of the same dtype (on any device).
        Outputs travel back unrounded. Breaking the contract raises `KernelError` (exit 2 on the command line), one
        line naming the kernel and, where it applies, the first offending input row: `fn` raises, returns the
        wrong shape or dtype, or returns a non-finite or out-of-range value for ordinary finite logits (checked
        once per dtype and M on a probe batch; non-finite outputs at extreme gaps are results, which `verify`
        and `precision.testing` report as counterexamples, not contract errors).
        """
        label = name or _callable_name(fn)
        if isinstance(fn, Kernel):
            return fn
        if not callable(fn):
            raise KernelError("kernel", f"{label}: a {type(fn).__name__} is not callable; expected a function "
                              "taking a (B, M) array of logits")
        dtypes = (dtypes,) if isinstance(dtypes, str) else tuple(dtypes)
        unknown = [d for d in dtypes if d not in DTYPES]
        if not dtypes or unknown:
            raise KernelError("dtypes", f"kernel {label}: unknown dtype(s) {unknown or dtypes!r}; expected some of "
                              f"{', '.join(DTYPES)}")
        tensors = torch or device is not None
        if device is not None and device != "cpu" and not device.startswith("cuda"):
            raise KernelError("device", f"kernel {label}: expected cpu, cuda or cuda:N, got {device!r}")
        call = _UserCall(fn, label, tensors, device, log_space)
        kind = "torch tensors" if tensors else "NumPy arrays"
        summary = f"{_callable_name(fn)}(x): a user's kernel on {kind}" + (", log-probabilities" if log_space else "")
        return cls(label, summary, "torch" if tensors else "numpy", "attacks" if tensors else "", dtypes, call,
                   no_model, log_space=log_space, accelerated=tensors, user=True)

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
        others = exactly(p, -np.inf if self.log_space else 0.0)
        others[rows, top] = True
        return exactly(p[rows, top], self.one), np.asarray(others.all(axis=1))

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


def to_torch(x: np.ndarray, d: Dtype, device: str):
    """A storage array of the dtype as a torch tensor of that dtype on `device`, bit for bit."""
    import torch
    if not x.flags.writeable:  # e.g. Arrow's buffers: torch takes no read-only arrays (it warns, and may write)
        x = x.copy()
    # through the bits: torch.from_numpy knows no ml_dtypes type
    return torch.from_numpy(x.view(_SIGNED[x.itemsize])).view(torch_dtypes()[d.name]).to(device)


def from_torch(t, d: Dtype) -> np.ndarray:
    """A torch tensor of the dtype back as its NumPy storage array, bit for bit."""
    return t.cpu().view(torch_dtypes()[t.element_size()]).numpy().view(d.storage)


def _torch_softmax(x, d, device):
    import torch
    return from_torch(torch.softmax(to_torch(x, d, device), dim=-1), d)


def _torch_log_softmax(x, d, device):
    import torch
    return from_torch(torch.log_softmax(to_torch(x, d, device), dim=-1), d)


def _torch_float32_then_cast(x, d, device):
    import torch
    t = to_torch(x, d, device)
    return from_torch(torch.softmax(t, dim=-1, dtype=torch.float32).to(t.dtype), d)


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
@contextmanager
def jax_x64():
    """JAX with 64-bit types for one kernel call (otherwise float64 inputs are silently computed in float32); the
    process's own JAX setting is left as it was."""
    import jax
    with jax.enable_x64(True):
        yield jax


JAX_ROWS = 1024  # rows per jax call, at most (and fewer for wide rows, `JAX_CELLS` logits a call): XLA's CPU
JAX_CELLS = 1 << 22  # backend chooses its code by the size of the call (measured, jax 0.10.2: float32 softmax of
#                     fewer than about 4,096 logits — 10 classes up to 409 rows, 1,000 classes up to 4 — leaves up
#                     to 6.3u / 30u to the others where the top output is exactly 1, larger calls under 2u; bfloat16
#                     log_softmax of 4,096 rows or more runs in float32), so every call of a given row width has
#                     one shape: the larger-call path from 4 classes on


def jax_rows(function: str, x: np.ndarray) -> np.ndarray:
    """`jax.nn.<function>` of the rows of x (B, M) in calls of one fixed number of rows for the width M, the last
    one padded with copies of its last row: a row's result never depends on how many rows came with it (and XLA
    compiles once per width, not once per batch)."""
    if x.size == 0:
        return np.empty(x.shape, dtype=x.dtype)
    rows = max(1, min(JAX_ROWS, JAX_CELLS // x.shape[1]))
    out = []
    with jax_x64() as jax:
        f = getattr(jax.nn, function)
        for i in range(0, len(x), rows):
            part = x[i:i + rows]
            if len(part) < rows:
                part = np.concatenate([part, np.repeat(part[-1:], rows - len(part), axis=0)])
            out.append(np.asarray(f(jax.numpy.asarray(part), axis=-1))[:min(rows, len(x) - i)])
    return np.concatenate(out)


def _jax_softmax(x, d, device):
    return jax_rows("softmax", x)


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


# --- a user's kernel -----------------------------------------------------------------------------------------
def _callable_name(fn) -> str:
    module = getattr(fn, "__module__", None) or ""
    qual = getattr(fn, "__qualname__", None) or type(fn).__name__
    return f"{module}:{qual}" if module else qual


def _row_text(row: np.ndarray, dtype: str) -> str:
    """An input row in one short line: its first values (and how many there are)."""
    values = ", ".join(f"{float(v):.6g}" for v in np.asarray(row).ravel()[:6])
    more = f", … ({row.size} classes)" if row.size > 6 else ""
    return f"[{values}{more}] ({dtype})"


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def probe_rows(classes: int) -> np.ndarray:
    """Ordinary finite logits (float64) any softmax must map to finite probabilities in [0, 1]: a ramp from 4 down
    to −4, all equal, one class 8 above the rest, and a ramp the other way."""
    ramp = np.linspace(4.0, -4.0, classes)
    top = np.zeros(classes)
    top[classes // 2] = 8.0
    return np.stack([ramp, np.zeros(classes), top, ramp[::-1]])


class _UserCall:
    """Calls a user's function under the contract of `Kernel.from_callable`, checking what comes back."""

    def __init__(self, fn, name: str, tensors: bool, device: str | None, log_space: bool):
        self.fn, self.name, self.tensors, self.device, self.log_space = fn, name, tensors, device, log_space
        self.probed: set[tuple[str, str, int]] = set()

    def _run(self, x: np.ndarray, d: Dtype, device: str) -> np.ndarray:
        if not self.tensors:
            out = self.fn(x)
            if not isinstance(out, np.ndarray):
                if not hasattr(out, "__array__") and not isinstance(out, (list, tuple)):
                    raise KernelError("kernel", f"kernel {self.name} returned a {type(out).__name__}, not an array, "
                                      f"for a {x.shape} {d.name} input")
                out = np.asarray(out)
            got = out.dtype
            ok = got == np.dtype(d.storage)
        else:
            import torch
            t = to_torch(x, d, device)
            out = self.fn(t)
            if not isinstance(out, torch.Tensor):
                raise KernelError("kernel", f"kernel {self.name} returned a {type(out).__name__}, not a torch.Tensor, "
                                  f"for a {tuple(x.shape)} {d.name} tensor")
            got = str(out.dtype).removeprefix("torch.")
            ok = out.dtype == torch_dtypes()[d.name]
        if tuple(out.shape) != x.shape:
            raise KernelError("kernel", f"kernel {self.name} returned shape {tuple(out.shape)} for a {x.shape} "
                              f"{d.name} input; expected the same shape (softmax over the last axis)")
        if not ok:
            raise KernelError("kernel", f"kernel {self.name} returned {got} values for {d.name} input; expected "
                              f"{d.name} (round inside the kernel, as it would run)")
        return from_torch(out, d) if self.tensors else out

    def _first_raising_row(self, x: np.ndarray, d: Dtype, device: str) -> int | None:
        """The first row that raises on its own (a few calls; None when every row alone works)."""
        for i in range(min(len(x), 64)):
            try:
                self._run(np.ascontiguousarray(x[i:i + 1]), d, device)
            except KernelError:
                raise
            except Exception:
                return i
        return None

    def call(self, x: np.ndarray, d: Dtype, device: str) -> np.ndarray:
        try:
            return self._run(x, d, device)
        except KernelError:
            raise
        except Exception as e:
            try:
                i = self._first_raising_row(x, d, device)
            except Exception:
                i = None
            where = f"on input row {i} {_row_text(x[i], d.name)}" if i is not None else \
                f"on a {x.shape} batch, first row {_row_text(x[0], d.name)}"
            raise KernelError("kernel", f"kernel {self.name} raised {_one_line(e)} {where}") from e

    def probe(self, d: Dtype, device: str, classes: int) -> None:
        """Once per dtype, device and M: ordinary logits must give finite outputs in range."""
        key = (d.name, device, classes)
        if key in self.probed:
            return
        x = np.ascontiguousarray(d.cast(probe_rows(classes)))
        p = self.call(x, d, device).astype(np.float64)
        bad = ~np.isfinite(p) | ((p > 0) if self.log_space else ((p < 0) | (p > 1)))
        if bad.any():
            i, j = (int(v[0]) for v in np.nonzero(bad))
            what = "non-finite" if not np.isfinite(p[i, j]) else "out of range"
            hint = "" if not np.isfinite(p[i, j]) else (
                " (a log-probability must be ≤ 0)" if self.log_space else
                " (probabilities lie in [0, 1]; log-probabilities? declare log_space=True)")
            raise KernelError("kernel", f"kernel {self.name} returned {what} {float(p[i, j])!r} at class {j} for "
                              f"the finite input row {_row_text(x[i], d.name)}{hint}")
        self.probed.add(key)

    def __call__(self, x: np.ndarray, d: Dtype, device: str) -> np.ndarray:
        if self.tensors and device == "cpu" and self.device is not None:
            device = self.device
        if x.ndim != 2 or x.shape[1] < 1:
            raise KernelError("logits", f"kernel {self.name} takes (B, M) logits, got shape {x.shape}")
        self.probe(d, device, x.shape[1])
        return self.call(x, d, device)


@functools.cache
def _user_kernel(spec: str) -> Kernel:
    """`package.module:function` (or `:Class.attribute`) imported (the current folder searched first, as with
    `python -m`) and wrapped as a kernel."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise KernelError("kernel", f"{spec!r}: expected package.module:function")
    here = os.getcwd()
    search = here not in sys.path and "" not in sys.path  # as `python -m` would: your folder's modules first
    if search:
        sys.path.insert(0, here)
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # ImportError, or whatever the module raises while importing
        raise KernelError("kernel", f"{spec}: cannot import {module_name} ({_one_line(e)})") from e
    finally:
        if search and here in sys.path:  # the process's import path is left as it was
            sys.path.remove(here)
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise KernelError("kernel", f"{spec}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, Kernel):
        return obj
    return Kernel.from_callable(obj, name=spec)


def _log(name: str) -> Callable:
    """A function of `precision.kernels.log_probabilities`, imported on first call (that module imports this one)."""
    def call(*args):
        return getattr(importlib.import_module("precision.kernels.log_probabilities"), name)(*args)
    return call


KERNELS = {k.name: k for k in (
    Kernel("torch", "torch.softmax(x, dim=-1)", "torch", "attacks", IEEE, _torch_softmax, _torch_model,
           accelerated=True),
    Kernel("torch-log", "torch.log_softmax(x, dim=-1) (log-probabilities)", "torch", "attacks", IEEE,
           _torch_log_softmax, _torch_log_model, log_space=True, accelerated=True),
    Kernel("torch-log1p", "precision.kernels.accurate.log_softmax: −log1p(Σ_{i≠top} e^(x_i − x_top)) on torch",
           "torch", "attacks", IEEE, _log("torch_log1p"), _log("log1p_model"), log_space=True, accelerated=True),
    Kernel("jax-log", "jax.nn.log_softmax(x, axis=-1) on the CPU, 1,024 rows a call (log-probabilities)", "jax",
           "kernels", IEEE, _log("jax_log_softmax"), _log("jax_log_model"), log_space=True),
    Kernel("scipy-log", "scipy.special.log_softmax(x, axis=1) (log-probabilities)", "scipy", "kernels",
           ("float16", "float32", "float64"), _log("scipy_log_softmax"), _log("scipy_log_model"), log_space=True),
    Kernel("torch-float32", "torch.softmax(x, dim=-1, dtype=torch.float32).to(x.dtype)", "torch", "attacks",
           ("float16", "bfloat16"), _torch_float32_then_cast, _upcast_model, accelerated=True),
    Kernel("numpy", "e = np.exp(x − x.max(1)); e / e.sum(1)", "numpy", "kernels",
           IEEE + ("float8_e4m3fn", "float8_e5m2"), _numpy_softmax, _numpy_model),
    Kernel("scipy", "scipy.special.softmax(x, axis=1)", "scipy", "kernels", ("float16", "float32", "float64"),
           _scipy_softmax, _numpy_model),
    Kernel("jax", "jax.nn.softmax(x, axis=-1) on the CPU, 1,024 rows a call", "jax", "kernels", IEEE, _jax_softmax,
           _jax_model),
    Kernel("onnxruntime", "ONNX Softmax (opset 13), CPU execution provider", "onnxruntime", "kernels",
           ("float16", "float32", "float64"), _onnxruntime_softmax, _onnxruntime_model),
)}


def get_kernel(name) -> Kernel:
    """A kernel by name, or a user's `package.module:function` (see `Kernel.from_callable`; the attribute may
    also be a `Kernel` built there, to state dtypes, log space or torch); the error lists the kernels there are."""
    if isinstance(name, Kernel):
        return name
    if not isinstance(name, str):
        return Kernel.from_callable(name)
    if ":" in name:
        return _user_kernel(name)
    if name not in KERNELS:
        raise KernelError("kernel", f"unknown {name!r}; expected one of {', '.join(KERNELS)}, or a function of "
                          "yours as package.module:function")
    return KERNELS[name]


def available_kernels() -> list[Kernel]:
    """The kernels whose package is installed here."""
    return [k for k in KERNELS.values() if k.available()]


def kernel_versions(kernels) -> dict[str, str]:
    """Package versions of the given kernels, and the machine: its processor, the CPU code path torch runs
    (`torch_cpu_capability`, where a torch kernel is among them) and the processor flags that decide it."""
    kernels = list(kernels)
    out = {k.package: k.version() for k in kernels}
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
