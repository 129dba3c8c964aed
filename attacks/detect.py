"""The paper's open question: do class activations detect adversarial examples better than the softmax output?

For every source model, method and iteration of an experiment's records, each measure is used as a detector:
the attacked images (positives, at that iteration) against clean images the model classifies correctly
(negatives). Reported: ROC AUC (ties count one half: a measure that is exactly 1.0 for attacked and clean images
alike scores 0.5 there, and its tie share says why) and the true-positive rate at a 5 % false-positive rate
("flag when the measure exceeds t", t the smallest value that flags at most 5 % of clean images), each with a
bootstrap 95 % interval.

Measures, from the records' columns (no model needed for the attacked side):
- `softmax_float32`: the top softmax output in float32, the paper's confidence;
- `top_activation`: the highest class activation (logit), the paper's proposal;
- `logit_margin`: top − runner-up; `log_odds`: top − log-sum-exp of the rivals;
- `energy`: log Σ_i e^(z_i) = top + log1p(e^(−log_odds)), the free energy: the magnitude of the activations and
  their distribution at once (a logit vector far from the clean ones in either sense scores high);
- `magnitude_and_spread`: the top activation and the log-odds, each standardised by the model's clean images
  (mean and standard deviation), summed: our measure of both the magnitude and the distribution.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from precision.common.errors import InputError
from precision.common.files import write_text_atomic

from .record import ACTIVATION, CONFIDENCE, Column, Expected, per_image, read_records

MEASURES = ("softmax_float32", "top_activation", "logit_margin", "log_odds", "energy", "magnitude_and_spread")
FPR = 0.05
BOOTSTRAP = 200


def measures_of(top, log_odds, margin, softmax, clean_stats: dict | None = None) -> dict[str, np.ndarray]:
    """Every measure from the four recorded quantities (arrays of one shape)."""
    out = {"softmax_float32": softmax, "top_activation": top, "logit_margin": margin, "log_odds": log_odds,
           "energy": top + np.log1p(np.exp(-log_odds))}
    if clean_stats is not None:
        out["magnitude_and_spread"] = ((top - clean_stats["top_mean"]) / clean_stats["top_std"]
                                       + (log_odds - clean_stats["log_odds_mean"]) / clean_stats["log_odds_std"])
    return out


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(positive > negative) + ½ P(positive = negative), by mid-ranks (Mann–Whitney)."""
    values = np.concatenate([positive, negative])
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    _, first, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    mid = first + (counts + 1) / 2  # 1-based mid-rank of each group of ties
    ranks[order] = np.repeat(mid, counts)
    n, m = len(positive), len(negative)
    return float((ranks[:n].sum() - n * (n + 1) / 2) / (n * m))


def tied_share(positive: np.ndarray, negative: np.ndarray) -> float:
    """Share of (positive, negative) pairs with equal values: ties, not noise."""
    values, counts = np.unique(negative, return_counts=True)
    hits = np.searchsorted(values, positive)
    inside = hits < len(values)
    equal = inside & (values[np.minimum(hits, len(values) - 1)] == positive)
    return float(counts[hits[equal]].sum() / (len(positive) * len(negative)))


def tpr_at_fpr(positive: np.ndarray, negative: np.ndarray, fpr: float = FPR) -> float:
    """Share of positives above the smallest threshold that flags at most `fpr` of the negatives."""
    candidates = np.unique(negative)
    flagged = np.array([(negative > t).mean() for t in candidates])
    t = candidates[np.argmax(flagged <= fpr)]
    return float((positive > t).mean())


@dataclass(frozen=True)
class Detection:
    model: str
    method: str
    iteration: int
    measure: str
    auc: float
    auc_low: float
    auc_high: float
    tpr: float
    tpr_low: float
    tpr_high: float
    tied: float
    positives: int
    negatives: int


def detect_one(positive, negative, rng, labels: dict) -> Detection:
    a, t = auc(positive, negative), tpr_at_fpr(positive, negative)
    boot = np.array([(auc(p, q), tpr_at_fpr(p, q)) for p, q in
                     ((rng.choice(positive, len(positive)), rng.choice(negative, len(negative)))
                      for _ in range(BOOTSTRAP))])
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    return Detection(**labels, auc=a, auc_low=float(lo[0]), auc_high=float(hi[0]), tpr=t, tpr_low=float(lo[1]),
                     tpr_high=float(hi[1]), tied=tied_share(positive, negative), positives=len(positive),
                     negatives=len(negative))


