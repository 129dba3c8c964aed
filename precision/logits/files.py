"""A user's logits file, (N, C) real numbers in .npy, .csv or .pt, read in chunks of rows.

`.npy` files are read chunk by chunk from disk (not memory-mapped: mapped pages would count in the process's
memory), so memory stays bounded whatever N is; `.csv` and `.pt` are read whole. Every
error names the file and, where there is one, the row (CSV: the line) and column at fault.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

import ml_dtypes
import numpy as np

from precision.common.errors import InputError

SUFFIXES = (".npy", ".csv", ".pt")


class LogitsFileError(InputError):
    """A logits file that cannot be read as (N, C) finite real logits."""

    def __init__(self, message: str):
        super().__init__("logits", message)


class LogitsFile:
    """(N, C) logits with C ≥ 2, N ≥ 1, read in chunks of float64 rows."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise LogitsFileError(f"{self.path} is a directory; expected a .npy, .csv or .pt file")
        if not self.path.exists():
            raise LogitsFileError(f"no such file {self.path}")
        if not self.path.is_file():
            raise LogitsFileError(f"{self.path} is not a regular file (a FIFO, socket or device); expected a .npy, "
                                  ".csv or .pt file")
        suffix = self.path.suffix.lower()
        if suffix not in SUFFIXES:
            raise LogitsFileError(f"{self.path} must end in .npy, .csv or .pt")
        self.found = _stat(self.path)  # (size, mtime_ns): an .npy read chunk by chunk must stay this file
        self.first_line = 1  # CSV line of row 0 (2 after a header), for messages
        self.npy_offset: int | None = None  # where a C-ordered .npy file's data starts
        self.array = {".npy": self._npy, ".csv": self._csv, ".pt": self._pt}[suffix]()
        if self.array.ndim != 2 or self.array.shape[0] < 1 or self.array.shape[1] < 2:
            raise LogitsFileError(f"expected shape (N, C) with N ≥ 1 and C ≥ 2, got "
                                  f"{self.array.shape} in {self.path}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.array.shape

    def _npy(self) -> np.ndarray:
        try:
            a = np.load(self.path, mmap_mode="r", allow_pickle=False)  # reads the header; data read in chunks
        except (ValueError, OSError, EOFError) as e:
            raise LogitsFileError(f"cannot read {self.path} as .npy: {e}") from None
        if not isinstance(a, np.ndarray):  # np.load opens a .npz archive whatever the file is called
            a.close()
            raise LogitsFileError(f"{self.path} is a .npz archive, not a .npy array; save one array with np.save")
        if a.dtype.kind == "V" and a.dtype.itemsize == 2 and a.dtype.names is None:
            a = a.view(ml_dtypes.bfloat16)  # np.save writes ml_dtypes' bfloat16 as two raw bytes (|V2)
        elif a.dtype.kind not in "fiu":
            raise LogitsFileError(f"{self.path} holds dtype {a.dtype}; expected real numbers "
                                  "(float or integer)")
        # a memory map knows where its data starts in the file: chunks are read from there
        self.npy_offset = a.offset if isinstance(a, np.memmap) and a.flags.c_contiguous and a.ndim == 2 else None
        return a

    def _rows(self, start: int, count: int) -> np.ndarray:
        """Rows [start, start + count) as float64; .npy rows straight from the file."""
        if self.npy_offset is None:
            return np.asarray(self.array[start:start + count], dtype=np.float64)
        if _stat(self.path) != self.found:
            raise LogitsFileError(f"{self.path} changed while it was read (another size or time): run again on a "
                                  "file that stays as it is")
        c, dtype = self.shape[1], self.array.dtype
        with open(self.path, "rb") as f:
            f.seek(self.npy_offset + start * c * dtype.itemsize)
            block = np.fromfile(f, dtype=dtype, count=min(count, self.shape[0] - start) * c)
        return block.reshape(-1, c).astype(np.float64)

    def _csv(self) -> np.ndarray:
        try:  # utf-8-sig: spreadsheet programs start their UTF-8 CSV with a byte-order mark
            with open(self.path, newline="", encoding="utf-8-sig") as f:
                lines = [row for row in csv.reader(f)]
        except UnicodeDecodeError as e:
            raise LogitsFileError(f"{self.path} is not UTF-8 text (byte {e.start}: {e.object[e.start:e.start + 1]!r}); "
                                  "a CSV of logits is plain text — is it compressed, or in another encoding?") from None
        except csv.Error as e:
            raise LogitsFileError(f"{self.path} is not a readable CSV: {e}") from None
        rows = []
        for number, cells in enumerate(lines, start=1):
            if not cells or all(not c.strip() for c in cells):
                continue
            try:
                rows.append([float(c) for c in cells])
            except ValueError:
                if number == 1 and not rows and not any(_is_number(c) for c in cells):
                    self.first_line = 2  # a header line: every cell is text
                    continue
                bad = next(i for i, c in enumerate(cells) if not _is_number(c))
                raise LogitsFileError(f"{self.path} line {number}, column {bad + 1}: "
                                      f"{cells[bad]!r} is not a number") from None
            if len(rows[-1]) != len(rows[0]):
                raise LogitsFileError(f"{self.path} line {number} has {len(rows[-1])} values, "
                                      f"the first row {len(rows[0])}")
        return np.array(rows, dtype=np.float64).reshape(len(rows), -1 if rows else 0)

    def _pt(self) -> np.ndarray:
        import torch
        try:
            t = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises many kinds; the user needs the file and the reason
            raise LogitsFileError(f"cannot read {self.path} as a torch file: {e}") from None
        if not isinstance(t, torch.Tensor):
            raise LogitsFileError(f"{self.path} holds a {type(t).__name__}, expected one tensor")
        if t.layout != torch.strided:
            raise LogitsFileError(f"{self.path} holds a {t.layout} tensor; expected a dense one (t.to_dense())")
        if t.is_meta:
            raise LogitsFileError(f"{self.path} holds a tensor on the meta device: it has a shape but no values")
        if t.is_quantized:
            raise LogitsFileError(f"{self.path} holds a quantized tensor; save t.dequantize() instead")
        if t.is_complex() or t.dtype == torch.bool:
            raise LogitsFileError(f"{self.path} holds dtype {t.dtype}; expected real numbers")
        return t.detach().double().numpy()

    def chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, float64 block) for consecutive blocks of at most `rows` rows, each checked finite."""
        for start in range(0, self.shape[0], rows):
            block = self._rows(start, rows)
            bad = np.argwhere(~np.isfinite(block))
            if len(bad):
                r, c = bad[0]
                where = (f"line {start + r + self.first_line}" if self.path.suffix.lower() == ".csv"
                         else f"row {start + r}")
                column = c + 1 if self.path.suffix.lower() == ".csv" else c  # CSV counts from 1, arrays from 0
                raise LogitsFileError(f"{self.path} {where}, column {column}: {block[r, c]} "
                                      "(NaN or infinite logits are not logits)")
            yield start, block


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
