"""Number formats: how a real number is rounded (IEEE-style binary, arbitrary precision, decimal, the paper's δ-grid),
exact arithmetic over them, the hardware dtypes table, and the search over a format's grid."""
from precision.formats.binary import BinaryFormat
from precision.formats.decimal_grid import DecimalFormat, DeltaGrid
from precision.formats.dtypes import DTYPES, Dtype
from precision.formats.named_formats import BUILTIN, get_format
from precision.formats.number_formats import Format

__all__ = ["BUILTIN", "BinaryFormat", "DTYPES", "DecimalFormat", "DeltaGrid", "Dtype", "Format", "get_format"]
