"""Per-iteration records of an attack: columnar NumPy shards, appended as the run goes, readable without torch.

Each shard `records-<first image>.npz` holds every column for every iteration of one batch of images; it is
written to a temporary name and renamed, so a crash leaves whole shards only.
"""
from __future__ import annotations

import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from precision.common.errors import InputError

SOFTMAX_DTYPES = ("float16", "float32", "float64")
TOP_K = 3


def _named(pattern: str):
    return staticmethod(lambda key: pattern.format(key))


class Column:
    """The one schema of a record: every column name is built here, and every reader asks here."""

    ITERATION, IMAGE = "iteration", "image"
    LOGIT_MARGIN, LOG_ODDS, L2, LINF = "logit_margin", "log_odds", "l2", "linf"
    TOP1_IS_TARGET = "top1_is_target"  # the prediction is one of the attack's targets
    top_class = _named("top{}_class")  # class of the k-th highest activation (k = 1: the prediction)
    top_logit = _named("top{}_logit")  # the k-th highest class activation
    target_class = _named("target{}_class")  # the attack's k-th target class
    target_logit = _named("target{}_logit")
    softmax_top = _named("softmax_top_{}")  # the top softmax output computed in a dtype
    transfer = _named("transfer_{}")  # another model's prediction of the attacked image

    @staticmethod
    def targets_in(records: dict) -> list[str]:
        """The target-class columns a table holds (one or two, by method)."""
        return [Column.target_class(k) for k in (1, 2) if Column.target_class(k) in records]

    @staticmethod
    def transfer_models(records: dict) -> list[str]:
        """The models whose predictions a table holds."""
        prefix = Column.transfer("")
        return sorted(k.removeprefix(prefix) for k in records if k.startswith(prefix))


PREDICTION, ACTIVATION, CONFIDENCE = Column.top_class(1), Column.top_logit(1), Column.softmax_top("float32")
# float16's softmax of logits beyond 65504 is NaN: a measurement, not a fault; NaN anywhere else is one
MAY_BE_NAN = {Column.softmax_top("float16")}


def measures(logits, targets, x, x0, transfer: dict) -> dict:
    """The columns of one iteration for a batch (logits from the attacked model, as float32), as tensors left on
    the model's device: they reach the host once per batch, at `RecordWriter.flush`, not once per iteration."""
    import torch
    top = torch.topk(logits, TOP_K, dim=1)
    cols = {Column.top_class(k + 1): top.indices[:, k] for k in range(TOP_K)}
    cols |= {Column.top_logit(k + 1): top.values[:, k] for k in range(TOP_K)}
    rows = torch.arange(len(logits), device=logits.device)
    for k in range(targets.shape[1]):
        cols[Column.target_class(k + 1)] = targets[:, k]
        cols[Column.target_logit(k + 1)] = logits[rows, targets[:, k]]
    cols[Column.TOP1_IS_TARGET] = (top.indices[:, :1] == targets).any(dim=1).to(torch.int8)
    dtypes = {"float16": torch.float16, "float32": torch.float32, "float64": torch.float64}
    for name in SOFTMAX_DTYPES:
        cols[Column.softmax_top(name)] = torch.softmax(logits.to(dtypes[name]), dim=1).max(dim=1).values.double()
    l64 = logits.double()
    rivals = l64.scatter(1, top.indices[:, :1], float("-inf"))
    cols[Column.LOGIT_MARGIN] = top.values[:, 0].double() - top.values[:, 1].double()
    cols[Column.LOG_ODDS] = l64.gather(1, top.indices[:, :1])[:, 0] - torch.logsumexp(rivals, dim=1)
    d = (x.double() - x0.double()).flatten(1)
    cols[Column.L2], cols[Column.LINF] = d.norm(dim=1), d.abs().max(dim=1).values
    for name, pred in transfer.items():
        cols[Column.transfer(name)] = pred
    return {k: v.detach() for k, v in cols.items()}


class RecordWriter:
    """Collects iteration columns (tensors on any device, or arrays) and writes them as shards."""

    def __init__(self, folder: Path, prefix: str = "records"):
        self.folder, self.prefix = Path(folder), prefix
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pending: list[dict] = []

    def add(self, iteration: int, images: np.ndarray, columns: dict) -> None:
        n = len(images)
        self.pending.append({Column.ITERATION: np.full(n, iteration, dtype=np.int32),
                             Column.IMAGE: np.asarray(images), **columns})

    def flush(self, tag: str) -> Path | None:
        if not self.pending:
            return None
        block = {k: _concatenate([p[k] for p in self.pending]) for k in self.pending[0]}
        path = save_npz(self.folder / f"{self.prefix}-{tag}.npz", block)
        self.pending = []
        return path


