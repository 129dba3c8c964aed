"""The hardware dtypes, one table: each name with its NumPy storage type, the unsigned type of its bits and its
exact `BinaryFormat`. Every list of dtype names in the project is a view of `DTYPES`, or, for the dtypes only the
emulated kernel computes in (`EMULATED_ONLY`: the block-scaled formats), of `ALL_DTYPES`."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import overload

import ml_dtypes
import numpy as np

from precision.common.errors import InputError
from precision.formats.binary import BinaryFormat
from precision.formats.block_scaled import BLOCK_FORMATS, BlockFormat
from precision.formats.named_formats import BUILTIN, LOW_PRECISION


@dataclass(frozen=True)
class Dtype:
    """A hardware dtype: its NumPy storage type, the unsigned type of its bits, and its exact format."""

    name: str
    storage: type
    bits: type

    @property
    def format(self) -> BinaryFormat:
        return BUILTIN[self.name]

    @functools.cached_property
    def max_index(self) -> int:
        """Grid index (bit pattern) of the largest finite value."""
        return self.format.max_index

    def values(self, idx: np.ndarray) -> np.ndarray:
        """The dtype's values at grid indices (bit patterns of non-negative values)."""
        return np.asarray(idx).astype(self.bits).view(self.storage)

    @overload
    def value(self, i: int) -> float: ...

    @overload
    def value(self, i: None) -> None: ...

    def value(self, i: int | None) -> float | None:
        """The dtype's value at one grid index, as a float (None for None: a gap that was never reached)."""
        return None if i is None else float(self.values(np.array([i]))[0])

    def index(self, values: np.ndarray) -> np.ndarray:
        """Grid indices of non-negative values of the dtype."""
        return np.asarray(values, dtype=self.storage).view(self.bits).astype(np.int64)

    def cast(self, x: np.ndarray) -> np.ndarray:
        """float64 values rounded to the dtype (exact for values of the dtype)."""
        with np.errstate(all="ignore"):
            return np.asarray(x, dtype=np.float64).astype(self.storage)


def exactly(x: np.ndarray, value: float) -> np.ndarray:
    """x == value elementwise for an array of floats (−0 equals 0; NaN equals nothing), compared through the bit
    patterns: ml_dtypes' own comparisons convert every element and are about 6× slower on bfloat16."""
    u = np.dtype(f"u{x.dtype.itemsize}")
    bits = x.view(u)
    if value == 0:
        return np.asarray((bits & u.type(np.iinfo(u).max >> 1)) == 0)
    pattern = np.asarray(value, dtype=np.float64).astype(x.dtype).view(u)
    if np.asarray(value, dtype=np.float64) != pattern.view(x.dtype).astype(np.float64):
        return np.zeros(x.shape, dtype=bool)  # not a value of the dtype: nothing equals it
    return np.asarray(bits == pattern)


DTYPES = {d.name: d for d in (
    Dtype("float16", np.float16, np.uint16), Dtype("bfloat16", ml_dtypes.bfloat16, np.uint16),
    Dtype("float32", np.float32, np.uint32), Dtype("float64", np.float64, np.uint64),
    Dtype("float8_e4m3fn", ml_dtypes.float8_e4m3fn, np.uint8), Dtype("float8_e5m2", ml_dtypes.float8_e5m2, np.uint8),
    # ml_dtypes' other float8, FP6 and FP4 formats (one byte each; FP6/FP4 have neither infinity nor NaN: the
    # pattern after the largest value is −0, not a non-finite value)
    *(Dtype(f.name, getattr(ml_dtypes, f.name), np.uint8) for f in LOW_PRECISION))}


@dataclass(frozen=True)
class BlockDtype(Dtype):
    """A block-scaled format as a dtype of the emulated kernel: a row of logits is held in float32 (its values, grid
    and gaps are float32's) and quantised per block along the row by the kernel before a softmax computed in
    float32, as `precision.emulated.block_thresholds` quantises logits before the softmax."""

    block: BlockFormat = field(kw_only=True)

    @property
    def format(self) -> BinaryFormat:
        return BUILTIN["float32"]


# Only the emulated kernel computes in these (no framework does): the block-scaled formats
EMULATED_ONLY: dict[str, Dtype] = {b.name: BlockDtype(b.name, np.float32, np.uint32, block=b)
                                   for b in BLOCK_FORMATS.values()}
ALL_DTYPES: dict[str, Dtype] = DTYPES | EMULATED_ONLY
# ml_dtypes' formats that are no dtype of a logits analysis, and why
NO_LOGITS = {"float8_e8m0fnu": "float8_e8m0fnu is a scale format: powers of two only, no zero and no negative value, "
                               "so it holds no logits (it is the MX formats' block scale: use mxfp8_e4m3 … mxint8)",
             "float8_e5m3fnu": "float8_e5m3fnu is unsigned: it holds no negative logit"}


def check_logits_dtype(name: str) -> str:
    """A dtype name a logits analysis can take, or one line saying why not."""
    if name in NO_LOGITS:
        raise InputError("dtypes", NO_LOGITS[name])
    return name

IEEE = ("float16", "bfloat16", "float32", "float64")  # the dtypes of every framework; float8 is NumPy's alone
NARROW = IEEE[:3]  # float16, bfloat16, float32: what attention and language models' logits are computed in
