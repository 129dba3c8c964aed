"""Figures 1 and 2 of the paper (images with prediction, confidence and class activations at chosen
iterations), and activation/confidence curves per iteration."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from precision.common.plotting import save_figure, subplots

from .data import class_names
from .record import ACTIVATION, CONFIDENCE, PREDICTION, Column, per_image

FIGURE_NAMES = {"over-optimized": "figure1_over_optimized", "multi-class": "figure2_multi_class"}


def _confidence(p: float) -> str:
    return "1 (exactly)" if p == 1.0 else f"{p:.4f}"


def attack_panels(out: Path, records: dict, method: str, images: int = 3) -> Path:
    """Original and adversarial images at the snapshot iterations, titled as in the paper's Figures 1 and 2: the
    first `images` images by identity (`snapshots.npz` holds each image's id beside its pictures, and the
    titles come from the records' rows of that same id)."""
    with np.load(out / "snapshots.npz", allow_pickle=False) as z:
        snaps = {k: z[k] for k in z.files}
    iterations = sorted(int(k.split("_")[1]) for k in snaps if k.startswith("iteration_"))
    ids = snaps["image"]
    names = class_names()
    n = min(images, len(ids))
    fig, axes = subplots(n, len(iterations), figsize=(3.1 * len(iterations), 4.1 * n), squeeze=False,
                         layout="constrained")
    for row in range(n):
        sel = records[Column.IMAGE] == ids[row]
        for col, it in enumerate(iterations):
            r = np.nonzero(sel & (records[Column.ITERATION] == it))[0][0]
            ax = axes[row, col]
            ax.imshow(snaps[f"iteration_{it}"][row].transpose(1, 2, 0))
            ax.set_xticks([]), ax.set_yticks([])
            if col == 0:
                goals = [names[records[k][r]][:18] for k in Column.targets_in(records)]
                ax.set_ylabel(f"target{'s' if len(goals) > 1 else ''}: {', '.join(goals)}", fontsize=8)
            cas = "\n".join(f"CA{k} ∼ {records[Column.top_logit(k)][r]:.3g}" for k in (1, 2, 3))
            ax.set_title(f"{'original' if it == 0 else f'iteration {it}'}\n"
                         f"Prediction: {names[records[PREDICTION][r]][:22]}\n"
                         f"Confidence: {_confidence(records[CONFIDENCE][r])}\n{cas}", fontsize=8)
    fig.suptitle(f"{method} adversarial examples: confidence (float32 softmax) and class activations", fontsize=10)
    return save_figure(fig, out / f"{FIGURE_NAMES[method]}.png", dpi=100, tight=False)  # constrained layout


def attack_curves(out: Path, records: dict, method: str, reference: float | None = None) -> Path:
    """Top class activation and float32 confidence against iteration: one thin line per image, the median bold;
    `reference`: the largest top activation of any unattacked image, drawn dashed. Over-optimized confidence is
    drawn as 1 − p on a log scale (where it reaches exactly 1), multi-class confidence as p itself."""
    iteration = per_image(records, Column.ITERATION)[0]
    activation, confidence = per_image(records, ACTIVATION), per_image(records, CONFIDENCE)
    over = method == "over-optimized"
    shown = 1 - confidence + 1e-9 if over else confidence
    fig, (a1, a2) = subplots(1, 2, figsize=(11, 3.8))
    for ax, values in ((a1, activation), (a2, shown)):
        ax.plot(iteration, values.T, lw=0.6, alpha=0.35)
        ax.plot(iteration, np.median(values, axis=0), color="k", lw=2, label=f"median of {len(values)} images")
        ax.set_xlabel("iteration")
    if reference is not None:
        a1.axhline(reference, color="k", lw=0.8, ls="--", label="largest of any unattacked sample image")
    a1.legend(fontsize=7, loc="lower right")
    a1.set_yscale("log" if activation.min() > 0 else "symlog")
    a1.set_ylabel("highest class activation (logit)")
    if over:
        a2.set_yscale("log")
        a2.set_ylabel("1 − top softmax output (float32) + 1e-9")
        a2.axhline(1e-9, color="k", lw=0.6, ls=":")
        a2.text(0.99, 0.02, "on the dotted line: confidence is exactly 1.0", transform=a2.transAxes, ha="right",
                fontsize=7)
        title = "over-optimized: the activation keeps growing after the confidence is exactly 1"
    else:
        a2.set_ylim(0, 1.02)
        a2.axhline(1, color="k", lw=0.6, ls=":")
        a2.set_ylabel("top softmax output (float32)")
        on_target = per_image(records, Column.TOP1_IS_TARGET).mean(axis=0)
        a2.plot(iteration, on_target, color="tab:green", lw=1.5, ls="--", label="share of images whose top-1 class "
                "is a target")
        title = "multi-class: the activations grow while the confidence is meant to stay below 1"
    a2.legend(fontsize=7, loc="upper right" if over else "lower right")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, out / f"{FIGURE_NAMES[method]}_curves.png", dpi=100)


