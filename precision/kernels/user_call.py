"""The contract of a user's softmax, checked on every call: `UserCall` runs the function and refuses, in one line
that names the kernel and the first offending input row, whatever breaks the contract of `Kernel.from_callable`."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import numpy as np

from precision.formats.dtypes import Dtype
from precision.kernels.errors import KernelError
from precision.kernels.tensors import from_torch, to_torch, torch_dtypes


def callable_name(fn) -> str:
    """`module:qualified.name` of a function (its type's name for other callables)."""
    module = getattr(fn, "__module__", None) or ""
    qual = getattr(fn, "__qualname__", None) or type(fn).__name__
    return f"{module}:{qual}" if module else qual


def row_text(row: np.ndarray, dtype: str) -> str:
    """An input row in one short line: its first values (and how many there are)."""
    values = ", ".join(f"{float(v):.6g}" for v in np.asarray(row).ravel()[:6])
    more = f", … ({row.size} classes)" if row.size > 6 else ""
    return f"[{values}{more}] ({dtype})"


def one_line(e: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def probe_rows(classes: int) -> np.ndarray:
    """Ordinary finite logits (float64) any softmax must map to finite probabilities in [0, 1]: a ramp from 4 down
    to −4, all equal, one class 8 above the rest, and a ramp the other way."""
    ramp = np.linspace(4.0, -4.0, classes)
    top = np.zeros(classes)
    top[classes // 2] = 8.0
    return np.stack([ramp, np.zeros(classes), top, ramp[::-1]])


@contextmanager
def process_state_kept(name: str):
    """Runs a user's code so that it cannot change the tool's process: the working folder and the import path are
    put back as they were, and `sys.exit` becomes a `KernelError` instead of ending the tool."""
    cwd, path = os.getcwd(), list(sys.path)
    try:
        yield
    except SystemExit as e:
        raise KernelError("kernel", f"{name} called sys.exit({e.code!r}); a kernel returns its outputs") from None
    finally:
        if os.getcwd() != cwd:
            os.chdir(cwd)
        if sys.path != path:
            sys.path[:] = path


BATCH_SUM_TOLERANCE = 0.25  # |Σ_row p − 1| a softmax of finite logits never reaches (a batch-wide one: 1 − 1/B)


class UserCall:
    """Calls a user's function under the contract of `Kernel.from_callable`, checking what comes back."""

    def __init__(self, fn, name: str, tensors: bool, device: str | None, log_space: bool):
        self.fn, self.name, self.tensors, self.device, self.log_space = fn, name, tensors, device, log_space
        self.probed: set[tuple[str, str, int]] = set()

    def _run(self, x: np.ndarray, d: Dtype, device: str) -> np.ndarray:
        x = x.copy()  # the function's own copy: a kernel that writes into its input corrupts no row of ours
        if not self.tensors:
            with process_state_kept(f"kernel {self.name}"):
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
            with process_state_kept(f"kernel {self.name}"):
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
        """The function's outputs for rows x, checked; what it raises becomes one `KernelError` line."""
        try:
            return self._run(x, d, device)
        except KernelError:
            raise
        except Exception as e:
            try:
                i = self._first_raising_row(x, d, device)
            except Exception:
                i = None
            where = f"on input row {i} {row_text(x[i], d.name)}" if i is not None else \
                f"on a {x.shape} batch, first row {row_text(x[0], d.name)}"
            raise KernelError("kernel", f"kernel {self.name} raised {one_line(e)} {where}") from e

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
                              f"the finite input row {row_text(x[i], d.name)}{hint}")
        sums = np.exp(p).sum(axis=1) if self.log_space else p.sum(axis=1)
        off = np.abs(sums - 1) > BATCH_SUM_TOLERANCE
        if off.any():
            i = int(np.argmax(off))
            raise KernelError("kernel", f"kernel {self.name} returned outputs summing to {float(sums[i]):.6g}, not 1, "
                              f"for the finite input row {row_text(x[i], d.name)} of a batch of {len(x)}: a softmax "
                              "normalises each row (over the last axis), not the whole batch")
        self.probed.add(key)

    def __call__(self, x: np.ndarray, d: Dtype, device: str) -> np.ndarray:
        if self.tensors and device == "cpu" and self.device is not None:
            device = self.device
        if x.ndim != 2 or x.shape[1] < 1:
            raise KernelError("logits", f"kernel {self.name} takes (B, M) logits, got shape {x.shape}")
        self.probe(d, device, x.shape[1])
        return self.call(x, d, device)