def save_npz(path: Path, arrays: dict[str, np.ndarray], compress: bool = False) -> Path:
    """`np.savez` (readable by `np.load`), but the same arrays give the same bytes (no time stamps, no pickles),
    written to a temporary name and renamed."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(tmp, "w", method) as z:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            with z.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
    os.replace(tmp, path)
    return path


def _concatenate(parts: list) -> np.ndarray:
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    import torch
    return torch.cat(parts).cpu().numpy()


@dataclass(frozen=True)
class Expected:
    """What a folder of shards must hold: images 0..images−1 in batches of `batch_size`, iterations 0..iterations."""

    images: int
    iterations: int
    batch_size: int

    def shard_images(self, start: int) -> np.ndarray:
        return np.arange(start, min(start + self.batch_size, self.images))

    def starts(self) -> list[int]:
        return list(range(0, self.images, self.batch_size))


class RecordsError(InputError):
    """Records that are unreadable, incomplete, duplicated, or hold NaN; the message names the shard. `argument`
    is the option that named the folder (`--results` for a reader; a writer's command says `--out`)."""

    def __init__(self, message: str, argument: str = "results"):
        super().__init__(argument, message)


def shard_path(folder: Path, start: int, prefix: str = "records") -> Path:
    return Path(folder) / f"{prefix}-{start:07d}.npz"


def read_shard(path: Path, expected: Expected | None = None) -> dict[str, np.ndarray]:
    """One shard's columns, checked: readable, equal lengths, no NaN, and (given `expected`) exactly its batch's
    images × iterations 0..T, each once."""
    try:
        with np.load(path, allow_pickle=False) as z:
            cols = {k: z[k] for k in z.files}
    except Exception as e:  # BadZipFile, ValueError, OSError, EOFError, KeyError...: the file is not a shard
        raise RecordsError(f"shard {path} is unreadable ({type(e).__name__}: {e})") from None
    missing = {Column.IMAGE, Column.ITERATION, PREDICTION, ACTIVATION, CONFIDENCE} - set(cols)
    if missing:
        raise RecordsError(f"shard {path} lacks the columns {', '.join(sorted(missing))}")
    lengths = {len(v) for v in cols.values()}
    if len(lengths) != 1:
        raise RecordsError(f"shard {path} has columns of different lengths {sorted(lengths)}")
    for k, v in cols.items():
        if v.dtype.kind not in "biuf":
            raise RecordsError(f"shard {path}: column {k} has dtype {v.dtype}, expected numbers")
        if v.dtype.kind == "f" and k not in MAY_BE_NAN and np.isnan(v).any():
            raise RecordsError(f"shard {path}: column {k} holds NaN in {int(np.isnan(v).sum())} rows")
    if expected is not None:
        start = int(path.stem.split("-")[-1])
        images = expected.shard_images(start)
        want = np.stack(np.meshgrid(images, np.arange(expected.iterations + 1), indexing="ij"), -1).reshape(-1, 2)
        got = np.stack([cols[Column.IMAGE], cols[Column.ITERATION]], -1)
        pairs = {tuple(r) for r in got.tolist()}
        if len(pairs) != len(got):
            raise RecordsError(f"shard {path} holds {len(got) - len(pairs)} duplicated (image, iteration) rows")
        if pairs != {tuple(r) for r in want.tolist()}:
            raise RecordsError(f"shard {path} holds images {sorted(set(cols[Column.IMAGE].tolist()))[:8]} × "
                               f"iterations {int(cols[Column.ITERATION].min())}–{int(cols[Column.ITERATION].max())}; "
                               f"expected images {images[0]}–{images[-1]} × iterations 0–{expected.iterations}")
    return cols


def shard_is_valid(path: Path, expected: Expected) -> bool:
    try:
        read_shard(path, expected)
    except RecordsError:
        return False
    return True


def set_aside(path: Path) -> Path:
    """Move a bad shard out of the way (kept, never deleted) so that a rerun redoes its batch."""
    aside = path.with_name(f"{path.name}.invalid-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, aside)
    return aside


def read_records(folder: Path, expected: Expected | None = None, prefix: str = "records") -> dict[str, np.ndarray]:
    """All shards of a folder as one table (dict of equal-length columns), sorted by image then iteration.
    Given `expected`, every shard is checked and every batch must be there exactly once."""
    folder = Path(folder)
    shards = sorted(s for s in folder.glob(f"{prefix}-*.npz") if not s.name.endswith(".tmp.npz"))
    shards = [s for s in shards if s.is_file()]
    if not shards:
        raise RecordsError(f"no record shards ({prefix}-*.npz) in {folder}")
    if expected is not None:
        names = {shard_path(folder, s, prefix).name for s in expected.starts()}
        stray = [s.name for s in shards if s.name not in names]
        if stray:
            raise RecordsError(f"{folder} holds shards {', '.join(stray[:5])} that no batch of this run writes")
        absent = sorted(names - {s.name for s in shards})
        if absent:
            raise RecordsError(f"{folder} lacks shards {', '.join(absent[:5])}"
                               f"{f' and {len(absent) - 5} more' if len(absent) > 5 else ''}: the run is not "
                               "finished; run the same command again to complete it")
    parts = [read_shard(s, expected) for s in shards]
    columns = set(parts[0])
    for s, p in zip(shards, parts):
        if set(p) != columns:
            raise RecordsError(f"shard {s} has columns {sorted(set(p) ^ columns)} that {shards[0].name} has not, "
                               "or lacks them")
    table = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((table[Column.ITERATION], table[Column.IMAGE]))
    return {k: v[order] for k, v in table.items()}


def per_image(records: dict, column: str) -> np.ndarray:
    """A column as an (images, iterations) array; records must hold every iteration of every image."""
    images = np.unique(records[Column.IMAGE])
    values = records[column]
    if len(values) % len(images):
        raise RecordsError(f"images have different numbers of iterations ({len(values)} rows, "
                         f"{len(images)} images); is the run still going?")
    return values.reshape(len(images), -1)
