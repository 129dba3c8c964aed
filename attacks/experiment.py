"""The transferability experiment of Appendix B: every source model × method attacks the same images, and every
iteration records the source's activations and softmax and each other model's prediction.

Results folder (`precision.common.publishing`, kind "experiment"): config.json (what was asked; a different config
against it is refused), selection.json (the images every model classifies correctly, and the targets) and
records/<source>/<method>/records-*.npz (one shard per finished batch, so a killed run continues where it stopped),
written as the run goes; then curves.csv, cleaning.json and Figures 3–5, published together.

Several processes: `torchrun --nproc-per-node=K -m attacks.experiment ARGS` (the same arguments as
`softmax-sat experiment`); batch k runs on rank k mod K, each rank on its own GPU (NCCL) or on the CPU (gloo),
and rank 0 draws the figures once every rank is done.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.distributed as dist

from precision.common.devices import torch_device
from precision.common.errors import InputError
from precision.common.files import check_writable, os_error, regular_file, write_json_atomic
from precision.common.publishing import publishing

from .data import choose_images, find_images, load_pixels
from .figures import transferability_figures
from .loop import attack_batches, images_of_rank, progress_bar
from .methods import (
    GRADIENTS,
    TARGETS_PER_IMAGE,
    Gradient,
    MethodName,
    MultiplierRule,
    WorkingImage,
    build_method,
    check_seed,
    check_settings,
    draw_targets,
)
from .models import MODEL_NAMES, WeightsError, load_model
from .options import add_criterion, add_readings
from .record import RecordsError
from .transferability import Cleaning, Criterion, cleaning_table, experiment_curves, write_curves_csv


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that decides the results; saved with them."""
    images: str
    models: tuple[str, ...] = ("alexnet", "vgg16", "resnet50")
    methods: tuple[MethodName, ...] = ("over-optimized", "multi-class")
    n: int = 2500
    iterations: int = 500
    alpha: float = 0.15
    low: float = 0.05
    high: float = 0.1
    gradient: Gradient = "unit"
    working_image: WorkingImage = "rounded"
    multipliers: MultiplierRule = "switch"
    batch_size: int = 32
    seed: int = 0
    weights: tuple[tuple[str, str], ...] = ()  # (model, path) pairs

    def __post_init__(self):
        if len(self.models) < 2 or len(set(self.models)) != len(self.models):
            raise InputError("models", f"need at least two different models, got {list(self.models)}")
        unknown = set(self.methods) - set(TARGETS_PER_IMAGE)
        if unknown or not self.methods:
            raise InputError("methods", f"expected some of {', '.join(TARGETS_PER_IMAGE)}, got {list(self.methods)}")
        for key in ("n", "iterations", "batch_size", "seed", "alpha", "low", "high"):
            value = getattr(self, key)
            kind = (int,) if key in ("n", "iterations", "batch_size", "seed") else (int, float)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise InputError(key, f"expected a number, got {value!r}")
        if self.n < 1 or self.iterations < 1 or self.batch_size < 1:
            raise InputError("n", "n, iterations and batch_size must be at least 1, got "
                             f"{self.n}, {self.iterations}, {self.batch_size}")
        check_seed(self.seed)
        check_settings(self.alpha, self.low, self.high, self.gradient, self.working_image, self.multipliers)
        unused = sorted({m for m, _ in self.weights} - set(self.models))
        if unused:
            raise InputError("weights", f"{', '.join(unused)} is not among the models {', '.join(self.models)} "
                             "(a typo would silently mean default weights)")

    def as_json(self) -> dict:
        return json.loads(json.dumps(asdict(self)))


def _listed(value) -> tuple:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if isinstance(value, str) else tuple(value)


