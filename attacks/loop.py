"""The attack loop: batches of images, every iteration recorded, one shard per finished batch (resumable)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .record import RecordWriter, measures


def as_input(model, x: torch.Tensor) -> torch.Tensor:
    """x resized to the model's input size where it differs (for transfer to a model of another size)."""
    size = model.spec.input_size
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).round().clamp(0, 255)


@torch.no_grad()
def transfer_predictions(others, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return {m.name: m(as_input(m, x)).argmax(1) for m in others}


def attack_batches(method, pixels: torch.Tensor, targets: torch.Tensor, iterations: int, out: Path,
                   others=(), batch_size: int = 16, device="cpu", snapshots=(), image_ids=None,
                   progress: bool = True, desc: str = "attack") -> dict[int, np.ndarray]:
    """Attack every image for `iterations` steps, recording iterations 0..iterations (0 is the original).

    Batches whose shard already exists are skipped, so a killed run continues where it stopped.
    Returns {iteration: uint8 images} for the requested snapshot iterations of the batches run now.
    """
    writer = RecordWriter(out)
    n = len(pixels)
    image_ids = np.arange(n) if image_ids is None else np.asarray(image_ids)
    bar = tqdm(total=n * iterations, desc=desc, unit="img·it", file=sys.stderr, disable=not progress or None,
               smoothing=0.1)
    kept: dict[int, list[np.ndarray]] = {k: [] for k in snapshots}
    for start in range(0, n, batch_size):
        tag = f"{image_ids[start]:07d}"
        if (out / f"records-{tag}.npz").exists():
            bar.update(min(batch_size, n - start) * iterations)
            continue
        ids = image_ids[start:start + batch_size]
        x0 = pixels[start:start + batch_size].to(device).float()
        t = targets[start:start + batch_size].to(device)
        x = x0.clone()
        for it in range(iterations + 1):
            if it < iterations:
                logits, x_next = method.step(x, t)
            else:
                with torch.no_grad():
                    logits, x_next = method.model(x), x
            writer.add(it, ids, measures(logits, t, x, x0, transfer_predictions(others, x)))
            if it in kept:
                kept[it].append(x.to(torch.uint8).cpu().numpy())
            x = x_next
            if it < iterations:
                bar.update(len(ids))
        writer.flush(tag)
    bar.close()
    return {k: np.concatenate(v) for k, v in kept.items() if v}
