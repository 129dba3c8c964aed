"""Block-scaled formats: a shared scale per block of consecutive values, each value stored in a narrow element format.

MX (OCP Microscaling Formats v1.0): blocks of 32, an E8M0 scale (a power of two, 2^-127 … 2^127), elements in
FP8 E4M3/E5M2, FP6 E2M3/E3M2, FP4 E2M1 or INT8. The spec's conversion, as implemented here: the shared exponent is
floor(log2(max|x|)) − emax_elem, emax_elem the exponent of the element format's largest normal, and each x / 2^e is
rounded to the element format to nearest even, saturating at its largest value (no overflow to inf or NaN). The
shared exponent is clamped to E8M0's range [−127, 127] as gfloat's `compute_scale_amax` does (float32 inputs never
reach the top; an all-zero block takes 2^-127). INT8 elements are k/64, rounded to nearest even and clamped to
±127/64: symmetric, a choice of this module (the two's-complement code −128/64 = −2 is never produced; gfloat
produces it).

NVFP4 (NVIDIA: blocks of 16, an E4M3 block scale, FP4 E2M1 elements, and an FP32 per-tensor scale; NVIDIA
ModelOpt's `compute_fp4_scales` documents "scale = amax / 6.0, optionally quantized to FP8 E4M3", the per-block
scales normalised by the tensor's amax so that they use E4M3's range up to 448). The rule implemented, in exact
terms, each row (last axis) its own tensor of amax t: the block scale s = E4M3(448·amax_block / t) (nearest even,
saturating; 0 flushes the block), each element E2M1(x·2688 / (s·t)) (2688 = 448·6; nearest even, saturating at 6),
decoded as element·s·t / 2688, rounded once to float64. So the row's largest value is stored exactly (element 6,
scale 448). A real kernel (Transformer Engine, cuDNN) holds the tensor scale 2688/t as a rounded float32 and orders
its float32 operations its own way, which moves decoded values by about an ulp of float32: not modelled here.

Non-finite inputs: a block (MX) or a row (NVFP4, whose tensor scale it spoils) holding a NaN or ±∞ decodes to NaN
throughout: E8M0 has a NaN encoding and no infinity, and nothing else would be an honest value for it.

Exactness: MX values are exact in float64 (a power of two times a value of at most 8 bits). NVFP4's quotients are
computed in float64 from exact products; they are exact roundings for inputs of at most 24 significant bits (float32,
float16, bfloat16), whose quotient can never lie within 2^-53 of a midpoint of the E4M3/E2M1 grids without being on it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal, get_args

import numpy as np

from precision.common.errors import InputError
from precision.formats.binary import BinaryFormat
from precision.formats.named_formats import BUILTIN

ScaleKind = Literal["e8m0", "e4m3"]
SCALE_KINDS: tuple[ScaleKind, ...] = get_args(ScaleKind)
E8M0_EXPONENTS = (-127, 127)  # the finite E8M0 scales are 2^-127 … 2^127 (0xFF is NaN)
INT8_STEP = 2.0**-6  # MXINT8's elements are k/64 (OCP MX v1.0: an implicit scale of 2^-6)
NVFP4_TENSOR_TARGET = 448.0 * 6.0  # a row's amax maps to E4M3's largest (448) times E2M1's largest (6)


@dataclass(frozen=True)
class BlockFormat:
    """A block-scaled format: `block` consecutive values share a scale of kind `scale`; each is stored in the
    element format `element` (a name of `precision.formats.named_formats.BUILTIN`, or "int8")."""

    name: str
    element: str
    block: int
    scale: ScaleKind

    @cached_property
    def element_format(self) -> BinaryFormat | None:
        """The element's binary format (None for INT8)."""
        return None if self.element == "int8" else BUILTIN[self.element]

    @cached_property
    def element_max(self) -> float:
        """The largest element."""
        f = self.element_format
        return 127 * INT8_STEP if f is None else float(f.max_finite)

    @cached_property
    def element_emax(self) -> int:
        """The exponent of the largest normal element (emax_elem of the MX spec; 0 for INT8)."""
        f = self.element_format
        return 0 if f is None else f.emax

    @cached_property
    def element_min(self) -> float:
        """The smallest positive element: a block's value below half of it times the scale is stored as 0."""
        f = self.element_format
        return INT8_STEP if f is None else float(f.smallest_subnormal)

    def round_elements(self, v: np.ndarray) -> np.ndarray:
        """Scaled values rounded to the element format, nearest even, clamped to ±`element_max`."""
        with np.errstate(all="ignore"):
            c = np.clip(v, -self.element_max, self.element_max)
            if self.element_format is None:
                return np.rint(c / INT8_STEP) * INT8_STEP
            return self.element_format.round_array(c)


