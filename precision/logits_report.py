"""`softmax-sat report --logits FILE`: is the softmax of *your* logits already saturated, and by how much?

For each row and format: the row's own saturation gap T (the smallest top-logit gap over the row's actual
rivals from which the computed top output is exactly 1, found exactly on the format's grid by a batched search,
one bracket per row) and the row's gap g = top logit − runner-up. `g − T` > 0 says how far past saturation the
row is: that much of the logit's growth is invisible to the softmax.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .arithmetic import Arithmetic
from .softmax import check_logits, emulate

LOGIT_FORMATS = ("float16", "bfloat16", "float32", "float64")
POINTS_PER_ROW = 32
CELLS_PER_BATCH = 2_000_000


def load_logits(path: Path) -> np.ndarray:
    """An (N, C) array of logits from .npy, .csv or .pt; clear errors for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--logits: no such file {path}")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv", ".pt"):
        raise ValueError(f"--logits: {path} must end in .npy, .csv or .pt")
    try:
        if suffix == ".npy":
            a = np.load(path, allow_pickle=False)
        elif suffix == ".csv":
            a = np.genfromtxt(path, delimiter=",", dtype=np.float64)
            if a.ndim == 2 and np.isnan(a[0]).all():  # a header line
                a = a[1:]
        else:
            import torch
            a = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # whatever the reader says, the user needs to know which file and why
        raise ValueError(f"--logits: cannot read {path}: {e}") from None
    if suffix == ".pt":
        import torch
        if not isinstance(a, torch.Tensor):
            raise ValueError(f"--logits: {path} holds a {type(a).__name__}, expected one tensor")
        a = a.detach().double().numpy()
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] < 2 or a.shape[0] < 1:
        raise ValueError(f"--logits: expected shape (N, C) with C ≥ 2, got {a.shape} in {path}")
    check_logits(a, "--logits")
    return a