def build_config(flags: dict, config_file: Path | None = None) -> ExperimentConfig:
    """Defaults, overridden by the config file (TOML), overridden by flags given on the command line."""
    values: dict = {}
    if config_file is not None:
        try:
            values = tomllib.loads(regular_file(config_file, "config").read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise InputError("config", f"cannot read {config_file}: {e}") from None
        own = [m for m in _listed(values.get("models", ())) if isinstance(m, str) and ":" in m]
        if own:  # a file never names code to run: only this command line does
            raise InputError("config", f"{config_file}: key 'models' names {own[0]!r}, a model of your own; a file "
                             "never names code to run: give it on the command line with --models")
    values |= {k: v for k, v in flags.items() if v is not None}
    known = {f.name for f in fields(ExperimentConfig)}
    if set(values) - known:
        raise InputError("config", f"unknown keys {sorted(set(values) - known)}; expected {sorted(known)}")
    if "images" not in values:
        raise InputError("images", "required (as --images or images in --config)")
    for key in ("models", "methods"):
        if key in values:
            values[key] = _listed(values[key])
    if isinstance(values.get("weights"), dict):
        values["weights"] = tuple(sorted(values["weights"].items()))
    values["weights"] = tuple(tuple(w) for w in values.get("weights", ()))
    values["images"] = str(Path(values["images"]).resolve())  # `dir/` and `./dir` are the same folder
    values["weights"] = tuple((m, str(Path(w).resolve())) for m, w in values["weights"])
    return ExperimentConfig(**values)


class Ranks:
    """This process's place among torchrun's processes (one process, rank 0 of 1, without torchrun)."""

    def __init__(self, device: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank, self.device = 0, device
        if self.world > 1:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            if device.startswith("cuda"):
                torch.cuda.set_device(local)
                self.device = f"cuda:{local}"
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
            self.rank = dist.get_rank()

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world > 1:
            dist.destroy_process_group()


def select_images(config: ExperimentConfig, models, items: list, out: Path, ranks: Ranks) -> tuple[list, dict, dict]:
    """Rank 0 picks the images every model classifies correctly (once; a resumed run reuses selection.json) and
    draws the targets; every rank then reads the same selection. Returns (images, targets, each model's uint8
    pixels of them), the pixels decoded once: during the selection where this process made it, else now."""
    path = out / "selection.json"
    pixels = None
    if ranks.rank == 0 and not path.exists():
        chosen, pixels = choose_images(models, items, config.n, 64, ranks.device, config.seed, "experiment")
        labels = torch.tensor([y for _, y in chosen])
        targets = {m: draw_targets(labels, TARGETS_PER_IMAGE[m], config.seed).tolist() for m in config.methods}
        write_json_atomic(path, {"models": [m.name for m in models],
                                 "images": [{"path": str(p), "label": y} for p, y in chosen],
                                 "targets": targets}, indent=1)
    ranks.barrier()
    selection = resumed_selection(config, models, out)
    chosen = [(Path(i["path"]), i["label"]) for i in selection["images"]]
    if pixels is None:
        pixels = {m.name: load_pixels([p for p, _ in chosen], m.spec.input_size) for m in models}
    return chosen, selection["targets"], pixels


def resumed_selection(config: ExperimentConfig, models, out: Path) -> dict:
    """`selection.json` of this folder, checked as data: its models are the ones loaded now, its images lie in the
    config's images folder and number at most n, its targets are classes (see `attacks.folder`)."""
    from .folder import experiment_selection, refuse
    path = out / "selection.json"
    try:
        selection = experiment_selection(out, config.as_json())
    except InputError as e:
        raise InputError("out", e.message) from None
    if selection["models"] != [m.name for m in models]:
        raise refuse(path, "models", f"names {selection['models']}, but this run's models are named "
                     f"{[m.name for m in models]}", "out")
    root = Path(config.images)
    for image in selection["images"]:
        if not Path(image["path"]).is_relative_to(root) or ".." in Path(image["path"]).parts:
            raise refuse(path, "images", f"holds {image['path']}, which is not in the config's images folder {root}",
                         "out")
    return selection


def run_transfer_experiment(config: ExperimentConfig, out: Path, device: str = "cpu", progress: bool = True,
                            criterion: Criterion = "misclassified", cleaning: Cleaning = "never") -> list[Path]:
    """Run (or continue) the experiment; rank 0 returns the figures it drew."""
    check_writable(out)
    for _, path in config.weights:
        regular_file(Path(path), "weights")
    ranks = Ranks(device)
    try:
        weights = dict(config.weights)
        models = [load_model(m, weights.get(m), ranks.device) for m in config.models]
        items = find_images(config.images)  # bad models or images fail before the results folder is claimed
        # rank 0 holds the folder (the claim is given back if the run is refused); every rank writes its records
        held = publishing(out, "experiment", config.as_json(), EXPERIMENT_OUTPUTS, config_name="config.json",
                          work=WORK) if ranks.rank == 0 else nullcontext()
        with writing_into(out), held as staging:
            written = _run_claimed(config, out, models, items, ranks, progress, criterion, cleaning, staging)
        return [out / p.name for p in written]
    finally:
        ranks.close()


EXPERIMENT_OUTPUTS = ("curves.csv", "cleaning.json", "figure3.png", "figure4_over_optimized.png",
                      "figure5_multi_class.png")
WORK = ("selection.json", "records")  # written as the run goes, to resume from


@contextmanager
def writing_into(out: Path, option: str = "out"):
    """Errors of the folder a command writes into, named by its option: a record shard that fails its check, a
    weights file its config names that is not the right file (detect: `--results`), or an OS error ("File
    exists", "No such file or directory") on a path inside the folder."""
    try:
        yield
    except RecordsError as e:
        raise InputError(option, e.message) from None
    except WeightsError as e:  # an OSError, but about a file read, never one written
        raise InputError("weights" if option == "out" else option, str(e)) from None
    except OSError as e:
        error = os_error(e, {option: out})
        if error is None:  # not a path of the folder: the command's own mapping (or a bug)
            raise
        raise error from None


def _run_claimed(config: ExperimentConfig, out: Path, models, items, ranks: Ranks, progress: bool,
                 criterion: Criterion, cleaning: Cleaning, staging: Path | None) -> list[Path]:
    """The experiment in a folder that rank 0 holds (its figures written into `staging`)."""
    chosen, targets, pixels = select_images(config, models, items, out, ranks)
    share = images_of_rank(len(chosen), config.batch_size, ranks.rank, ranks.world)
    bar = progress_bar(len(models) * len(config.methods) * share * config.iterations,
                       f"experiment (rank {ranks.rank} of {ranks.world})", progress)
    for source in models:
        others = [m for m in models if m is not source]
        for method in config.methods:
            bar.set_postfix_str(f"{source.name}, {method}")
            attack = build_method(method, source, config.alpha, config.low, config.high, config.gradient,
                                  config.working_image, config.multipliers)
            attack_batches(attack, pixels[source.name], torch.tensor(targets[method]), config.iterations,
                           out / "records" / source.name / method, others, config.batch_size, ranks.device,
                           rank=ranks.rank, world=ranks.world, bar=bar)
    bar.close()
    ranks.barrier()
    return write_figures(out, criterion, cleaning, staging) if staging is not None else []


def write_figures(results: Path, criterion: Criterion = "misclassified", cleaning: Cleaning = "never",
                  into: Path | None = None) -> list[Path]:
    """Curves, cleaning counts and Figures 3–5 from the records alone (Figure 3: VGG-16 → ResNet-50 where both
    were run, else the first two models), written into `into` (default `results`)."""
    into = results if into is None else into
    curves = experiment_curves(results, criterion, cleaning)
    selection = results / "selection.json"
    names = json.loads(selection.read_text())["models"]  # checked by experiment_curves
    pair = ("vgg16", "resnet50") if {"vgg16", "resnet50"} <= set(names) else (names[0], names[1])
    table = [{"criterion": criterion, "cleaning": cleaning, **row} for row in cleaning_table(curves)]
    write_json_atomic(into / "cleaning.json", table, indent=1)
    paths = [write_curves_csv(curves, into / "curves.csv"), into / "cleaning.json"]
    paths += transferability_figures(curves, into, pair)
    print_cleaning(table)
    return paths


def print_cleaning(table: list[dict]) -> None:
    print(f"{'source → target':32s} {'method':15s} {'attacked':>8s} {'never transferred':>17s} "
          f"{'transfer at end':>15s} {'softmax at end':>14s} {'activation at end':>17s}")
    for r in table:
        end = "—" if r["kept"] == 0 else f"{r['transferring_at_last_iteration_percent']:.1f} %"
        sm = "—" if r["kept"] == 0 else f"{r['softmax_mean_at_last_iteration']:.4f}"
        act = "—" if r["kept"] == 0 else f"{r['activation_mean_at_last_iteration']:.1f}"
        print(f"{r['source'] + ' → ' + r['target']:32s} {r['method']:15s} {r['examples']:8d} "
              f"{r['never_transferred']:17d} {end:>15s} {sm:>14s} {act:>17s}")


# --- the command line (`softmax-sat experiment`, and torchrun's entry point below) ---------------------------
def configure_experiment(parser) -> None:
    parser.add_argument("--config", type=Path, help="TOML file with any of the options below (flags win)")
    parser.add_argument("--models", help=f"comma-separated, default alexnet,vgg16,resnet50; any of "
                                         f"{', '.join(MODEL_NAMES)} or package.module:function")
    parser.add_argument("--methods", help="comma-separated, default over-optimized,multi-class")
    parser.add_argument("--images", help="ImageNet validation folder, class folders, or a flat folder of WNID_*")
    parser.add_argument("--n", "--num-images", type=int, dest="n",
                        help="images every model classifies correctly (default 2500); under torchrun write "
                             "--num-images, as torchrun takes --n for an abbreviation of its own options")
    parser.add_argument("--iterations", type=int, help="default 500")
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--low", type=float)
    parser.add_argument("--high", type=float)
    parser.add_argument("--gradient", choices=GRADIENTS, help="default unit (see attacks.methods)")
    add_readings(parser, defaults=False)
    parser.add_argument("--batch-size", type=int, dest="batch_size")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--weights", action="append", metavar="MODEL=PATH", help="a model's weights file (repeat)")
    parser.add_argument("--out", type=Path, default=Path("runs/experiment"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-progress", action="store_true")
    add_criterion(parser)


def run_experiment(args) -> int:
    flags = {k: getattr(args, k) for k in ("models", "methods", "images", "n", "iterations", "alpha", "low", "high",
                                           "gradient", "working_image", "multipliers", "batch_size", "seed")}
    if args.weights:
        pairs = [w.split("=", 1) for w in args.weights]
        if any(len(p) != 2 for p in pairs):
            raise InputError("weights", "expected MODEL=PATH")
        flags["weights"] = tuple(sorted(tuple(p) for p in pairs))
    config = build_config(flags, args.config)
    paths = run_transfer_experiment(config, args.out, torch_device(args.device), not args.no_progress,
                                    args.criterion, args.cleaning)
    if paths:
        print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def experiment_main(argv: list[str]) -> int:
    """`python -m attacks.experiment ARGS`: what torchrun starts on every rank (the same options and the same
    code as `softmax-sat experiment`; bad input is one line and exit code 2 on every rank)."""
    prog = "python -m attacks.experiment"
    parser = argparse.ArgumentParser(prog=prog)
    configure_experiment(parser)
    args = parser.parse_args(argv)
    try:
        return run_experiment(args)
    except InputError as e:
        print(f"{prog}: error: {e.option}: {e.message}", file=sys.stderr)
        return 2
    except OSError as e:  # a path an option names: one line, as `softmax-sat experiment` says it
        error = os_error(e, {f"--{k}": v for k, v in vars(args).items()})
        if error is None:
            raise
        print(f"{prog}: error: {error.option}: {error.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # torchrun --nproc-per-node=K -m attacks.experiment ARGS: no import of attacks.cli
    sys.exit(experiment_main(sys.argv[1:]))
