"""Speed of the batched, recorded attack against a bare forward+backward loop and a per-image loop, in one run.

Measured side by side, on the same images, models and iterations:
- recorded: `attacks.loop.attack_batches`, as `softmax-sat attack` / `experiment` run it (every iteration's
  records, the other models' predictions, shards written);
- bare: the same models' forward+backward on the same batch, and the other models' forward, nothing recorded
  (the ceiling the recorded loop is held against: issue goal ≥ 80 % on a GPU);
- per-image: the recorded loop one image at a time, as the paper's code ran (goal: batched ≥ 20× faster on a GPU).

Run: SOFTMAX_SAT_WEIGHTS=../shared/models python benchmarks/bench_attack.py                 # SqueezeNet alone
     python benchmarks/bench_attack.py --models alexnet,vgg16,resnet50 --images 64 --iterations 20  # the paper's
"""
import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from attacks.data import find_images, load_pixels
from attacks.loop import as_input, attack_batches
from attacks.methods import OverOptimized, draw_targets, valid_image
from attacks.models import load_model


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bare_loop(attack, others, x0, targets, iterations):
    """The attack's forward+backward and the others' forward per iteration; nothing recorded or copied."""
    x, rows = x0.clone(), torch.arange(len(x0), device=x0.device)
    for _ in range(iterations):
        x.requires_grad_(True)
        (grad,) = torch.autograd.grad(attack.model(x)[rows, targets[:, 0]].sum(), x)
        x = valid_image(x.detach() + attack.alpha * attack.gradient_scale * grad)
        with torch.no_grad():
            for m in others:
                m(as_input(m, x))


def timed(device: str, run) -> float:
    synchronize(device)
    start = time.perf_counter()
    run()
    synchronize(device)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="squeezenet1_1", help="source first, then the models it is tested on")
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=None, help="batch of the batched runs (default: all images)")
    ap.add_argument("--per-image", type=int, default=4, help="images for the (slow) per-image loop")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/imagenet-sample"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    models = [load_model(m, device=args.device) for m in args.models.split(",")]
    source, others = models[0], models[1:]
    items = find_images(args.data)
    items = (items * (1 + args.images // len(items)))[: args.images]
    x = load_pixels([p for p, _ in items], source.spec.input_size)
    targets = draw_targets(torch.tensor([y for _, y in items]), 1, seed=0)
    attack = OverOptimized(source)
    bare_loop(attack, others, x[:2].to(args.device).float(), targets[:2].to(args.device), 2)  # warm-up
    batch = args.batch_size or args.images

    def recorded(n, batch):
        with tempfile.TemporaryDirectory() as out:
            attack_batches(attack, x[:n], targets[:n], args.iterations, Path(out), others, batch_size=batch,
                           device=args.device, progress=False)

    seconds = {
        "recorded (batched)": timed(args.device, lambda: recorded(args.images, batch)),
        "bare forward+backward": timed(args.device, lambda: [bare_loop(
            attack, others, x[k:k + batch].to(args.device).float(), targets[k:k + batch].to(args.device),
            args.iterations) for k in range(0, args.images, batch)]),
        "per-image loop": timed(args.device, lambda: recorded(args.per_image, 1)),
    }
    work = {k: (args.per_image if k == "per-image loop" else args.images) * args.iterations for k in seconds}
    rate = {k: work[k] / seconds[k] for k in seconds}
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else (platform.processor() or "cpu")
    print(f"device {args.device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads; "
          f"source {source.name}, tested on {', '.join(m.name for m in others) or 'no other model'}; "
          f"{args.images} images × {args.iterations} iterations, batches of {batch}")
    for k in seconds:
        print(f"  {k:22s}: {rate[k]:9.2f} images×iterations/s ({seconds[k]:.2f} s)")
    print(f"recorded / bare: {rate['recorded (batched)'] / rate['bare forward+backward']:.1%}")
    print(f"recorded batched / per-image loop: {rate['recorded (batched)'] / rate['per-image loop']:.2f}×")


if __name__ == "__main__":
    main()
