"""Appendix B's analysis, from the stored records alone (no model, no GPU).

An example transfers to another model at an iteration when that model misclassifies it (predicts anything but
the image's true class: criterion "misclassified", the default, as the paper's counts imply: its cleaning dropped
only 200–500 of 2500 examples per pair) or, stricter, when it predicts one of the attack's target classes
(criterion "target"). Data cleaning: examples that never transferred to the target model are dropped (counted
per model pair).
Aggregation: each iteration becomes one point whose x is the percentage of kept examples transferring at that
iteration, and whose y values are the mean and 95 % confidence interval (normal, 1.96 standard errors) of the
source model's highest class activation and of its float32 softmax top output over the kept examples.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from precision.common.errors import InputError

from .record import ACTIVATION, CONFIDENCE, Column, Expected, RecordsError, per_image, read_records

Z95 = 1.959963984540054


@dataclass
class TransferCurve:
    source: str
    target: str
    method: str
    examples: int  # attacked images
    dropped: int  # never transferred, left out of the curve
    iteration: np.ndarray
    transferability: np.ndarray  # percent of kept examples transferring at each iteration
    activation_mean: np.ndarray
    activation_ci: np.ndarray  # half-width of the 95 % interval
    softmax_mean: np.ndarray
    softmax_ci: np.ndarray
    on_target: np.ndarray  # share of kept examples whose top-1 class is one of the attack's targets
    criterion: Criterion = "target"

    @property
    def kept(self) -> int:
        return self.examples - self.dropped


Criterion = Literal["misclassified", "target"]  # what counts as transferred (module docstring)
CRITERIA: tuple[Criterion, ...] = get_args(Criterion)
Cleaning = Literal["never", "last"]  # drop examples that never transfer, or that do not at the last iteration
CLEANINGS: tuple[Cleaning, ...] = get_args(Cleaning)


def transferred(records: dict, target: str, labels: np.ndarray | None = None) -> np.ndarray:
    """(images, iterations) booleans: model `target` predicts anything but the true class (given `labels`, one per
    image in order), or else one of the attack's target classes."""
    column = Column.transfer(target)
    if column not in records:
        raise InputError("records", f"no predictions of {target!r} (columns: {', '.join(sorted(records))})")
    prediction = per_image(records, column)
    if labels is not None:
        return prediction != np.asarray(labels)[np.unique(records[Column.IMAGE])][:, None]
    goals = [per_image(records, k) for k in Column.targets_in(records)]
    return np.logical_or.reduce([prediction == g for g in goals])


def mean_ci(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over axis 0 and the half-width of its 95 % confidence interval (0 for fewer than two values)."""
    n = len(values)
    if n == 0:
        nan = np.full(values.shape[1], np.nan)
        return nan, nan
    half = Z95 * values.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(values.shape[1])
    return values.mean(axis=0), half


def transfer_curve(records: dict, source: str, target: str, method: str,
                   labels: np.ndarray | None = None, cleaning: Cleaning = "never") -> TransferCurve:
    """The curve of one source → target model pair for one method (`labels`: see `transferred`)."""
    hit = transferred(records, target, labels)
    keep = hit.any(axis=1) if cleaning == "never" else hit[:, -1]
    activation = per_image(records, ACTIVATION).astype(np.float64)[keep]
    softmax = per_image(records, CONFIDENCE).astype(np.float64)[keep]
    a_mean, a_ci = mean_ci(activation)
    s_mean, s_ci = mean_ci(softmax)
    percent = 100 * hit[keep].mean(axis=0) if keep.any() else np.full(hit.shape[1], np.nan)
    on_target = per_image(records, Column.TOP1_IS_TARGET)[keep].mean(axis=0) if keep.any() else percent * np.nan
    return TransferCurve(source, target, method, len(hit), int((~keep).sum()), per_image(records, Column.ITERATION)[0],
                         percent, a_mean, a_ci, s_mean, s_ci, on_target,
                         "target" if labels is None else "misclassified")


def experiment_curves(results: Path, criterion: Criterion = "misclassified",
                      cleaning: Cleaning = "never") -> list[TransferCurve]:
    """Every ordered model pair × method of an experiment folder (records/<source>/<method>/, selection.json)."""
    if criterion not in CRITERIA:
        raise InputError("criterion", f"expected one of {', '.join(CRITERIA)}, got {criterion!r}")
    if cleaning not in CLEANINGS:
        raise InputError("cleaning", f"expected one of {', '.join(CLEANINGS)}, got {cleaning!r}")
    results = Path(results)
    config, selection = results / "config.json", results / "selection.json"
    for path in (config, selection):
        if not path.exists():
            raise InputError("results", f"{path} is missing: is {results} an experiment's results folder?")
    from .folder import experiment_selection, experiment_settings
    settings = experiment_settings(results)
    chosen = experiment_selection(results, settings)
    expected = Expected(len(chosen["images"]), settings["iterations"], settings["batch_size"])
    labels = np.array([i["label"] for i in chosen["images"]]) if criterion == "misclassified" else None
    folders = {(s, m): results / "records" / s / m for s in chosen["models"] for m in settings["methods"]}
    absent = [f"{s}/{m}" for (s, m), f in folders.items() if not f.is_dir()]
    if absent:
        raise InputError("results", f"{results / 'records'} lacks {', '.join(absent)}: the run is not finished; "
                         "run the same experiment command again to complete it")
    curves = []
    for (source, method), folder in sorted(folders.items()):  # the order of the folders on disk
        records = read_records(folder, expected)
        others = sorted(set(chosen["models"]) - {source})
        if Column.transfer_models(records) != others:
            raise RecordsError(f"{folder} holds the predictions of {Column.transfer_models(records)}, expected "
                               f"{others}")
        curves += [transfer_curve(records, source, t, method, labels, cleaning) for t in others]
    return curves


CSV_COLUMNS = ("source", "target", "method", "iteration", "transferability_percent", "examples_kept",
               "activation_mean", "activation_ci95_low", "activation_ci95_high",
               "softmax_mean", "softmax_ci95_low", "softmax_ci95_high")


def write_curves_csv(curves: list[TransferCurve], path: Path) -> Path:
    """curves.csv, written to a temporary name and renamed (a kill leaves the previous file whole)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for c in curves:
            for k, it in enumerate(c.iteration):
                w.writerow([c.source, c.target, c.method, int(it), f"{c.transferability[k]:.4f}", c.kept,
                            *(f"{v:.9g}" for v in (c.activation_mean[k], c.activation_mean[k] - c.activation_ci[k],
                                                   c.activation_mean[k] + c.activation_ci[k], c.softmax_mean[k],
                                                   c.softmax_mean[k] - c.softmax_ci[k],
                                                   c.softmax_mean[k] + c.softmax_ci[k]))])
    os.replace(tmp, path)
    return path


def cleaning_table(curves: list[TransferCurve]) -> list[dict]:
    """Per pair and method: examples attacked, dropped (never transferred), kept, and transferring at the end."""
    return [{"source": c.source, "target": c.target, "method": c.method, "examples": c.examples,
             "never_transferred": c.dropped, "kept": c.kept,
             "transferring_at_last_iteration_percent": round(float(c.transferability[-1]), 2) if c.kept else None,
             "softmax_mean_at_last_iteration": round(float(c.softmax_mean[-1]), 6) if c.kept else None,
             "activation_mean_at_last_iteration": round(float(c.activation_mean[-1]), 3) if c.kept else None}
            for c in curves]
