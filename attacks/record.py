"""Per-iteration records of an attack: columnar NumPy shards, appended as the run goes, readable without torch.

Each shard `records-<first image>.npz` holds every column for every iteration of one batch of images; it is
written to a temporary name and renamed, so a crash leaves whole shards only.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SOFTMAX_DTYPES = ("float16", "float32", "float64")


def measures(logits, targets, x, x0, transfer: dict) -> dict:
    """The columns of one iteration for a batch (logits from the attacked model, as float32), as tensors left on
    the model's device: they reach the host once per batch, at `RecordWriter.flush`, not once per iteration."""
    import torch
    top = torch.topk(logits, 3, dim=1)
    cols = {f"top{k + 1}_class": top.indices[:, k] for k in range(3)}
    cols |= {f"top{k + 1}_logit": top.values[:, k] for k in range(3)}
    rows = torch.arange(len(logits), device=logits.device)
    for k in range(targets.shape[1]):
        cols[f"target{k + 1}_class"] = targets[:, k]
        cols[f"target{k + 1}_logit"] = logits[rows, targets[:, k]]
    for name in SOFTMAX_DTYPES:
        dtype = getattr(torch, name)
        cols[f"softmax_top_{name}"] = torch.softmax(logits.to(dtype), dim=1).max(dim=1).values.double()
    l64 = logits.double()
    rivals = l64.scatter(1, top.indices[:, :1], float("-inf"))
    cols["logit_margin"] = top.values[:, 0].double() - top.values[:, 1].double()
    cols["log_odds"] = l64.gather(1, top.indices[:, :1])[:, 0] - torch.logsumexp(rivals, dim=1)
    d = (x.double() - x0.double()).flatten(1)
    cols["l2"], cols["linf"] = d.norm(dim=1), d.abs().max(dim=1).values
    for name, pred in transfer.items():
        cols[f"transfer_{name}"] = pred
    return {k: v.detach() for k, v in cols.items()}


class RecordWriter:
    """Collects iteration columns (tensors on any device, or arrays) and writes them as shards."""

    def __init__(self, folder: Path, prefix: str = "records"):
        self.folder, self.prefix = Path(folder), prefix
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pending: list[dict] = []

    def add(self, iteration: int, images: np.ndarray, columns: dict) -> None:
        n = len(images)
        self.pending.append({"iteration": np.full(n, iteration, dtype=np.int32), "image": np.asarray(images),
                             **columns})

    def flush(self, tag: str) -> Path | None:
        if not self.pending:
            return None
        block = {k: _concatenate([p[k] for p in self.pending]) for k in self.pending[0]}
        path = self.folder / f"{self.prefix}-{tag}.npz"
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **block)
        os.replace(tmp, path)
        self.pending = []
        return path


def _concatenate(parts: list) -> np.ndarray:
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    import torch
    return torch.cat(parts).cpu().numpy()


def read_records(folder: Path, prefix: str = "records") -> dict[str, np.ndarray]:
    """All shards of a folder as one table (dict of equal-length columns), sorted by image then iteration."""
    shards = sorted(Path(folder).glob(f"{prefix}-*.npz"))
    shards = [s for s in shards if not s.name.endswith(".tmp.npz")]
    if not shards:
        raise FileNotFoundError(f"no record shards ({prefix}-*.npz) in {folder}")
    parts = [dict(np.load(s)) for s in shards]
    table = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((table["iteration"], table["image"]))
    return {k: v[order] for k, v in table.items()}


def per_image(records: dict, column: str) -> np.ndarray:
    """A column as an (images, iterations) array; records must hold every iteration of every image."""
    images = np.unique(records["image"])
    values = records[column]
    if len(values) % len(images):
        raise ValueError(f"records: images have different numbers of iterations ({len(values)} rows, "
                         f"{len(images)} images); is the run still going?")
    return values.reshape(len(images), -1)
