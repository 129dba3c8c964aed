"""`watch` on real attacks: torchattacks' APGD with cross-entropy against the same attack with its DLR margin loss
(difference of logits over their spread, CW-style), and plain PGD with cross-entropy, on the offline models and the
shared ImageNet sample. For each: at which step rows saturate in float32 and bfloat16, how many cross-entropy
gradients (at the true class) are exactly zero, and the attack's success at a fixed budget.

Usage: SOFTMAX_SAT_WEIGHTS=../shared/models python benchmarks/watch_demo.py \
           --images ../shared/data/imagenet-sample --out docs/watch_demo
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torchattacks
from common import sample_study_parser

from attacks.data import find_images, select_correct
from attacks.models import load_model
from precision.common.plotting import save_figure, subplots
from precision.logits.adapters import watch_torchattacks

DTYPES = ("float32", "bfloat16")


class UnitImages(torch.nn.Module):
    """A pixel model ([0, 255] inputs) as torchattacks expects it: images in [0, 1]."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x * 255)


def attacks_of(model, eps: float, steps: int) -> dict:
    return {"PGD, cross-entropy": torchattacks.PGD(model, eps=eps, alpha=eps / 4, steps=steps, random_start=False),
            "APGD, cross-entropy": torchattacks.APGD(model, eps=eps, steps=steps, loss="ce", seed=0),
            "APGD, DLR margin": torchattacks.APGD(model, eps=eps, steps=steps, loss="dlr", seed=0)}


def run(name: str, images: Path, n: int, eps: float, steps: int) -> dict:
    pixel_model = load_model(name)
    model = UnitImages(pixel_model).eval()
    chosen, pixels = select_correct([pixel_model], find_images(images), n)
    x = pixels[pixel_model.name].float() / 255
    y = torch.tensor([label for _, label in chosen])
    out = {}
    for label, attack in attacks_of(model, eps, steps).items():
        with watch_torchattacks(attack, dtypes=DTYPES, gradients=True, warn_share=1.0) as w:
            w.set_labels(y)
            adversarial = attack(x, y)
        with torch.no_grad():
            success = float((model(adversarial).argmax(1) != y).float().mean())
        steps_seen = [{"saturated": s.saturated, "zero_gradients": s.zero_gradients,
                       "median_gradient_norm": s.median_gradient_norm} for s in w.steps]
        out[label] = {"success": success, "summary": w.summary(), "steps": steps_seen, "rows": len(y)}
    return out


def figure(results: dict, path: Path) -> Path:
    models = list(results)
    fig, axes = subplots(1, len(models), figsize=(6.5 * len(models), 3.8), squeeze=False)
    for ax, name in zip(axes.flat, models):
        for k, (label, r) in enumerate(results[name].items()):
            for dtype, style in zip(DTYPES, ("-", ":")):
                share = [100 * s["saturated"][dtype] / r["rows"] for s in r["steps"]]
                ax.plot(share, style, color=f"C{k}", label=f"{label} ({dtype}; success {100 * r['success']:.0f} %)")
        ax.set_xlabel("forward pass of the attack (step)")
        ax.set_ylabel("% of rows with top softmax output exactly 1")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5)
    return save_figure(fig, path)


def main() -> None:
    parser = sample_study_parser(__doc__, "squeezenet1_1,mobilenet_v2", 32)
    parser.add_argument("--eps", type=float, default=2 / 255)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    results = {m: run(m, args.images, args.n, args.eps, args.steps) for m in args.models.split(",")}
    (args.out / "results.json").write_text(json.dumps({"settings": vars(args) | {"images": str(args.images),
                                                                                   "out": str(args.out)},
                                                       "results": results}, indent=1))
    figure(results, args.out / "watch_demo.png")
    for name, by_attack in results.items():
        for label, r in by_attack.items():
            s = {d["dtype"]: d for d in r["summary"]}
            print(f"{name:14s} {label:20s} success {100 * r['success']:5.1f} %  "
                  + "  ".join(f"{d}: saturated {s[d]['saturated_rows']}/{s[d]['rows']} rows, first step "
                              f"{s[d]['first_saturated_step']}" for d in DTYPES)
                  + f"  CE gradient exactly 0: {s['float32']['zero_gradient_rows']} rows")


if __name__ == "__main__":
    main()
