"""A user's `package.module:function` as a kernel: imported as `python -m` would (the current folder first) and
wrapped by `Kernel.from_callable`; an attribute that is already a `Kernel` is taken as it is."""
from __future__ import annotations

import functools
import importlib
import os
import sys

from precision.kernels.contract import Kernel
from precision.kernels.errors import KernelError
from precision.kernels.user_call import one_line, process_state_kept


@functools.cache
def user_kernel(spec: str) -> Kernel:
    """`package.module:function` (or `:Class.attribute`) imported (the current folder searched first, as with
    `python -m`) and wrapped as a kernel."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise KernelError("kernel", f"{spec!r}: expected package.module:function")
    here = os.getcwd()
    top = module_name.partition(".")[0]
    if top in sys.stdlib_module_names and any(os.path.exists(os.path.join(here, top + end)) for end in (".py", "")):
        raise KernelError("kernel", f"{spec}: your {top} in {here} is named like the standard module {top}, which "
                          "it would shadow (or be shadowed by); rename your module")
    try:
        with process_state_kept(f"{spec}: importing {module_name}"):
            if here not in sys.path and "" not in sys.path:  # as `python -m` would: your folder's modules first
                sys.path.insert(0, here)  # (the import path is put back as it was once the module is imported)
            module = importlib.import_module(module_name)
    except KernelError:
        raise
    except Exception as e:  # ImportError, or whatever the module raises while importing
        raise KernelError("kernel", f"{spec}: cannot import {module_name} ({one_line(e)})") from e
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise KernelError("kernel", f"{spec}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, Kernel):
        return obj
    return Kernel.from_callable(obj, name=spec)
