"""Number formats: how a real number is rounded (IEEE-style binary, arbitrary precision, decimal, the paper's δ-grid),
exact arithmetic over them, the hardware dtypes table, and the search over a format's grid."""
from precision.formats.dtypes import DTYPES, Dtype
from precision.formats.number_formats import BUILTIN, BinaryFormat, DecimalFormat, DeltaGrid, Format, get_format

__all__ = ["BUILTIN", "BinaryFormat", "DTYPES", "DecimalFormat", "DeltaGrid", "Dtype", "Format", "get_format"]
