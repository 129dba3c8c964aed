"""ImageNet images as integer pixels, with their standard class index.

Layouts: torchvision's `ImageNet` folder (`root/val/<wnid>/*.JPEG`), class sub-folders (`root/<wnid>/*`), or a
flat folder whose file names start with the WordNet id (`n01440764_tench.JPEG`, as ../shared/data/imagenet-sample).
The class index is the position of the WordNet id in the sorted list of the 1000 ILSVRC-2012 ids, which is
torchvision's order.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from precision.common.errors import InputError

if TYPE_CHECKING:
    from .models import PixelModel

EXTENSIONS = {".jpeg", ".jpg", ".png"}


@lru_cache(maxsize=1)
def wnids() -> list[str]:
    return (Path(__file__).with_name("imagenet_wnids.txt")).read_text().split()


def class_names() -> list[str]:
    import torchvision
    return list(torchvision.models.ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


def find_images(root: str | Path) -> list[tuple[Path, int]]:
    """(path, class index) for every image under root, sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("images", f"no such folder {root}")
    if (root / "val").is_dir():
        root = root / "val"
    index = {w: i for i, w in enumerate(wnids())}
    items = []
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() not in EXTENSIONS or not p.is_file():
            continue
        wnid = p.parent.name if p.parent != root else p.name.split("_")[0]
        if wnid not in index:
            raise InputError("images", f"cannot tell the class of {p}: expected a WordNet id (like n01440764) as "
                             "its folder name or file-name prefix")
        items.append((p, index[wnid]))
    if not items:
        raise InputError("images", f"no .JPEG/.jpg/.png images under {root}")
    return items


def load_pixels(paths: Sequence[str | Path], size: int) -> torch.Tensor:
    """Images resized (shorter side size·256/224) and centre-cropped to size × size, as uint8 NCHW."""
    import torchvision.transforms.functional as F
    from PIL import Image
    out = np.empty((len(paths), 3, size, size), dtype=np.uint8)
    resize = round(size * 256 / 224)
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as f:
                im = F.center_crop(F.resize(f.convert("RGB"), resize, interpolation=F.InterpolationMode.BILINEAR),
                                   size)
        except (OSError, ValueError) as e:  # PIL's UnidentifiedImageError and "image file is truncated"
            raise InputError("images", f"cannot read {p}: {e}") from None
        out[i] = np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)
    return torch.from_numpy(out)


@torch.no_grad()
def predict(model, pixels: torch.Tensor, batch_size: int = 64, device="cpu") -> torch.Tensor:
    """Top-1 class of each image (pixels uint8 or float in [0, 255])."""
    preds = [model(pixels[i:i + batch_size].to(device).float()).argmax(1).cpu()
             for i in range(0, len(pixels), batch_size)]
    return torch.cat(preds)


def select_correct(models: Sequence[PixelModel], items: Sequence[tuple[Path, int]], n: int, batch_size: int = 64,
                   device: str | torch.device = "cpu",
                   seed: int = 0) -> tuple[list[tuple[Path, int]], dict[str, torch.Tensor]]:
    """Up to n images (in a seeded order) that every model classifies correctly, as in the paper, with each
    model's pixels (models may differ in input size). Returns (items, {model name: uint8 pixels})."""
    order = np.random.default_rng(seed).permutation(len(items))
    chosen: list[tuple[Path, int]] = []
    pixels: dict[str, list[torch.Tensor]] = {m.name: [] for m in models}
    for start in range(0, len(order), batch_size):
        block = [items[i] for i in order[start:start + batch_size]]
        labels = torch.tensor([y for _, y in block])
        ok = torch.ones(len(block), dtype=torch.bool)
        px = {}
        for m in models:
            px[m.name] = load_pixels([p for p, _ in block], m.spec.input_size)
            ok &= predict(m, px[m.name], batch_size, device) == labels
        for k in np.nonzero(ok.numpy())[0][: n - len(chosen)]:
            chosen.append(block[k])
            for m in models:
                pixels[m.name].append(px[m.name][k])
        if len(chosen) >= n:
            break
    return chosen, {k: torch.stack(v) if v else torch.empty(0, 3, 1, 1, dtype=torch.uint8) for k, v in pixels.items()}


def choose_images(models, items, n: int, batch_size: int, device, seed: int, command: str):
    """`select_correct`, refusing when no image qualifies and saying so when fewer than n do."""
    chosen, pixels = select_correct(models, items, n, batch_size, device, seed)
    if not chosen:
        raise InputError("images", "no image is classified correctly by every model "
                         f"({', '.join(m.name for m in models)})")
    if len(chosen) < n:
        print(f"softmax-sat {command}: only {len(chosen)} of the asked {n} images are classified correctly by every "
              "model; going on with those", file=sys.stderr)
    return chosen, pixels
