"""PNG figures of the precision-saturation report."""
from __future__ import annotations

import multiprocessing
from contextlib import nullcontext
from fractions import Fraction
from pathlib import Path

import numpy as np

from precision.common.plotting import save_figure, subplots
from precision.emulated.measures import measure_at
from precision.emulated.thresholds import GapScan
from precision.formats.number_formats import to_fraction
from precision.report.lookup import Rows, emulated, measured, measured_dtypes


def _f(v) -> float | None:
    return None if v is None else float(Fraction(v))


def _gap_grid(scan: GapScan, upper: float, n: int) -> np.ndarray:
    """Grid indices of about n gaps spread evenly over [0, upper] (every grid gap where there are fewer)."""
    fmt = scan.fmt
    hi = fmt.index_of(fmt.round(Fraction(upper).limit_denominator(1 << 30)))
    if hi <= n:
        return np.arange(hi + 1)
    vals = np.linspace(0, upper, n)
    return np.unique([fmt.index_of(fmt.round(Fraction(float(v)))) for v in vals])


def top_output_figure(data: dict, out: Path) -> Path:
    """1 − p1 against the gap for every format (two classes, max-shifted): the plateau at exactly 1 shows as
    the points on the floor line."""
    recs = [r for f in data["settings"]["formats"]
            if (r := emulated(data).get(f, "shifted", 2, "equal"))]
    cols = min(5, len(recs))
    rows = -(-len(recs) // cols)
    fig, axes = subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False)
    for ax, r in zip(axes.flat, recs):
        t1 = _f(r["top_is_one_from_gap"])
        upper = 1.6 * t1 if t1 else 60.0
        scan = GapScan(r["format"], "shifted", 2, "equal")
        idx = _gap_grid(scan, upper, 1500 if scan.io.vectorized else 160)
        g = scan.io.to_float(scan.gaps(idx))
        gap_to_one = np.array([float(1 - to_fraction(v)) for v in scan.outputs(idx)[:, 0]])  # exact, then rounded
        exact = np.exp(-g) / (1 + np.exp(-g))
        floor = max(exact.min() / 30, 1e-300)
        ax.semilogy(g, exact, color="0.7", lw=1, label="exact 1 − p1")
        below = gap_to_one > 0
        ax.semilogy(g[below], gap_to_one[below], ".", ms=2, color="C0", label="computed 1 − p1")
        ax.semilogy(g[~below], np.full((~below).sum(), floor), "|", ms=6, color="C3", label="p1 = 1 exactly")
        if t1:
            ax.axvline(t1, color="C3", ls="--", lw=0.8)
        ax.set_title(f"{r['format']}: 1.0 from gap {t1:.4g}" if t1 else r["format"], fontsize=9)
        ax.set_xlabel("logit gap u1 − u2")
        ax.set_ylabel("1 − top output")
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(recs):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Top softmax output of two classes (max-shifted): where it becomes exactly 1", fontsize=11)
    return save_figure(fig, out / "top_output.png")


def thresholds_figure(data: dict, out: Path) -> Path:
    """A heat map per number of classes (the smallest and the largest): the saturation gap of each algorithm
    (column) in each format (row), every value written in its cell ('not run' where the format was not computed
    at that size); one colour scale (logarithmic) for both."""
    rows = emulated(data)
    formats, algorithms = data["settings"]["formats"], list(data["settings"]["algorithms"])
    ms = sorted({r["classes"] for r in data["thresholds"]})
    ms = [ms[0], ms[-1]] if len(ms) > 1 else ms
    panels = [(m, {(f, a): _f(r["top_is_one_from_gap"]) for f in formats for a in algorithms
                   if (r := rows.get(f, a, m, "equal"))}) for m in ms]
    norm = _log_norm(panels)
    fig, axes = subplots(len(ms), 1, figsize=(2.4 + 1.45 * len(algorithms), (0.38 * len(formats) + 1.0) * len(ms)),
                         squeeze=False)
    for ax, (m, cells) in zip(axes.flat, panels):
        _heat_map(ax, list(formats), algorithms, cells, norm, missing="not run")
        ax.set_title(f"{m} classes, all rivals equal: gap from which the top output is exactly 1", fontsize=10,
                     loc="left")
    return save_figure(fig, out / "thresholds.png")


