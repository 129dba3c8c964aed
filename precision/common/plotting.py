"""Figures without pyplot: a `matplotlib.figure.Figure` draws on its own Agg canvas, so no backend is chosen
and no global state changes, at import or ever."""
from __future__ import annotations

import os
from pathlib import Path

from matplotlib.figure import Figure


def subplots(nrows: int = 1, ncols: int = 1, **kw):
    """A new figure and its axes, as `pyplot.subplots` returns them (keywords go to `Figure.subplots`, except
    `figsize` and `layout`, which go to the figure)."""
    fig = Figure(figsize=kw.pop("figsize", None), layout=kw.pop("layout", None))
    return fig, fig.subplots(nrows, ncols, **kw)


def save_figure(fig: Figure, path: Path, dpi: int = 110, tight: bool = True) -> Path:
    """Lay out (unless the figure lays itself out) and write a figure; a temporary name, then a rename, so an
    interrupted run never leaves half a PNG."""
    if tight:
        fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=dpi)
    os.replace(tmp, path)
    return path
