"""The report's rows (JSON-ready dicts, as report.json holds them) looked up by configuration through an index,
and a gap as the text of a cell, for the Markdown and the figures alike."""
from __future__ import annotations

from fractions import Fraction

from precision.formats.dtypes import DTYPES

KERNEL_DTYPES = tuple(DTYPES)


class Rows:
    """Rows indexed by the values of `key` fields: `Rows(rows, "format", "classes").get("float16", 2)`."""

    def __init__(self, rows: list[dict], *key: str):
        self.rows, self.key = rows, key
        self.index = {tuple(r[k] for k in key): r for r in rows}

    def get(self, *values) -> dict | None:
        """The row with these key values, or None where the report did not compute it."""
        if len(values) != len(self.key):
            raise TypeError(f"Rows.get takes the values of {self.key}, got {values}")
        return self.index.get(values)


def emulated(data: dict) -> Rows:
    """The emulated thresholds by (format, algorithm, classes, rivals)."""
    return Rows(data["thresholds"], "format", "algorithm", "classes", "rivals")


def measured(data: dict) -> Rows:
    """The real kernels' thresholds by (kernel, dtype, classes, rivals)."""
    return Rows(data["kernels"]["thresholds"], "kernel", "dtype", "classes", "rivals")


def measured_dtypes(data: dict) -> list[str]:
    """The dtypes some kernel was measured in, in a fixed order."""
    return [d for d in KERNEL_DTYPES if any(r["dtype"] == d for r in data["kernels"]["thresholds"])]


def gap_cell(v) -> str:
    """A gap (exact decimal text or a number; None: never) as a table cell."""
    if v is None:
        return "never"
    x = float(Fraction(v)) if isinstance(v, str) else v
    return f"{x:.6g}"