def clean_measures(model, images, device: str = "cpu", batch: int = 50) -> dict[str, np.ndarray]:
    """The recorded quantities for the clean images `model` classifies correctly (the negatives)."""
    import torch

    from .data import load_pixels
    pixels = load_pixels([p for p, _ in images], model.spec.input_size)
    labels = torch.tensor([y for _, y in images])
    with torch.no_grad():
        logits = torch.cat([model(pixels[i:i + batch].to(device).float()).cpu() for i in range(0, len(pixels), batch)])
    right = logits.argmax(1) == labels
    if not right.any():
        raise InputError("clean", f"{model.name} classifies none of the {len(images)} clean images correctly: no "
                                  "negatives to compare the attacked images with (give images of its classes)")
    z = logits[right].double()
    top2 = z.topk(2, dim=1).values
    rivals = z.scatter(1, z.argmax(1, keepdim=True), float("-inf"))
    return {"top": top2[:, 0].numpy(), "margin": (top2[:, 0] - top2[:, 1]).numpy(),
            "log_odds": (top2[:, 0] - torch.logsumexp(rivals, 1)).numpy(),
            "softmax": torch.softmax(logits[right].float(), 1).max(1).values.double().numpy()}


def detection_table(results: Path, clean: dict[str, dict[str, np.ndarray]], every: int = 5,
                    seed: int = 0) -> list[Detection]:
    """Every model × method × (every `every`-th) iteration × measure of an experiment folder."""
    from .folder import experiment_selection, experiment_settings
    results = Path(results)
    settings = experiment_settings(results)
    chosen = experiment_selection(results, settings)
    expected = Expected(len(chosen["images"]), settings["iterations"], settings["batch_size"])
    rng = np.random.default_rng(seed)
    rows = []
    if sorted(clean) != sorted(chosen["models"]):
        raise InputError("results", f"{results / 'selection.json'}: key 'models' names {chosen['models']}, but the "
                         f"config's models are named {sorted(clean)}")
    for model in chosen["models"]:
        c = clean[model]
        stats = {"top_mean": c["top"].mean(), "top_std": c["top"].std(), "log_odds_mean": c["log_odds"].mean(),
                 "log_odds_std": c["log_odds"].std()}
        negatives = measures_of(c["top"], c["log_odds"], c["margin"], c["softmax"], stats)
        for method in settings["methods"]:
            records = read_records(results / "records" / model / method, expected)
            cols = {k: per_image(records, k).astype(np.float64)
                    for k in (ACTIVATION, Column.LOG_ODDS, Column.LOGIT_MARGIN, CONFIDENCE)}
            iterations = per_image(records, Column.ITERATION)[0]
            positives = measures_of(cols[ACTIVATION], cols[Column.LOG_ODDS], cols[Column.LOGIT_MARGIN],
                                    cols[CONFIDENCE], stats)
            for k in range(0, len(iterations), every):
                for name in MEASURES:
                    rows.append(detect_one(positives[name][:, k], negatives[name], rng,
                                           {"model": model, "method": method, "iteration": int(iterations[k]),
                                            "measure": name}))
    return rows


def write_detection(rows: list[Detection], out: Path) -> list[Path]:
    """detection.csv and detection.png (AUC against iteration per measure, one panel per method)."""
    from precision.common.plotting import save_figure, subplots
    header = list(Detection.__dataclass_fields__)
    lines = [",".join(header)] + [",".join(str(getattr(r, h)) for h in header) for r in rows]
    csv = write_text_atomic(out / "detection.csv", "\n".join(lines) + "\n")
    methods = sorted({r.method for r in rows})
    models = sorted({r.model for r in rows})
    fig, axes = subplots(len(models), len(methods), figsize=(6 * len(methods), 3.4 * len(models)), squeeze=False)
    for i, model in enumerate(models):
        for j, method in enumerate(methods):
            ax = axes[i, j]
            for k, name in enumerate(MEASURES):
                sel = [r for r in rows if (r.model, r.method, r.measure) == (model, method, name)]
                if not sel:
                    continue
                it = [r.iteration for r in sel]
                ax.plot(it, [r.auc for r in sel], "-", color=f"C{k}", label=name)
                ax.fill_between(it, [r.auc_low for r in sel], [r.auc_high for r in sel], color=f"C{k}", alpha=0.15)
            ax.axhline(0.5, color="k", lw=0.6, ls=":")
            ax.set_ylim(0.3, 1.02)
            ax.set_title(f"{model}, {method}", fontsize=9)
            ax.set_xlabel("iteration")
            ax.set_ylabel("ROC AUC (attacked vs clean)")
    axes[0, 0].legend(fontsize=7)
    return [csv, save_figure(fig, out / "detection.png")]


def check_results(results: Path) -> None:
    for name in ("config.json", "selection.json"):
        if not (Path(results) / name).exists():
            raise InputError("results", f"{Path(results) / name} is missing: is {results} an experiment folder?")
