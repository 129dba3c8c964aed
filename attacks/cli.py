"""Command-line glue of `softmax-sat attack`, `experiment` and `figures`: options in, engine calls, files out."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from precision.common.devices import torch_device
from precision.common.errors import InputError, under
from precision.common.files import check_writable, regular_file, write_json_atomic
from precision.common.publishing import publishing

from .data import choose_images, find_images
from .experiment import EXPERIMENT_OUTPUTS, WORK, configure_experiment, run_experiment, write_figures, writing_into
from .loop import attack_batches
from .methods import GRADIENTS, METHODS, TARGETS_PER_IMAGE, build_method, check_seed, check_settings, draw_targets
from .models import MODEL_NAMES, load_model
from .options import add_criterion, add_readings
from .record import ACTIVATION, CONFIDENCE, PREDICTION, Column, Expected, per_image, read_records, save_npz

__all__ = ["configure_attack", "run_attack", "configure_experiment", "run_experiment", "configure_figures",
           "run_figures", "configure_detect", "run_detect"]


def configure_attack(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help=f"one of {', '.join(MODEL_NAMES)}, or package.module:function")
    parser.add_argument("--method", required=True, choices=sorted(METHODS))
    parser.add_argument("--images", required=True, type=Path, help="ImageNet folder or a flat folder of WNID_*.JPEG")
    parser.add_argument("--n", type=int, default=10, help="images (all correctly classified by every model used)")
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("runs/attack"))
    parser.add_argument("--alpha", type=float, default=0.15, help="over-optimized step multiplier")
    parser.add_argument("--low", type=float, default=0.05, help="multi-class: smaller multiplier")
    parser.add_argument("--high", type=float, default=0.1, help="multi-class: larger multiplier")
    parser.add_argument("--gradient", choices=GRADIENTS, default="unit",
                        help="units of X in the step α∇_X g: the [0, 1] image (default), the normalised network "
                             "input, or raw [0, 255] pixels (see attacks.methods)")
    add_readings(parser)
    parser.add_argument("--targets", type=str, default="random",
                        help="random (default: drawn, seeded, among the classes other than the true one); second "
                             "(multi-class: a random class and the clean image's second most likely one, the "
                             "paper's other reading); or comma-separated classes for every image")
    parser.add_argument("--transfer", type=str, default="", help="comma-separated models whose predictions to record")
    parser.add_argument("--weights", type=Path, default=None, help="weights file for --model")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--reference-max", action="store_true",
                        help="also compute the largest top logit any image in --images produces (for the summary)")


def target_classes(spec: str, k: int) -> list[int] | None:
    """The classes of `--targets` given as numbers (k distinct classes in 0..999), None for random or second;
    refused in one line otherwise."""
    if spec == "random":
        return None
    if spec == "second":
        if k != 2:
            raise InputError("targets", "second applies to the multi-class method (two targets)")
        return None
    parts = [c.strip() for c in spec.split(",")]
    if len(parts) != k or not all(c.isdigit() and int(c) < 1000 for c in parts):
        raise InputError("targets", f"give {k} class index{'es' if k > 1 else ''} in 0..999 "
                         f"({'comma-separated, ' if k > 1 else ''}for this method), random or second, got {spec!r}")
    if len(set(map(int, parts))) != k:
        raise InputError("targets", f"give {k} different classes, got {spec!r}")
    return [int(c) for c in parts]


def _targets(spec: str, labels: torch.Tensor, k: int, seed: int, model=None, pixels=None) -> torch.Tensor:
    if spec == "random":
        return draw_targets(labels, k, seed)
    if spec == "second":
        if k != 2:
            raise InputError("targets", "second applies to the multi-class method (two targets)")
        with torch.no_grad():
            second = torch.cat([model(pixels[i:i + 64].float()).topk(2, dim=1).indices[:, 1].cpu()
                                for i in range(0, len(pixels), 64)])
        first = draw_targets(labels, 1, seed)[:, 0]
        first = torch.where(first == second, (first + 1) % 1000, first)
        first = torch.where(first == labels, (first + 1) % 1000, first)
        first = torch.where(first == second, (first + 1) % 1000, first)
        return torch.stack([first, second], dim=1)
    classes = target_classes(spec, k)
    if classes is None:  # "random" and "second" returned above
        raise AssertionError(f"target_classes({spec!r}) gave no classes")
    t = torch.tensor(classes).repeat(len(labels), 1)
    if (t == labels[:, None]).any():
        raise InputError("targets", f"class {sorted(set(classes) & set(labels.tolist()))[0]} is the true class of "
                         "a chosen image; choose other targets")
    return t


def summarize(records: dict, method: str, reference_max: float | None) -> dict:
    """Per image: when float32 confidence first hits exactly 1.0 and how the top logit grows after that."""
    iteration = per_image(records, Column.ITERATION)[0]
    confidence = per_image(records, CONFIDENCE)
    top = per_image(records, ACTIVATION).astype(np.float64)
    reached = [i for i in range(len(confidence)) if (confidence[i] == 1.0).any()]
    first = [int(np.argmax(confidence[i] == 1.0)) for i in reached]
    first_one = [int(iteration[k]) for k in first]
    logit_at_one = [float(top[i, k]) for i, k in zip(reached, first)]
    out = {"method": method, "images": len(confidence),
           "images_reaching_float32_one": len(first_one),
           "median_iteration_of_first_one": float(np.median(first_one)) if first_one else None,
           "iteration_of_first_one_range": [min(first_one), max(first_one)] if first_one else None,
           "median_top_logit_at_first_one": float(np.median(logit_at_one)) if logit_at_one else None,
           "median_top_logit_at_end": float(np.median(top[:, -1])),
           "max_top_logit_at_end": float(np.max(top[:, -1])),
           "median_float32_confidence_at_end": float(np.median(confidence[:, -1])),
           "float32_confidence_range_at_end": [float(np.min(confidence[:, -1])), float(np.max(confidence[:, -1]))],
           "largest_top_logit_of_any_reference_image": reference_max}
    predicted = per_image(records, PREDICTION)[:, -1]
    goals = [per_image(records, k)[:, -1] for k in Column.targets_in(records)]
    out["images_predicted_as_a_target_at_end"] = int(np.logical_or.reduce([predicted == g for g in goals]).sum())
    on_target = per_image(records, Column.TOP1_IS_TARGET)[:, 11:]
    out["share_of_iterations_after_10_with_a_target_on_top"] = float(on_target.mean()) if on_target.size else None
    return {k: _finite(v) for k, v in out.items()}


def _finite(value):
    """A number JSON can hold: an overflowed (infinite) or NaN float becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def attack_config(args) -> dict:
    """Everything that decides an attack's results, paths normalised: saved as config.json beside them."""
    return {"model": args.model, "method": args.method, "images": str(Path(args.images).resolve()), "n": args.n,
            "iterations": args.iterations, "alpha": args.alpha, "low": args.low, "high": args.high,
            "gradient": args.gradient, "targets": args.targets, "working_image": args.working_image,
            "multipliers": args.multipliers,
            "transfer": sorted(m for m in args.transfer.split(",") if m and m != args.model),
            "weights": None if args.weights is None else str(Path(args.weights).resolve()),
            "batch_size": args.batch_size, "seed": args.seed}