PAIR_FIGURES = {"over-optimized": (4, "figure4_over_optimized"), "multi-class": (5, "figure5_multi_class")}


def transfer_panel(ax, curve) -> None:
    """Highest class activation (left axis) and softmax output (right axis) against transferability, with 95 % CIs.
    Transferability is not monotone in the iteration: the points are drawn in order of transferability (ties in
    iteration order), so that the line reads from left to right instead of zig-zagging."""
    order = np.argsort(curve.transferability, kind="stable")
    x = curve.transferability[order]
    a, a_ci, s, s_ci, on = (v[order] for v in (curve.activation_mean, curve.activation_ci, curve.softmax_mean,
                                               curve.softmax_ci, curve.on_target))
    ax.plot(x, a, color="tab:blue", lw=1.2)
    ax.fill_between(x, a - a_ci, a + a_ci, color="tab:blue", alpha=0.25, lw=0)
    ax.set_xlim(0, 100)
    ax.set_xlabel("transferability (%): " + ("misclassified by " if curve.criterion == "misclassified"
                                               else "a target class for ") + curve.target)
    ax.set_ylabel("highest class activation", color="tab:blue")
    right = ax.twinx()
    right.plot(x, s, color="tab:red", lw=1.2)
    right.fill_between(x, s - s_ci, np.minimum(s + s_ci, 1), color="tab:red", alpha=0.25, lw=0)
    right.plot(x, on, color="tab:green", lw=1, ls="--", label="share with a target on top")
    right.legend(fontsize=6, loc="lower right")
    right.set_ylim(0, 1.02)
    right.set_ylabel("softmax output (float32)", color="tab:red")
    ax.set_title(f"{curve.method}: {curve.source} → {curve.target}  ({curve.kept} kept, {curve.dropped} never "
                 "transferred)", fontsize=9)


def _panels(curves, title: str, path: Path, columns: int) -> Path:
    rows = -(-len(curves) // columns)
    fig, axes = subplots(rows, columns, figsize=(5.6 * columns, 3.6 * rows), squeeze=False)
    for ax, curve in zip(axes.flat, curves):
        if curve.kept:
            transfer_panel(ax, curve)
        else:
            ax.text(0.5, 0.5, f"{curve.source} → {curve.target}: no example transferred", ha="center",
                    transform=ax.transAxes)
    for ax in list(axes.flat)[len(curves):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, dpi=100)


def transferability_figures(curves, out: Path, figure3_pair: tuple[str, str]) -> list[Path]:
    """Figure 3 (one pair, both methods) and Figures 4 and 5 (every ordered pair, one method each)."""
    paths = []
    pair = [c for c in curves if (c.source, c.target) == figure3_pair]
    if pair:
        paths.append(_panels(sorted(pair, key=lambda c: c.method != "over-optimized"),
                             f"Figure 3: {figure3_pair[0]} → {figure3_pair[1]}, over-optimized (left) and "
                             "multi-class (right): mean and 95 % CI against black-box transferability",
                             out / "figure3.png", 2))
    for method, (number, name) in PAIR_FIGURES.items():
        chosen = [c for c in curves if c.method == method]
        if chosen:
            paths.append(_panels(chosen, f"Figure {number}: {method} adversarial examples, every ordered model pair: "
                                 "mean and 95 % CI against black-box transferability", out / f"{name}.png", 2))
    return paths
