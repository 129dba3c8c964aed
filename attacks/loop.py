"""The attack loop: batches of images, every iteration recorded, one shard per finished batch (resumable)."""
from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

if TYPE_CHECKING:
    from .methods import OverOptimized
    from .models import PixelModel

from .record import Expected, RecordWriter, measures, save_npz, set_aside, shard_is_valid, shard_path

SNAPSHOTS = "snapshots"  # prefix of a batch's snapshot shard, beside its record shard


def snapshot_key(iteration: int) -> str:
    return f"iteration_{iteration}"


def snapshots_valid(path: Path, images: np.ndarray, snapshots) -> bool:
    """A batch's snapshot shard holds exactly its images (`image`) and each asked iteration's uint8 images."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if set(z.files) != {"image", *(snapshot_key(k) for k in snapshots)}:
                return False
            if not np.array_equal(z["image"], images):
                return False
            return all(z[snapshot_key(k)].dtype == np.uint8 and len(z[snapshot_key(k)]) == len(images)
                       for k in snapshots)
    except Exception:  # unreadable: not a shard
        return False


def read_snapshots(folder: Path, expected: Expected, snapshots) -> dict[str, np.ndarray]:
    """Every batch's snapshot shard as one set, keyed by image identity: `image` (the image ids, ascending) and
    `iteration_k` (the images at iteration k, in the order of `image`)."""
    parts = []
    for start in expected.starts():
        with np.load(shard_path(folder, start, SNAPSHOTS), allow_pickle=False) as z:
            parts.append({k: z[k] for k in z.files})
    return {k: np.concatenate([p[k] for p in parts]) for k in ["image", *(snapshot_key(k) for k in snapshots)]}


def as_input(model, x: torch.Tensor) -> torch.Tensor:
    """x resized to the model's input size where it differs (for transfer to a model of another size)."""
    size = model.spec.input_size
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).round().clamp(0, 255)


@torch.no_grad()
def transfer_predictions(others, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return {m.name: m(as_input(m, x)).argmax(1) for m in others}


def progress_bar(total: int, desc: str, enabled: bool = True) -> tqdm:
    """Images × iterations done and the rate, on stderr (also when it is a log file, not a terminal)."""
    return tqdm(total=total, desc=desc, unit="img·it", file=sys.stderr, disable=not enabled, smoothing=0.1,
                mininterval=1 if sys.stderr.isatty() else 30)


def batch_starts(n: int, batch_size: int, rank: int = 0, world: int = 1) -> list[int]:
    """First image of each batch this process runs: batch k goes to rank k mod world, so shards do not depend on
    how many processes share the work."""
    return list(range(0, n, batch_size))[rank::world]


def images_of_rank(n: int, batch_size: int, rank: int = 0, world: int = 1) -> int:
    """How many of the n images this process attacks (its progress bar's share)."""
    return sum(min(batch_size, n - s) for s in batch_starts(n, batch_size, rank, world))


def attack_batches(method: OverOptimized, pixels: torch.Tensor, targets: torch.Tensor, iterations: int, out: Path,
                   others: Sequence[PixelModel] = (), batch_size: int = 16, device: str | torch.device = "cpu",
                   snapshots: Iterable[int] = (), rank: int = 0, world: int = 1,
                   bar: tqdm | None = None, progress: bool = True) -> dict[str, np.ndarray]:
    """Attack every image for `iterations` steps, recording iterations 0..iterations (0 is the original).

    Batches whose shard already exists are skipped, so a killed run continues where it stopped; under several
    processes each runs its share of the batches (`batch_starts`). Nothing leaves the device until a batch ends.
    With `snapshots`, each batch also keeps its images at those iterations (`snapshots-<first image>.npz`,
    written before the batch's record shard, which is the batch's commit point; a batch lacking either is run
    again), and the return value is every batch's snapshots by image identity (`read_snapshots`); else {}.
    """
    writer = RecordWriter(out)
    snapshots = sorted(set(snapshots))
    n = len(pixels)
    own_bar = bar is None
    if bar is None:
        bar = progress_bar(images_of_rank(n, batch_size, rank, world) * iterations, "attack", progress)
    expected = Expected(n, iterations, batch_size)
    for start in batch_starts(n, batch_size, rank, world):
        tag = f"{start:07d}"
        shard = shard_path(out, start)
        ids = np.arange(start, min(start + batch_size, n))
        pictures = shard_path(out, start, SNAPSHOTS)
        if snapshots and shard.exists() and not snapshots_valid(pictures, ids, snapshots):
            aside = set_aside(shard)  # its snapshots are missing or bad: the batch is run again
            print(f"attack: {pictures.name} is missing or bad; {shard.name} moved to {aside.name}, its batch is run "
                  "again", file=sys.stderr)
        if shard.exists():
            if shard_is_valid(shard, expected):
                bar.update(min(batch_size, n - start) * iterations)
                continue
            aside = set_aside(shard)
            print(f"attack: {shard} failed validation; moved to {aside.name}, its batch is run again",
                  file=sys.stderr)
        kept: dict[int, np.ndarray] = {}
        x0 = pixels[start:start + batch_size].to(device).float()
        t = targets[start:start + batch_size].to(device)
        x = x0.clone()  # the working image (unrounded under working_image="float")
        for it in range(iterations + 1):
            seen = method.image(x)
            if it < iterations:
                logits, x_next = method.step(x, t)
            else:
                with torch.no_grad():
                    logits, x_next = method.model(seen), x
            writer.add(it, ids, measures(logits, t, seen, x0, transfer_predictions(others, seen)))
            if it in snapshots:
                kept[it] = seen.to(torch.uint8).cpu().numpy()
            x = x_next
            if it < iterations:
                bar.update(len(ids))
        if snapshots:
            save_npz(pictures, {"image": ids, **{snapshot_key(k): kept[k] for k in snapshots}}, compress=True)
        writer.flush(tag)
    if own_bar:
        bar.close()
    return read_snapshots(out, expected, snapshots) if snapshots else {}