BLOCK_FORMATS = {f.name: f for f in (
    BlockFormat("mxfp8_e4m3", "float8_e4m3fn", 32, "e8m0"), BlockFormat("mxfp8_e5m2", "float8_e5m2", 32, "e8m0"),
    BlockFormat("mxfp6_e2m3", "float6_e2m3fn", 32, "e8m0"), BlockFormat("mxfp6_e3m2", "float6_e3m2fn", 32, "e8m0"),
    BlockFormat("mxfp4_e2m1", "float4_e2m1fn", 32, "e8m0"), BlockFormat("mxint8", "int8", 32, "e8m0"),
    BlockFormat("nvfp4", "float4_e2m1fn", 16, "e4m3"))}


def block_format(name: str | BlockFormat) -> BlockFormat:
    """A block format by name (one of `BLOCK_FORMATS`)."""
    if isinstance(name, BlockFormat):
        return name
    if name not in BLOCK_FORMATS:
        raise InputError("block_format", f"unknown {name!r}; expected one of {', '.join(BLOCK_FORMATS)}")
    return BLOCK_FORMATS[name]


def _blocks(x: np.ndarray, size: int) -> np.ndarray:
    """x (..., n) as (..., ⌈n/size⌉, size), the trailing partial block padded with zeros (they change no amax)."""
    n = x.shape[-1]
    pad = -n % size
    if pad:
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (pad,))], axis=-1)
    return x.reshape(x.shape[:-1] + (-1, size))


def _mx(b: np.ndarray, f: BlockFormat) -> np.ndarray:
    amax = np.max(np.abs(b), axis=-1, keepdims=True)
    e = np.frexp(amax)[1] - 1 - f.element_emax  # floor(log2(amax)) − emax_elem, exactly
    e = np.clip(np.where(amax > 0, e, E8M0_EXPONENTS[0]), *E8M0_EXPONENTS)
    return np.ldexp(f.round_elements(np.ldexp(b, -e)), e)


def _nvfp4(b: np.ndarray, f: BlockFormat, t: np.ndarray) -> np.ndarray:
    t = t[..., None, None]  # the row's amax, per block
    amax = np.max(np.abs(b), axis=-1, keepdims=True)
    e4m3, safe_t = BUILTIN["float8_e4m3fn"], np.where(t > 0, t, 1.0)
    s = e4m3.round_array(448.0 * amax / safe_t)
    denominator = np.where(s > 0, s * safe_t, 1.0)
    element = np.where(s > 0, f.round_elements(b * NVFP4_TENSOR_TARGET / denominator), 0.0)
    return element * s * safe_t / NVFP4_TENSOR_TARGET


def quantise(x, fmt: str | BlockFormat) -> np.ndarray:
    """x stored in the block format and read back (float64), blocks of consecutive values along the last axis (a
    row shorter than a block is one block; a trailing partial block is its own block).

    >>> quantise([6.0, 0.3, -1.7], "mxfp4_e2m1").tolist()  # scale 2^(2−2) = 1: 0.3 → 0.5, −1.7 → −1.5
    [6.0, 0.5, -1.5]
    """
    f = block_format(fmt)
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0 or a.shape[-1] == 0:
        raise InputError("x", f"needs values along a last axis, got shape {a.shape}")
    b = _blocks(a, f.block)
    with np.errstate(all="ignore"):
        if f.scale == "e8m0":
            q = _mx(b, f)
            q = np.where(np.all(np.isfinite(b), axis=-1, keepdims=True), q, np.nan)
        else:
            finite = np.all(np.isfinite(a), axis=-1)
            q = _nvfp4(b, f, np.where(finite, np.max(np.abs(a), axis=-1), 1.0))
            q = np.where(finite[..., None, None], q, np.nan)
    return q.reshape(q.shape[:-2] + (-1,))[..., :a.shape[-1]]
