"""Batched attack against a per-image loop doing the same work (issue: attacks), on SqueezeNet 1.1, CPU or GPU.

Run: SOFTMAX_SAT_WEIGHTS=../shared/models python benchmarks/bench_attack.py [--images N] [--iterations K]
Both runs attack the same images for the same iterations with the same records; the ratio is measured here.
"""
import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from attacks.data import find_images, load_pixels
from attacks.loop import attack_batches
from attacks.methods import OverOptimized, draw_targets
from attacks.models import load_model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/imagenet-sample"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    model = load_model("squeezenet1_1", device=args.device)
    items = find_images(args.data)[: args.images]
    x = load_pixels([p for p, _ in items], 224)
    targets = draw_targets(torch.tensor([y for _, y in items]), 1, seed=0)
    attack = OverOptimized(model)
    work = args.images * args.iterations
    timings = {}
    for label, batch in (("batched", args.images), ("per-image loop", 1)):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            attack_batches(attack, x, targets, args.iterations, Path(out), batch_size=batch, device=args.device,
                           progress=False)
            timings[label] = time.perf_counter() - start
        print(f"{label:15s}: {work / timings[label]:7.2f} images×iterations/s ({timings[label]:.1f} s)")
    print(f"device {args.device} ({torch.cuda.get_device_name() if args.device == 'cuda' else platform.processor()}),"
          f" torch {torch.__version__}, {torch.get_num_threads()} threads, {args.images} images × "
          f"{args.iterations} iterations")
    print(f"batched / per-image: {timings['per-image loop'] / timings['batched']:.2f}×")


if __name__ == "__main__":
    main()