def sum_window_figure(data: dict, out: Path) -> Path:
    """The gap interval where the top output is 1 while some other output is not 0 (outputs sum > 1)."""
    T = data["thresholds"]
    fig, ax = subplots(figsize=(9, 0.45 * len(data["settings"]["formats"]) * 2 + 1.2))
    labels, y = [], 0
    right = max([_f(r["others_zero_from_gap"]) or 0 for r in T] + [200]) * 1.5
    for f in data["settings"]["formats"]:
        for m, color in ((2, "C0"), (1000, "C1")):
            r = emulated(data).get(f, "shifted", m, "equal")
            if not r or not r["top_is_one_from_gap"]:
                continue
            a, b = float(Fraction(r["top_is_one_from_gap"])), _f(r["others_zero_from_gap"])
            if b is not None and b <= a:
                ax.text(a, y, f" none: the others reach 0 at gap {a:.3g} too", va="center", fontsize=7)
            ax.barh(y, (b or right) - a, left=a, color=color, alpha=0.8 if b else 0.35, height=0.7,
                    label=f"{m} classes" if f == data["settings"]["formats"][0] else None)
            if b is None:
                ax.text(right, y, " never ends →", va="center", fontsize=7)
            labels.append(f"{f}, M={m}")
            y += 1
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("logit gap (top output is exactly 1 and another output is still > 0: outputs sum to more than 1)")
    ax.set_title("Window where the softmax outputs sum to more than 1 (max-shifted)", fontsize=10)
    ax.legend(fontsize=8)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, out / "sum_window.png")


def measures_figure(data: dict, out: Path, fmt: str = "float32") -> Path | None:
    """Saturating against non-saturating measures in one format, two classes."""
    row = Rows(data["measures"], "format").get(fmt)
    if row is None:
        return None
    scan = GapScan(fmt, "shifted", 2, "equal")
    idx = _gap_grid(scan, 130.0, 3000)
    g = scan.io.to_float(scan.gaps(idx))
    panels = [("softmax_top", "1 − top output", lambda v: 1 - v, "log"),
              ("log_odds_from_p", "log(p1 / (1 − p1)) from the rounded p1", lambda v: v, "linear"),
              ("log_softmax_log1p", "−log p1 (log1p form)", lambda v: -v, "log"),
              ("log_odds_stable", "log-odds u1 − lse(rivals) and logit margin", lambda v: v, "linear")]
    fig, axes = subplots(1, 4, figsize=(16, 3.6))
    for ax, (name, label, tf, scale) in zip(axes, panels):
        v = tf(scan.io.to_float(measure_at(scan, name, idx)))
        ok = np.isfinite(v) & ((v > 0) if scale == "log" else True)
        ax.plot(g[ok], v[ok], ".", ms=1.5)
        if name == "log_odds_stable":
            ax.plot(g, scan.io.to_float(measure_at(scan, "logit_margin", idx)), "-", lw=0.8, alpha=0.6,
                    label="logit margin")
            ax.legend(fontsize=7)
        ax.set_yscale(scale)
        sat = row.get(name)
        if sat and not str(sat).startswith("undefined"):
            ax.axvline(float(Fraction(sat)), color="C3", ls="--", lw=0.8)
            ax.set_title(f"{name}: constant from gap {float(Fraction(sat)):.4g}", fontsize=9)
        else:
            ax.set_title(f"{name}: never saturates", fontsize=9)
        ax.set_xlabel("logit gap")
        ax.set_ylabel(label, fontsize=8)
        if name == "log_odds_from_p":
            ax.text(0.98, 0.05, "+∞ beyond the dashed line", transform=ax.transAxes, ha="right", fontsize=7)
    fig.suptitle(f"{fmt}, two classes: which measures keep telling gaps apart", fontsize=11)
    return save_figure(fig, out / "measures.png")


