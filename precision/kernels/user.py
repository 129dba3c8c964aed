"""A user's `package.module:function` as a kernel: imported as `python -m` would (the current folder first) and
wrapped by `Kernel.from_callable`; an attribute that is already a `Kernel` is taken as it is."""
from __future__ import annotations

import functools
import importlib
import os
import sys

from precision.kernels.contract import Kernel
from precision.kernels.errors import KernelError
from precision.kernels.user_call import one_line


@functools.cache
def user_kernel(spec: str) -> Kernel:
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
        raise KernelError("kernel", f"{spec}: cannot import {module_name} ({one_line(e)})") from e
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
