"""Logits dumps as shards: one file, a glob or a folder of `.npy`, `.safetensors` or Parquet files (and the single
`.csv` / `.pt` files of `precision.logits.files`), each read in blocks of rows, never whole.

A shard is one file holding (…, C) logits: leading dimensions (batch, sequence) are tokens, read as rows.
- `.npy`: any real dtype; a 2-byte void dtype (`<V2`, how NumPy saves `ml_dtypes.bfloat16`) is read as bfloat16.
- `.safetensors`: the one tensor in the file, or the one named `logits`; F16, BF16, F32, F64 and integers. The
  header is parsed here and rows are read with `seek`, not memory-mapped, so memory stays bounded by a block.
- Parquet (`.parquet`, `.pq`): a list column (the one there is, or the one named `logits`) of C numbers per row,
  or every column numeric, one per class (in column order). Read by row group.
`find_shards` resolves sources (paths, globs, folders) into shards in a fixed order (sorted paths), reading only
headers; every error names the file. Blocks come back in the file's own dtype (`Shard.read`).
"""
from __future__ import annotations

import glob as globbing
import json
import os
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import ml_dtypes
import numpy as np

from precision.common.errors import InputError
from precision.common.publishing import published_names
from precision.kernels.scan import CELLS
from precision.logits.globbing import recursive_glob

SHARD_SUFFIXES = (".npy", ".safetensors", ".parquet", ".pq")
SMALL_SUFFIXES = (".csv", ".pt")  # read whole by precision.logits.files.LogitsFile
SUFFIXES = SHARD_SUFFIXES + SMALL_SUFFIXES
SAFETENSORS_DTYPES = {"F16": np.float16, "BF16": ml_dtypes.bfloat16, "F32": np.float32, "F64": np.float64,
                      "I8": np.int8, "I16": np.int16, "I32": np.int32, "I64": np.int64, "U8": np.uint8,
                      "U16": np.uint16, "U32": np.uint32, "U64": np.uint64}
