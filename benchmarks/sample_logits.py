"""Logits of real models on the shared ImageNet sample, and how many of their softmax rows are exactly 1 in each
dtype with the kernels people run. Writes `<model>.npy` (N × 1000 float32 logits) and, per kernel, the
`softmax-sat logits` output into --out.

Usage: SOFTMAX_SAT_WEIGHTS=../shared/models python benchmarks/sample_logits.py \
           --images ../shared/data/imagenet-sample --out docs/sample_logits
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from attacks.data import find_images, load_pixels
from attacks.models import load_model
from softmax_sat import main as softmax_sat


def model_logits(name: str, images: Path, batch: int = 50) -> np.ndarray:
    model = load_model(name, None, "cpu")
    paths = [p for p, _ in find_images(images)]
    pixels = load_pixels(paths, model.spec.input_size)
    with torch.no_grad():
        return torch.cat([model(pixels[i:i + batch].float()) for i in range(0, len(pixels), batch)]).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", default="squeezenet1_1,mobilenet_v2")
    parser.add_argument("--kernels", default="torch,torch-float32,numpy,jax")
    parser.add_argument("--keep-logits", action="store_true", help="keep the .npy files in --out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = {}
    for name in args.models.split(","):
        path = args.out / f"{name}.npy"
        np.save(path, model_logits(name, args.images))
        for kernel in args.kernels.split(","):
            out = args.out / f"{name}-{kernel}"
            dtypes = "float16,bfloat16" if kernel == "torch-float32" else "float16,bfloat16,float32,float64"
            softmax_sat(["logits", str(path), "--kernel", kernel, "--dtypes", dtypes, "--out", str(out)])
            table[f"{name} / {kernel}"] = json.loads((out / "logits.json").read_text())["summary"]
        if not args.keep_logits:
            path.unlink()
    for key, rows in table.items():
        print(key, {r["dtype"]: f"{r['saturated']}/{r['rows']}" for r in rows})


if __name__ == "__main__":
    main()
