"""The readings study of the multi-class attack: what the paper does not state, varied side by side.

Gradient units (`unit`: the [0, 1] image; `input`: the normalised network input) × working image (`rounded`,
`float`) × multiplier rule (`switch`: the class behind gets 0.1; `balance`: both in [0.05, 0.1] cancelling the
predicted gap) × offline models, on the first images of the shared sample every model classifies correctly, with
the same seeded targets. Per reading: mean and median float32 confidence after iteration 10, the share of those
confidences in [0.5, 1), the share of images whose confidence touches exactly 1.0, the share of image-iterations
after iteration 10 whose top-1 class is a target, the top activation's growth (end / start, median) and the
median per-step change of the gap between the two target activations.

Usage: SOFTMAX_SAT_WEIGHTS=../shared/models python benchmarks/readings_study.py \
           --images ../shared/data/imagenet-sample --out docs/readings --n 8 --iterations 60
"""
from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from common import sample_study_parser

from attacks.data import find_images, select_correct
from attacks.loop import attack_batches
from attacks.methods import MultiClass, draw_targets
from attacks.models import load_model
from attacks.record import ACTIVATION, CONFIDENCE, Column, per_image, read_records
from precision.common.plotting import save_figure, subplots

READINGS = list(itertools.product(("unit", "input"), ("rounded", "float"), ("switch", "balance")))
AFTER = 10


def outcome(records: dict) -> dict:
    confidence = per_image(records, CONFIDENCE)
    late = confidence[:, AFTER + 1:]
    top = per_image(records, ACTIVATION).astype(np.float64)
    gap = per_image(records, Column.target_logit(1)) - per_image(records, Column.target_logit(2))
    on_target = per_image(records, Column.TOP1_IS_TARGET)[:, AFTER + 1:]
    return {"mean_confidence_after_10": float(late.mean()), "median_confidence_after_10": float(np.median(late)),
            "share_in_half_to_one": float(((late >= 0.5) & (late < 1)).mean()),
            "images_touching_one": float((confidence == 1.0).any(axis=1).mean()),
            "top1_is_a_target_after_10": float(on_target.mean()),
            "activation_growth": float(np.median(top[:, -1] / top[:, 0])),
            "median_gap_change_per_step": float(np.median(np.abs(np.diff(gap, axis=1)))),
            "mean_confidence_per_iteration": confidence.mean(axis=0).tolist()}


def main() -> None:
    parser = sample_study_parser(__doc__, "squeezenet1_1,mobilenet_v2,efficientnet_lite0", 16)
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--readings", default="all",
                        help="all, or GRADIENT/WORKING/RULE[,...] (e.g. input/float/balance,unit/rounded/switch)")
    args = parser.parse_args()
    readings = READINGS if args.readings == "all" else [tuple(r.split("/")) for r in args.readings.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    models = [load_model(m) for m in args.models.split(",")]
    chosen, pixels = select_correct(models, find_images(args.images), args.n)
    targets = draw_targets(torch.tensor([y for _, y in chosen]), 2, seed=0)
    results = []
    for model in models:
        for gradient, working, rule in readings:
            attack = MultiClass(model, 0.05, 0.1, gradient=gradient, working_image=working, rule=rule)
            with tempfile.TemporaryDirectory() as tmp:
                attack_batches(attack, pixels[model.name], targets, args.iterations, Path(tmp), batch_size=args.n,
                               progress=False)
                r = outcome(read_records(Path(tmp)))
            results.append({"model": model.name, "gradient": gradient, "working_image": working,
                            "multipliers": rule, **r})
            print(f"{model.name:18s} {gradient:5s} {working:7s} {rule:7s} mean {r['mean_confidence_after_10']:.3f} "
                  f"median {r['median_confidence_after_10']:.4f} in [0.5,1) {r['share_in_half_to_one']:.2f} "
                  f"touch 1 {r['images_touching_one']:.2f} on target {r['top1_is_a_target_after_10']:.2f} "
                  f"growth {r['activation_growth']:.1f} gap step {r['median_gap_change_per_step']:.2f}", flush=True)
    (args.out / "readings.json").write_text(json.dumps({"settings": {"n": len(chosen), "iterations": args.iterations,
                                                                     "models": args.models},
                                                        "results": results}, indent=1))
    figure(results, args.out / "readings.png")


def figure(results: list[dict], path: Path) -> Path:
    models = sorted({r["model"] for r in results})
    fig, axes = subplots(1, len(models), figsize=(6 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes.flat, models):
        for r in (r for r in results if r["model"] == model):
            style = "-" if r["working_image"] == "float" else ":"
            color = 2 * ("unit", "input").index(r["gradient"]) + ("switch", "balance").index(r["multipliers"])
            ax.plot(r["mean_confidence_per_iteration"], style, color=f"C{color}", lw=1.2,
                    label=f"{r['gradient']}, {r['working_image']}, {r['multipliers']}")
        ax.axhline(0.6, color="k", lw=0.6, ls="--")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("iteration")
        ax.set_ylabel("mean float32 confidence")
        ax.set_title(f"{model}: multi-class, by reading (dashed: the paper's ≈0.6)", fontsize=9)
        ax.legend(fontsize=6.5)
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
