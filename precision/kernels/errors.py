"""The one error of the kernels room."""
from __future__ import annotations

from precision.common.errors import InputError


class KernelError(InputError):
    """A kernel that does not exist here, cannot take a dtype or device, lacks its package, or (a user's kernel)
    breaks its contract: not importable, not callable, raises, returns the wrong shape, dtype or a non-finite value
    for finite input."""