def _heat_map(ax, rows: list[str], cols: list[str], cells: dict, norm, missing: str = "—") -> None:
    """One panel: a cell per (row, col) coloured by its gap (log scale) with the value written in it; a key absent
    from `cells` reads `missing`, a None value 'never'."""
    grid = np.array([[cells.get((r, c)) or np.nan for c in cols] for r in rows], dtype=float)
    ax.imshow(np.ma.masked_invalid(grid), cmap="YlGnBu", norm=norm, aspect="auto")
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            v = cells.get((r, c), "missing")
            text = missing if v == "missing" else "never" if v is None else f"{v:.4g}"
            dark = isinstance(v, float) and norm(v) > 0.55
            number = isinstance(v, float)
            ax.text(j, i, text, ha="center", va="center", fontsize=10 if len(text) < 8 else 8,
                    color="white" if dark else "black" if number else "0.45",
                    fontweight="bold" if number and r != EMULATED_ROW else "normal")
    ax.set_xticks(np.arange(len(cols)), cols, fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks(np.arange(len(rows)), rows, fontsize=9)
    ax.set_xticks(np.arange(len(cols) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(rows) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=2)
    ax.tick_params(which="minor", length=0)


def _log_norm(panels):
    """One logarithmic colour scale over every gap of the panels (the cells dict is each panel's last item)."""
    from matplotlib.colors import LogNorm
    values = [v for *_, cells in panels for v in cells.values() if v]
    return LogNorm(vmin=min(values, default=1.0), vmax=max(values, default=10.0))


EMULATED_ROW = "emulated, every op in the dtype"


def _kernel_panels(data: dict) -> list[tuple[int, list[str], list[str], dict]]:
    """Per number of classes: the kernels measured there, the dtypes, and each cell's first gap with a top output of
    exactly 1 (None: never), with the emulated max-shifted softmax (every operation in the dtype) as a last row."""
    k, kernels, dtypes = data["kernels"], measured(data), measured_dtypes(data)
    panels = []
    for m in k["classes"]:
        cells = {(n, d): _f(r["top_is_one_from_gap"]) for n in k["kernels"] for d in dtypes
                 if (r := kernels.get(n, d, m, "equal"))}
        names = [n for n in k["kernels"] if any(key[0] == n for key in cells)]
        ds = dtypes  # the same columns in every panel, so that a dtype reads down one column
        for d in ds:
            if r := emulated(data).get(d, "shifted", m, "equal"):
                cells[(EMULATED_ROW, d)] = _f(r["top_is_one_from_gap"])
        panels.append((m, names + ([EMULATED_ROW] if any(key[0] == EMULATED_ROW for key in cells) else []), ds,
                       cells))
    return panels


def kernels_figure(data: dict, out: Path) -> Path:
    """A heat map per number of classes: the first gap with top output exactly 1 for each kernel (row) and dtype
    (column), every value written in its cell ('—': not measured, 'never'), the emulated max-shifted softmax
    (every operation in the dtype) as the last row; one colour scale (logarithmic) for all panels."""
    panels = _kernel_panels(data)
    norm = _log_norm(panels)
    heights = [len(names) + 1.2 for _, names, _, _ in panels]
    width = 2.6 + 1.25 * max((len(ds) for _, _, ds, _ in panels), default=1)
    fig, axes = subplots(len(panels), 1, figsize=(width, 0.42 * sum(heights) + 0.9), squeeze=False,
                         gridspec_kw={"height_ratios": heights})
    for ax, (m, names, ds, cells) in zip(axes.flat, panels):
        _heat_map(ax, names, ds, cells, norm)
        if EMULATED_ROW in names:
            ax.axhline(len(names) - 1.5, color="0.2", lw=1.5)
        ax.set_title(f"{m:,} classes, all rivals equal", fontsize=10, loc="left")
    fig.suptitle("Real kernels: the first logit gap with a top output of exactly 1 (log p exactly 0 for 'log' "
                 "kernels)", fontsize=11)
    return save_figure(fig, out / "kernels.png")


def draw_all(data: dict, out: Path, processes: bool = False) -> list[Path]:
    """Every figure of the report; `processes`: the top-output figure (the longest: it computes its curves) drawn
    in a process of its own meanwhile (see `precision.report.compute.compute`)."""
    with multiprocessing.get_context("spawn").Pool(1) if processes else nullcontext() as pool:
        top = pool.apply_async(top_output_figure, (data, out)) if pool else None  # the pool ends with the block
        paths = [kernels_figure(data, out) if data["kernels"] else None, thresholds_figure(data, out),
                 sum_window_figure(data, out), measures_figure(data, out)]
        paths.insert(1, top.get() if top else top_output_figure(data, out))
        if pool:  # ended of itself, as in `compute`
            pool.close()
            pool.join()
    return [p for p in paths if p is not None]