def check_attack(args) -> None:
    """Every option of an attack that can be checked without images, checked before anything is loaded or
    written: counts, seed, multipliers, the targets' form, the transfer models, the weights file."""
    for name in ("n", "iterations", "batch_size"):
        if getattr(args, name) < 1:
            raise InputError(name, f"must be at least 1, got {getattr(args, name)}")
    check_seed(args.seed)
    check_settings(args.alpha, args.low, args.high, args.gradient, args.working_image, args.multipliers)
    target_classes(args.targets, TARGETS_PER_IMAGE[args.method])
    if args.weights is not None:
        regular_file(args.weights, "weights")


def run_attack(args) -> int:
    from .figures import FIGURE_NAMES, attack_curves, attack_panels
    check_attack(args)
    device = torch_device(args.device)
    out: Path = args.out
    check_writable(out)  # before any computing
    config = attack_config(args)
    model = load_model(args.model, args.weights, device)
    with under("transfer"):
        others = [load_model(m, None, device) for m in config["transfer"]]
    method = build_method(args.method, model, args.alpha, args.low, args.high, args.gradient, args.working_image,
                          args.multipliers)
    items = find_images(args.images)
    outputs = ("images.json", "snapshots.npz", "summary.json", f"{FIGURE_NAMES[args.method]}.png",
               f"{FIGURE_NAMES[args.method]}_curves.png")
    # claimed for this config (given back if the run is refused); records/ is written as the run goes, to resume
    with writing_into(out), publishing(out, "attack", config, outputs, config_name="config.json",
                                       work=("records",)) as staging:
        chosen, pixels = choose_images([model] + others, items, args.n, args.batch_size, device, args.seed, "attack")
        labels = torch.tensor([y for _, y in chosen])
        targets = _targets(args.targets, labels, TARGETS_PER_IMAGE[args.method], args.seed, model,
                           pixels[model.name].to(device))
        reference = None
        if args.reference_max:
            from .data import load_pixels
            px = load_pixels([p for p, _ in items], model.spec.input_size)
            with torch.no_grad():
                reference = float(max(model(px[i:i + 64].to(device).float()).max() for i in range(0, len(px), 64)))
        snaps = sorted({0, args.iterations // 10, args.iterations // 3, args.iterations})
        kept = attack_batches(method, pixels[model.name], targets, args.iterations, out / "records", others,
                              args.batch_size, device, snaps)
        write_json_atomic(staging / "images.json", [{"image": i, "path": str(p), "label": y}
                                                    for i, (p, y) in enumerate(chosen)], indent=1)
        save_npz(staging / "snapshots.npz", kept, compress=True)  # by image identity: `image` beside the pictures
        records = read_records(out / "records", Expected(len(chosen), args.iterations, args.batch_size))
        summary = summarize(records, args.method, reference)
        write_json_atomic(staging / "summary.json", summary, indent=1)
        figures = [attack_panels(staging, records, args.method),
                   attack_curves(staging, records, args.method, reference)]
    print(json.dumps(summary, indent=1))
    print(f"wrote {out}/records, summary.json and {', '.join(p.name for p in figures)}")
    return 0


def configure_figures(parser) -> None:
    parser.add_argument("--results", type=Path, required=True, help="an experiment's --out folder")
    add_criterion(parser)


def run_figures(args) -> int:
    from .folder import experiment_settings
    settings = experiment_settings(args.results)  # the experiment's own config: its folder, claimed as it is
    with writing_into(args.results, "results"), \
            publishing(args.results, "experiment", settings, EXPERIMENT_OUTPUTS, option="results",
                       config_name="config.json", work=WORK) as staging:
        paths = write_figures(args.results, args.criterion, args.cleaning, staging)
    print(f"wrote {', '.join(str(args.results / p.name) for p in paths)}")
    return 0


def configure_detect(parser) -> None:
    parser.add_argument("--results", type=Path, required=True, help="an experiment's --out folder")
    parser.add_argument("--clean", type=Path, required=True,
                        help="clean images (the negatives: those each model classifies correctly)")
    parser.add_argument("--every", type=int, default=5, help="every k-th iteration (default 5)")
    parser.add_argument("--models", default="", help="comma-separated package.module:function models of your own "
                        "that the folder names, to be imported and run (a name read from a folder is never "
                        "imported otherwise; built-in models need not be listed)")
    parser.add_argument("--device", default="cpu")


def run_detect(args) -> int:
    from .detect import MEASURES, check_results, clean_measures, detection_table, write_detection
    from .folder import experiment_settings, loadable
    check_results(args.results)
    if args.every < 1:
        raise InputError("every", f"must be at least 1, got {args.every}")
    device = torch_device(args.device)
    config = experiment_settings(args.results)
    trusted = [m.strip() for m in args.models.split(",") if m.strip()]
    names = loadable(config["models"], args.results / "config.json", trusted)  # nothing read from a folder is run
    weights = dict(config["weights"])
    with under("clean"):
        items = find_images(args.clean)
    with writing_into(args.results, "results"), \
            publishing(args.results, "detection", None, ("detection.csv", "detection.png"), option="results",
                       config_name="config.json") as staging:
        models = [load_model(m, weights.get(m), device) for m in names]  # records are kept by model.name
        with under("clean"):
            clean = {m.name: clean_measures(m, items, device) for m in models}
        rows = detection_table(args.results, clean, args.every)
        paths = [args.results / p.name for p in write_detection(rows, staging)]
    last = max(r.iteration for r in rows)
    print(f"ROC AUC at iteration {last} (attacked vs clean; 95 % bootstrap interval):")
    for r in rows:
        if r.iteration == last:
            print(f"  {r.model:18s} {r.method:15s} {r.measure:21s} {r.auc:.3f} [{r.auc_low:.3f}, {r.auc_high:.3f}]"
                  f"  TPR@5%FPR {r.tpr:.2f}  ties {r.tied:.2f}")
    print(f"wrote {', '.join(str(p) for p in paths)} ({len(MEASURES)} measures)")
    return 0
