"""The real softmax kernels (the registry), their thresholds measured on the kernels themselves, their agreement
with the emulation, and exhaustive certificates (`softmax-sat verify`)."""
from precision.kernels.registry import KERNELS, Kernel, KernelError, available_kernels, get_kernel

__all__ = ["KERNELS", "Kernel", "KernelError", "available_kernels", "get_kernel"]