SAFETENSORS_SIZES = {"BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "C64": 8} | \
    {k: np.dtype(v).itemsize for k, v in SAFETENSORS_DTYPES.items()}  # every dtype a header may name, in bytes
SCALE_EXTRA = "pip install 'softmax-saturation[scale]'"


class ShardError(InputError):
    """A logits source or shard that cannot be read as (…, C) real logits."""

    def __init__(self, message: str):
        super().__init__("logits", message)


def missing(package: str, what: str) -> ShardError:
    """The one-line error for an optional package that is not installed."""
    return ShardError(f"{what} needs the {package} package: {SCALE_EXTRA}")


def chunk_rows(classes: int) -> int:
    """Rows per block: about CELLS logits (the engine holds a few float64 copies of a block), at least one."""
    return max(1, CELLS // max(1, classes))


@dataclass(frozen=True)
class Shard:
    """One file of logits: where its rows are and how to read them (headers only; picklable for Dask)."""

    path: str
    kind: str  # "npy", "safetensors", "parquet"; "csv", "pt" (read whole by LogitsFile)
    rows: int
    classes: int
    dtype: str  # the stored dtype, as NumPy names it (bfloat16 for BF16 / <V2)
    shape: tuple[int, ...]  # as stored (leading dimensions are tokens)
    offset: int = 0  # npy / safetensors: where the data start in the file
    column: str | None = None  # parquet: the list column (None: one column per class)
    tensor: str | None = None  # safetensors: the tensor's name
    columns: tuple[str, ...] = field(default=(), repr=False)  # parquet: the class columns
    stat: tuple[int, int] = field(default=(-1, -1), repr=False)  # (size, mtime_ns) when found: checked before reading

    @property
    def storage(self) -> np.dtype:
        return np.dtype(ml_dtypes.bfloat16) if self.dtype == "bfloat16" else np.dtype(self.dtype)

    def describe(self) -> dict:
        """The shard as JSON: file, format, shape, stored dtype and (Parquet, safetensors) what was read."""
        out = {"file": self.path, "format": self.kind, "shape": list(self.shape), "rows": self.rows,
               "classes": self.classes, "stored_dtype": self.dtype}
        if self.tensor is not None:
            out["tensor"] = self.tensor
        if self.kind == "parquet":
            out["column"] = self.column if self.column is not None else f"{len(self.columns)} class columns"
        return out

    def blocks(self, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, block) for consecutive blocks of at most `rows` rows (default `chunk_rows`), in the
        stored dtype; Parquet blocks follow row groups, split to at most `rows`."""
        rows = rows or chunk_rows(self.classes)
        self.check_unchanged()
        if self.kind == "parquet":
            yield from _parquet_blocks(self, rows)
            return
        if self.kind in ("csv", "pt"):
            from precision.logits.files import LogitsFile
            f = LogitsFile(Path(self.path))  # parsed again here: a shard holds its header only (see find_shards)
            if f.shape != (self.rows, self.classes):
                raise ShardError(f"{self.path} changed since it was found: {f.shape[0]} × {f.shape[1]} logits, "
                                 f"not {self.rows} × {self.classes}")
            yield from _small_blocks(f, rows)
            return
        for start in range(0, self.rows, rows):
            yield start, self.read(start, min(rows, self.rows - start))

    def check_unchanged(self) -> None:
        """Refuse a shard whose file changed since it was found (size, modification time, header): its rows would
        be read as what they no longer are."""
        try:
            st = os.stat(self.path)
        except OSError as e:
            raise ShardError(f"{self.path} cannot be read any more: {e.strerror}") from None
        now = open_shard(Path(self.path)) if self.kind in ("npy", "safetensors") else self
        if (self.stat != (-1, -1) and (st.st_size, st.st_mtime_ns) != self.stat) or \
                (now.rows, now.classes, now.dtype, now.offset) != (self.rows, self.classes, self.dtype, self.offset):
            raise ShardError(f"{self.path} changed since it was found (another size, time or header); run again on "
                             "files that stay as they are")

    def read(self, start: int, count: int) -> np.ndarray:
        """Rows [start, start + count) of an .npy or .safetensors shard, straight from the file."""
        storage = self.storage
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * self.classes * storage.itemsize)
            block = np.fromfile(f, dtype=storage, count=count * self.classes)
        if len(block) != count * self.classes:
            raise ShardError(f"{self.path} ends early: rows {start}–{start + count - 1} are not all there")
        if storage.byteorder == ">":
            block = block.astype(storage.newbyteorder("="))
        return block.reshape(count, self.classes)


def _small_blocks(f, rows: int) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, f.shape[0], rows):
        yield start, np.asarray(f.array[start:start + rows], dtype=np.float64)


def find_shards(sources) -> list[Shard]:
    """The shards of one or more sources (a file, a glob, a folder of shards), in sorted path order, each file
    once; headers read and checked (the same number of classes everywhere)."""
    if isinstance(sources, (str, Path)):
        sources = [sources]
    paths: list[Path] = []
    for source in sources:
        paths += _expand(source)
    unique: dict[Path, Path] = {}
    for p in paths:
        unique.setdefault(p.resolve(), p)  # each file once, in first-seen order
    shards = [open_shard(p) for p in unique.values()]
    classes = {s.classes for s in shards}
    if len(classes) > 1:
        first = shards[0]
        other = next(s for s in shards if s.classes != first.classes)
        raise ShardError(f"shards disagree on the number of classes: {first.path} has {first.classes}, "
                         f"{other.path} has {other.classes}")
    return shards


def _expand(source) -> list[Path]:
    """A source's files: itself, its glob matches, or a folder's shard files (not recursive), sorted. Every file
    named or found is read or refused by name: a link that leads nowhere (dangling, a loop) is refused, never
    dropped."""
    text = str(source)
    if not text.strip():
        raise ShardError("an empty name (it would mean the current folder); name a file, a glob or a folder")
    path = Path(text)
    if path.is_dir():
        results = published_names(path)  # a folder that is also --out: this tool's own token files are not logits
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in SHARD_SUFFIXES and not p.is_dir()
                       and p.name not in results)
        if not found:
            raise ShardError(f"folder {path} holds no {', '.join(SHARD_SUFFIXES)} files")
        return [_reachable(p) for p in found]
    if any(c in text for c in "*?["):
        matches = recursive_glob(text) if "**" in text else globbing.glob(text)
        found = sorted(Path(p) for p in matches if Path(p).suffix.lower() in SUFFIXES and not Path(p).is_dir())
        if not found:
            raise ShardError(f"the pattern {text!r} matches no {', '.join(SUFFIXES)} file")
        return [_reachable(p) for p in found]
    if not path.exists() and not path.is_symlink():
        raise ShardError(f"no such file or folder {path}")
    return [_reachable(path)]


def _reachable(path: Path) -> Path:
    """`path`, unless it is a link that leads to no file (dangling, or a loop of links): refused by name."""
    try:
        path.stat()
    except OSError as e:
        raise ShardError(f"{path} is a link that leads to no file ({e.strerror})") from None
    return path


def open_shard(path: Path) -> Shard:
    """A shard's header, read and checked (no data read)."""
    path = Path(path)
    if not path.is_file():
        raise ShardError(f"{path} is not a regular file (a FIFO, socket or device); expected logits")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        shard = _npy(path)
    elif suffix == ".safetensors":
        shard = _safetensors(path)
    elif suffix in (".parquet", ".pq"):
        shard = _parquet(path)
    elif suffix in SMALL_SUFFIXES:
        from precision.logits.files import LogitsFile
        f = LogitsFile(path)
        shard = Shard(str(path), suffix[1:], f.shape[0], f.shape[1], "float64", tuple(f.shape))
    else:
        raise ShardError(f"{path} must end in one of {', '.join(SUFFIXES)}")
    if shard.rows < 1 or shard.classes < 2:
        raise ShardError(f"expected (…, C) logits with at least one row and C ≥ 2, got shape {shard.shape} in {path}")
    st = path.stat()
    return replace(shard, stat=(st.st_size, st.st_mtime_ns))


def _tokens(shape: tuple[int, ...], path: Path) -> tuple[int, int]:
    if len(shape) < 2:
        raise ShardError(f"expected (…, C) logits (tokens × classes), got shape {shape} in {path}")
    return int(np.prod(shape[:-1])), int(shape[-1])


def _npy(path: Path) -> Shard:
    from numpy.lib import format as npy
    try:
        with open(path, "rb") as f:
            version = npy.read_magic(f)
            read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran, dtype = read(f, max_header_size=1 << 20)
            offset = f.tell()
    except (ValueError, OSError, EOFError) as e:
        raise ShardError(f"cannot read {path} as .npy: {e}") from None
    if dtype.kind == "V" and dtype.itemsize == 2 and dtype.names is None:
        name = "bfloat16"  # NumPy writes ml_dtypes.bfloat16 as <V2
    elif dtype.kind in "fiu" and dtype.itemsize in (1, 2, 4, 8):
        name = dtype.str if dtype.byteorder == ">" else dtype.name  # '>f4' kept: blocks are swapped when read
    else:
        raise ShardError(f"{path} holds dtype {dtype}; expected real numbers (float, integer, or bfloat16 as <V2)")
    if fortran and len(shape) > 1:
        raise ShardError(f"{path} is Fortran-ordered; save it C-ordered (np.ascontiguousarray) to stream its rows")
    rows, classes = _tokens(tuple(shape), path)
    return Shard(str(path), "npy", rows, classes, name, tuple(shape), offset)


def _safetensors(path: Path) -> Shard:
    try:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if length > 100 << 20:
                raise ValueError(f"a header of {length} bytes")
            header = json.loads(f.read(length))
    except (struct.error, ValueError, OSError, UnicodeDecodeError) as e:
        raise ShardError(f"cannot read {path} as .safetensors: {e}") from None
    tensors = _safetensors_entries(header, path, path.stat().st_size - 8 - length)
    if len(tensors) > 1 and "logits" not in tensors:
        raise ShardError(f"{path} holds {len(tensors)} tensors ({', '.join(sorted(tensors)[:5])}); name the logits "
                         "tensor 'logits'")
    name = "logits" if "logits" in tensors else next(iter(tensors))
    info = tensors[name]
    if info.get("dtype") not in SAFETENSORS_DTYPES:
        raise ShardError(f"{path} tensor {name!r} has dtype {info.get('dtype')}; expected real numbers "
                         f"({', '.join(SAFETENSORS_DTYPES)})")
    storage = np.dtype(SAFETENSORS_DTYPES[info["dtype"]])
    shape = tuple(info["shape"])
    begin = info["data_offsets"][0]
    rows, classes = _tokens(shape, path)
    return Shard(str(path), "safetensors", rows, classes, "bfloat16" if info["dtype"] == "BF16" else storage.name,
                 shape, 8 + length + begin, tensor=name)


def _safetensors_entries(header, path: Path, data_bytes: int) -> dict[str, dict]:
    """The tensors of a safetensors header, checked whole: a JSON object of objects, each with a known dtype, a
    shape of non-negative integers and data_offsets [begin, end] of as many bytes as dtype and shape say; the
    tensors' bytes tile the data that follow the header exactly (from 0, contiguous, to the end of the file)."""
    def bad(what: str) -> ShardError:
        return ShardError(f"{path} is not a safetensors file: {what}")
    if not isinstance(header, dict):
        raise bad(f"its header is a JSON {type(header).__name__}, not an object")
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    if not tensors:
        raise ShardError(f"{path} holds no tensor")
    spans = []
    for name, info in tensors.items():
        if not isinstance(info, dict):
            raise bad(f"tensor {name!r} is a {type(info).__name__}, not an object")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in SAFETENSORS_SIZES:
            raise bad(f"tensor {name!r} has dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                                  for n in shape):
            raise bad(f"tensor {name!r} has shape {shape!r}; expected a list of non-negative integers")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(
                isinstance(n, int) and not isinstance(n, bool) for n in offsets) or not 0 <= offsets[0] <= offsets[1]:
            raise bad(f"tensor {name!r} has data_offsets {offsets!r}; expected [begin, end], 0 ≤ begin ≤ end")
        if offsets[1] - offsets[0] != int(np.prod(shape, dtype=object)) * SAFETENSORS_SIZES[dtype]:
            raise bad(f"tensor {name!r}: {offsets[1] - offsets[0]} bytes for shape {tuple(shape)} in {dtype}")
        spans.append((offsets[0], offsets[1], name))
    at = 0
    for begin, end, name in sorted(spans):
        if begin != at:
            raise bad(f"tensor {name!r} starts at byte {begin} of the data, not at {at} (tensors must be contiguous)")
        at = end
    if at != data_bytes:
        raise bad(f"its tensors cover {at} bytes of data, the file holds {max(data_bytes, 0)} (truncated or padded)")
    return tensors


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise missing("pyarrow", "reading Parquet logits") from None
    return pyarrow


def _parquet(path: Path) -> Shard:
    pa = _pyarrow()
    try:
        meta = pa.parquet.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ...
        raise ShardError(f"cannot read {path} as Parquet: {e}") from None
    schema = meta.schema_arrow
    lists = [f for f in schema if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)
             or pa.types.is_fixed_size_list(f.type)]
    rows = meta.metadata.num_rows
    if lists:
        if len(lists) > 1 and "logits" not in schema.names:
            raise ShardError(f"{path} has {len(lists)} list columns ({', '.join(f.name for f in lists)}); name the "
                             "logits column 'logits'")
        column = schema.field("logits") if "logits" in schema.names else lists[0]
        value = column.type.value_type
        if not (pa.types.is_floating(value) or pa.types.is_integer(value)):
            raise ShardError(f"{path} column {column.name!r} holds lists of {value}; expected numbers")
        first = meta.read_row_group(0, columns=[column.name]).column(0) if meta.num_row_groups else None
        if first is None or len(first) == 0:
            raise ShardError(f"{path} has no rows")
        if not first[0].is_valid:
            raise ShardError(f"{path} row 0: the {column.name!r} list is null")
        classes = len(first[0].values)
        return Shard(str(path), "parquet", rows, classes, value.to_pandas_dtype().__name__, (rows, classes),
                     column=column.name)
    bad = [f.name for f in schema if not (pa.types.is_floating(f.type) or pa.types.is_integer(f.type))]
    if bad:
        raise ShardError(f"{path}: column {bad[0]!r} is {schema.field(bad[0]).type}; expected one numeric column per "
                         "class, or one list column of logits")
    kinds = {np.dtype(f.type.to_pandas_dtype()) for f in schema}
    dtype = np.result_type(*kinds).name if kinds else "float64"
    return Shard(str(path), "parquet", rows, len(schema.names), dtype, (rows, len(schema.names)),
                 columns=tuple(schema.names))


def _parquet_blocks(shard: Shard, rows: int) -> Iterator[tuple[int, np.ndarray]]:
    pa = _pyarrow()
    f = pa.parquet.ParquetFile(shard.path)
    start = 0
    columns = [shard.column] if shard.column is not None else list(shard.columns)
    for batch in f.iter_batches(batch_size=rows, columns=columns, use_threads=False):
        if shard.column is not None:
            col = batch.column(0)
            if col.null_count:
                bad = int(np.flatnonzero(~np.asarray(col.is_valid()))[0])
                raise ShardError(f"{shard.path} row {start + bad}: the {shard.column!r} list is null")
            lengths = np.diff(np.asarray(col.offsets)) if not pa.types.is_fixed_size_list(col.type) else None
            if lengths is not None and (lengths != shard.classes).any():
                bad = int(np.flatnonzero(lengths != shard.classes)[0])
                raise ShardError(f"{shard.path} row {start + bad} has {lengths[bad]} logits, the first row "
                                 f"{shard.classes}")
            values = col.flatten()
            if values.null_count:
                raise ShardError(f"{shard.path} rows {start}–{start + len(col) - 1}: a null logit")
            block = np.asarray(values.to_numpy(zero_copy_only=False)).reshape(len(col), shard.classes)
        else:
            nulls = [batch.schema.names[i] for i in range(batch.num_columns) if batch.column(i).null_count]
            if nulls:
                raise ShardError(f"{shard.path} rows {start}–{start + batch.num_rows - 1}: column {nulls[0]!r} "
                                 "holds a null")
            block = np.stack([batch.column(i).to_numpy(zero_copy_only=False) for i in range(batch.num_columns)],
                             axis=1).astype(shard.storage, copy=False)
        yield start, block
        start += len(block)
