"""A kernel is one record: `Kernel` holds every fact about a real softmax implementation — its call, its dtypes
and devices, its package, the emulated model that explains it, its log-space companion, its exp, its cost at wide
rows and the report sections it appears in — so every table, figure, analysis and `verify` reads them from here.

Inputs and outputs travel as NumPy arrays in the dtype's own storage (`Dtype.storage`: NumPy's float16/32/64,
ml_dtypes' bfloat16 and float8), so no value is rounded on the way in or out.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from precision.emulated.algorithms import AlgorithmName, Order
from precision.formats.dtypes import ALL_DTYPES, DTYPES, IEEE, Dtype, exactly
from precision.kernels.errors import KernelError
from precision.kernels.user_call import UserCall, callable_name

SECTIONS = ("cpu-paths", "log-probabilities")  # report sections a kernel may appear in besides the kernel tables


@dataclass(frozen=True)
class EmulationModel:
    """The emulated configuration (`precision.emulated.algorithms`) that explains a kernel, and why."""

    algorithm: AlgorithmName | None  # None: no emulated model explains the kernel (a user's kernel)
    accumulate: str | None  # None: every operation in the input dtype
    order: Order | None
    why: str


NO_MODEL = EmulationModel(None, None, None, "a user's kernel: no emulated model explains it, so none is compared")
NO_EXP = "not measurable: no exp to call alone"


def no_model(dtype: str) -> EmulationModel:
    """The model of a kernel that has none (a user's kernel)."""
    return NO_MODEL


@dataclass(frozen=True)
class Kernel:
    """A real softmax implementation: `compute(x, dtype, device)` maps (B, M) storage arrays to outputs."""

    name: str
    summary: str  # the call, in words
    package: str  # the import that provides it
    extra: str  # the optional extra of this distribution that installs the package
    dtypes: tuple[str, ...]
    compute: Callable[[np.ndarray, Dtype, str], np.ndarray]
    model: Callable[[str], EmulationModel]  # the emulated model that explains it, per dtype
    log_space: bool = False  # outputs are log-probabilities: "exactly 1" reads "exactly 0"
    accelerated: bool = False  # takes a torch device other than the CPU
    user: bool = False  # a user's callable (`from_callable`, `module:function`), not a built-in kernel
    log_companion: str | None = None  # the kernel of the same library that says whether log p_top is exactly 0
    exp: Callable[[np.ndarray, str], np.ndarray] | None = None  # its framework's exp, called alone in the dtype
    exp_note: str = NO_EXP  # why `exp` is None
    wide_rows: Literal["fast", "slow"] = "slow"  # fast: about a second a threshold at a vocabulary's width, so the
    #                                              report measures it there by default
    sections: tuple[str, ...] = ()  # report sections besides the kernel tables (`SECTIONS`)

    def __post_init__(self):
        unknown = [s for s in self.sections if s not in SECTIONS]
        if unknown:
            raise KernelError("sections", f"kernel {self.name}: unknown section(s) {unknown}; expected some of "
                              f"{', '.join(SECTIONS)}")

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
        label = name or callable_name(fn)
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
        call = UserCall(fn, label, tensors, device, log_space)
        kind = "torch tensors" if tensors else "NumPy arrays"
        summary = f"{callable_name(fn)}(x): a user's kernel on {kind}" + (", log-probabilities" if log_space else "")
        return cls(label, summary, "torch" if tensors else "numpy", "attacks" if tensors else "", dtypes, call,
                   no_model, log_space=log_space, accelerated=tensors, user=True)

    def available(self) -> bool:
        """Whether the kernel's package is installed here."""
        return importlib.util.find_spec(self.package) is not None

    def version(self) -> str:
        """The version of the kernel's package (each package's distribution has its name)."""
        return importlib.metadata.version(self.package)

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
        return ALL_DTYPES[dtype]

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
        with np.errstate(all="ignore"):  # an overflow or underflow is a finding (NaN and ±inf outputs are counted)
            return np.asarray(self.compute(x, d, device)).astype(d.storage, copy=False)
