"""The formats by name: the built-in dtypes (float16 … float64, the float8/6/4 formats), mpBITS, decimalDIGITS,
deltaSTEP[-paper], and `get_format`, which resolves a name (with an optional @rounding-mode) once."""
from __future__ import annotations

import re
from fractions import Fraction

from precision.common.errors import InputError
from precision.formats.binary import BinaryFormat
from precision.formats.decimal_grid import DecimalFormat, DeltaGrid
from precision.formats.number_formats import (
    DELTA_RULES,
    DeltaRule,
    Format,
)

FLOAT16 = BinaryFormat("float16", 11, -14, 15)
BFLOAT16 = BinaryFormat("bfloat16", 8, -126, 127)
FLOAT32 = BinaryFormat("float32", 24, -126, 127)
FLOAT64 = BinaryFormat("float64", 53, -1022, 1023)
FLOAT8_E4M3FN = BinaryFormat("float8_e4m3fn", 4, -6, 8, overflow="saturate", largest_significand=0b1110)
FLOAT8_E5M2 = BinaryFormat("float8_e5m2", 3, -14, 15)
# ml_dtypes' other narrow formats (its casts round to nearest even): e4m3 and e3m4 are IEEE-style (e4m3: largest
# 240, where e4m3fn spends that exponent on finite values up to 448); the "fnuz" ones have no infinity and one NaN,
# and overflow to it; the OCP FP6/FP4 ones have neither and saturate
LOW_PRECISION = (BinaryFormat("float8_e4m3", 4, -6, 7), BinaryFormat("float8_e3m4", 5, -2, 3),
                 BinaryFormat("float8_e4m3fnuz", 4, -7, 7, overflow="nan"),
                 BinaryFormat("float8_e5m2fnuz", 3, -15, 15, overflow="nan"),
                 BinaryFormat("float8_e4m3b11fnuz", 4, -10, 4, overflow="nan"),
                 BinaryFormat("float6_e2m3fn", 4, 0, 2, overflow="finite"),
                 BinaryFormat("float6_e3m2fn", 3, -2, 4, overflow="finite"),
                 BinaryFormat("float4_e2m1fn", 2, 0, 2, overflow="finite"))
BUILTIN = {f.name: f for f in (FLOAT16, BFLOAT16, FLOAT32, FLOAT64, FLOAT8_E4M3FN, FLOAT8_E5M2, *LOW_PRECISION)}
ALIASES = {"binary16": "float16", "half": "float16", "binary32": "float32", "single": "float32",
           "binary64": "float64", "double": "float64"}

_UNBOUNDED_EXP = 1 << 40


MAX_MP_BITS = 16384  # beyond this a threshold search would take hours in interval arithmetic
MAX_DECIMAL_DIGITS = 4000  # about as many bits as MAX_MP_BITS, and below Python's 4300-digit int-string limit


def mp_format(bits: int) -> BinaryFormat:
    """Arbitrary binary precision (mpmath-style): `bits` significand bits, an exponent range of ±2^40."""
    if not isinstance(bits, int) or bits < 2:
        raise InputError("format", f"mpBITS needs BITS ≥ 2, got {bits!r}")
    if bits > MAX_MP_BITS:
        raise InputError("format", f"mpBITS supports up to {MAX_MP_BITS} bits, got {bits}")
    return BinaryFormat(f"mp{bits}", bits, -_UNBOUNDED_EXP, _UNBOUNDED_EXP)


def decimal_format(digits: int) -> DecimalFormat:
    """Decimal with `digits` significant digits."""
    if not isinstance(digits, int) or digits < 1:
        raise InputError("format", f"decimalDIGITS needs DIGITS ≥ 1, got {digits!r}")
    if digits > MAX_DECIMAL_DIGITS:
        raise InputError("format", f"decimalDIGITS supports up to {MAX_DECIMAL_DIGITS} digits, got {digits}")
    return DecimalFormat(f"decimal{digits}", digits)


def delta_grid(delta, rule: DeltaRule = "nearest") -> DeltaGrid:
    """The paper's fixed grid of step δ, δ ∈ (0, 0.1)."""
    try:
        d = Fraction(str(delta)) if isinstance(delta, float) else Fraction(delta)
    except (ValueError, ZeroDivisionError):
        raise InputError("format", f"deltaSTEP needs a number as its step, got {delta!r}") from None
    if not 0 < d < Fraction(1, 10):
        raise InputError("format", f"deltaSTEP needs a step in (0, 0.1) as in the paper, got {delta}")
    if rule not in DELTA_RULES:
        raise InputError("rule", f"must be one of {', '.join(map(repr, DELTA_RULES))}, got {rule!r}")
    suffix = "" if rule == "nearest" else "-paper"
    return DeltaGrid(f"delta{delta}{suffix}", d, rule)


def get_format(name: str | Format) -> Format:
    """A format by name: float16, bfloat16, float32, float64, float8_e4m3fn, float8_e5m2, mpBITS,
    decimalDIGITS, deltaSTEP or deltaSTEP-paper (for example mp113, decimal7, delta0.01); NAME@MODE rounds every
    result of a binary format under a mode of precision.formats.rounding (for example bfloat16@toward-zero).

    >>> get_format("bfloat16").round(1 + 2**-9)  # a tie: to the even neighbour
    mpf('1.0')
    """
    if isinstance(name, Format):
        return name
    if not isinstance(name, str):
        raise TypeError(f"format must be a format name or a Format, got {type(name).__name__}")
    if "@" in name:
        base, mode = name.rsplit("@", 1)
        return get_format(base).with_rounding(mode)
    key = ALIASES.get(name.lower(), name.lower())
    if key in BUILTIN:
        return BUILTIN[key]
    if m := re.fullmatch(r"mp(\d+)", key):
        return mp_format(int(m.group(1)))
    if m := re.fullmatch(r"decimal(\d+)", key):
        return decimal_format(int(m.group(1)))
    if m := re.fullmatch(r"delta([0-9.e-]+?)(-paper)?", key):
        return delta_grid(m.group(1), "paper" if m.group(2) else "nearest")
    raise InputError("format", f"unknown name {name!r}; expected one of {', '.join(BUILTIN)}, "
                     "mpBITS, decimalDIGITS, deltaSTEP or deltaSTEP-paper")