def row_saturation_gaps(logits: np.ndarray, fmt: str, algorithm: str = "shifted") -> dict[str, np.ndarray]:
    """Per row: its gap, its own saturation gap (NaN if the top output never reaches 1), and whether it is
    saturated now. Exact for the monotone algorithms (shifted, shifted_reciprocal, online)."""
    ar = Arithmetic(fmt)
    if not ar.vectorized:
        raise ValueError(f"--logits works on binary formats up to float64, not {fmt}")
    x = ar.array(np.asarray(logits, dtype=np.float64))
    n, m = x.shape
    top = np.argmax(x, axis=1)
    keep = np.ones_like(x, dtype=bool)
    keep[np.arange(n), top] = False
    rivals = x[keep].reshape(n, m - 1)
    base = rivals.max(axis=1)
    gap = x[np.arange(n), top] - base
    saturated = emulate(algorithm, x, ar, ar, "sequential")[np.arange(n), top] == 1

    def top_is_one(idx):  # idx: (rows, K) grid indices of gaps, for the rows `which`
        g = ar.fmt.values_at(idx)
        t = ar.add(base[which][:, None], g)
        u = np.concatenate([t.reshape(-1, 1), np.repeat(rivals[which], idx.shape[1], axis=0)], axis=1)
        return (emulate(algorithm, u, ar, ar, "sequential")[:, 0] == 1).reshape(idx.shape)

    limit = ar.fmt.max_index
    lo, hi = np.full(n, -1, dtype=np.int64), np.full(n, limit, dtype=np.int64)
    never = np.zeros(n, dtype=bool)
    for start in range(0, n, max(1, CELLS_PER_BATCH // (m * POINTS_PER_ROW))):
        which = np.arange(start, min(n, start + max(1, CELLS_PER_BATCH // (m * POINTS_PER_ROW))))
        never[which] = ~top_is_one(hi[which][:, None])[:, 0]
        while True:
            open_ = (hi[which] - lo[which] > 1) & ~never[which]
            if not open_.any():
                break
            span = (hi[which] - lo[which]).astype(np.float64)
            frac = np.arange(1, POINTS_PER_ROW + 1) / (POINTS_PER_ROW + 1)
            pts = lo[which][:, None] + np.floor(span[:, None] * frac).astype(np.int64)
            pts = np.clip(pts, lo[which][:, None] + 1, np.maximum(hi[which][:, None] - 1, lo[which][:, None] + 1))
            ok = top_is_one(pts) | ~open_[:, None]
            last_false = np.where(~ok, pts, -1).max(axis=1)
            new_lo = np.maximum(lo[which], last_false)
            first_true = np.where(ok & (pts > new_lo[:, None]), pts, limit + 1).min(axis=1)
            lo[which] = np.where(open_, new_lo, lo[which])
            hi[which] = np.where(open_, np.minimum(hi[which], first_true), hi[which])
    threshold = np.where(never, np.nan, ar.fmt.values_at(np.maximum(hi, 0)))
    return {"gap": gap, "threshold": threshold, "saturated": saturated, "past": gap - threshold}


def analyse_logits(path: Path, out: Path, formats=LOGIT_FORMATS, algorithm: str = "shifted",
                   figures: bool = True) -> dict:
    """Write logits.json, logits.md and logits_past_threshold.png for a user's logits."""
    logits = load_logits(path)
    results, summary = {}, []
    for f in tqdm(formats, desc="formats", file=sys.stderr, disable=None):
        r = row_saturation_gaps(logits, f, algorithm)
        results[f] = r
        sat = r["saturated"]
        summary.append({"format": f, "rows": int(len(sat)), "saturated": int(sat.sum()),
                        "saturated_percent": round(100 * float(sat.mean()), 2),
                        "median_past_threshold": None if not sat.any() else float(np.median(r["past"][sat])),
                        "max_past_threshold": None if not sat.any() else float(np.max(r["past"][sat]))})
    data = {"file": str(path), "shape": list(logits.shape), "algorithm": algorithm, "summary": summary,
            "rows": {f: {k: [None if not np.isfinite(v) else float(v) for v in r[k]] if r[k].dtype != bool
                         else r[k].tolist() for k in r} for f, r in results.items()}}
    (out / "logits.json").write_text(json.dumps(data))
    lines = [f"# Saturation of the logits in `{path}`", "", f"{logits.shape[0]} rows × {logits.shape[1]} classes, "
             f"softmax algorithm `{algorithm}`. *Past threshold* = the row's top-logit gap minus the gap from which "
             "its top output is exactly 1: how much of the logit's lead the softmax no longer shows.", "",
             "| format | rows with top output exactly 1 | % | median past threshold | max past threshold |",
             "|---|---|---|---|---|"]
    num = lambda v: "—" if v is None else f"{v:.4g}"
    for s in summary:
        lines.append(f"| {s['format']} | {s['saturated']} / {s['rows']} | {s['saturated_percent']} | "
                     f"{num(s['median_past_threshold'])} | {num(s['max_past_threshold'])} |")
    if figures:
        _histogram(results, out / "logits_past_threshold.png")
        lines += ["", "![gap minus saturation gap per row](logits_past_threshold.png)"]
    (out / "logits.md").write_text("\n".join(lines) + "\n")
    return data


def _histogram(results: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    from .report_figures import save_figure  # sets the Agg backend
    fig, ax = plt.subplots(figsize=(8, 4))
    finite = np.concatenate([r["past"][np.isfinite(r["past"])] for r in results.values()])
    bins = np.linspace(finite.min(), finite.max(), 60) if len(finite) else 10
    for f, r in results.items():
        ax.hist(r["past"][np.isfinite(r["past"])], bins=bins, histtype="step", lw=1.5, label=f)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("row's top-logit gap − its saturation gap (> 0: softmax top output is exactly 1)")
    ax.set_ylabel("rows")
    ax.set_title("How far past softmax saturation each row is, per format")
    ax.legend()
    save_figure(fig, path)
