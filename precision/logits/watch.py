"""`watch(model)`: saturation measured in your own training, evaluation or attack loop.

A forward hook hands every batch of the model's logits to `precision.logits.batch.saturation_of` and keeps one
`Step` per batch: how many rows have a top output of exactly 1 in each dtype (with the kernel you run), how many
sum to more than 1, how far past their own saturation point they are, and, where asked, how many rows'
cross-entropy gradient with respect to the logits is exactly zero (computed by torch's own cross-entropy, on the
labels you set, else on the predicted class). It warns once, with a `SaturationWarning`, when a share of a batch
saturates or a gradient vanishes, once with a `ProbabilitiesWarning` when the outputs look like probabilities
rather than logits, and once with a `NonFiniteLogitsWarning` when a batch holds NaN logits or logits beyond a
dtype's range, or the kernel returns NaN or ±inf outputs for finite logits: such rows are counted (per step and per
dtype), never counted as saturated or not, and never stop the loop. `summary()`, `table()` and `plot()` read the
steps back.

Under `torch.distributed` (torchrun, DDP: the process group initialized, more than one rank), every step's counts
are summed over the ranks (`all_reduce`), so that every rank's `table()` and `plot()` — rank 0's — cover every rank's
rows; the medians stay those of the rank's own rows (`Step.ranks` says how many ranks a step covers). Every rank must
then watch the same number of batches, as DDP's own gradient all-reduce requires; `all_ranks=False` keeps counts
local.

    with watch(model, dtypes=("float32", "bfloat16"), gradients=True) as w:
        for x, y in loader:
            w.set_labels(y)  # else the cross-entropy gradient is taken at the predicted class
            loss = criterion(model(x), y)
    print(w.table())
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from precision.common.errors import InputError
from precision.common.markdown import table
from precision.logits.batch import looks_like_probabilities
from precision.logits.rows import saturation_of

if TYPE_CHECKING:  # torch loads when a model is watched, not with precision
    import torch


class SaturationWarning(UserWarning):
    """Softmax outputs saturated, or cross-entropy gradients vanished, in a watched loop."""


class ProbabilitiesWarning(UserWarning):
    """A watched model's outputs look like probabilities (or log-probabilities), not logits."""


class NonFiniteLogitsWarning(SaturationWarning):
    """A watched batch holds NaN logits, or logits beyond a dtype's range (overflow), or the kernel returned NaN or
    ±inf outputs for finite logits."""


@dataclass(frozen=True)
class Step:
    """One watched batch."""

    step: int
    rows: int
    saturated: dict[str, int]  # per dtype: rows whose top output is exactly 1
    sum_exceeds_one: dict[str, int]
    log_prob_zero: dict[str, int]
    median_distance: dict[str, float | None]  # gap − own saturation gap (past_threshold), median over the rows
    median_margin: float | None  # over the rows neither NaN nor overflowing (None: no such row)
    zero_gradients: int | None  # rows whose cross-entropy gradient w.r.t. the logits is exactly 0 (None: not asked)
    median_gradient_norm: float | None
    nan_rows: int = 0  # rows holding a NaN logit
    overflow_rows: dict[str, int] = field(default_factory=dict)  # per dtype: rows with a logit beyond its range
    nonfinite_output_rows: dict[str, int] = field(default_factory=dict)  # per dtype: NaN/±inf outputs of the kernel
    ranks: int = 1  # torch.distributed ranks whose rows the counts cover (the medians: this rank's rows only)


@dataclass
class Watch:
    """Context manager: a forward hook on `model` that records a `Step` per batch (see the module docstring)."""

    model: "torch.nn.Module"
    dtypes: tuple[str, ...] = ("float32", "bfloat16")
    kernel: str = "torch"
    gradients: bool = False
    warn_share: float = 0.5  # warn once a batch has at least this share of saturated rows in some dtype
    steps: list[Step] = field(default_factory=list)
    all_ranks: bool = True  # under torch.distributed, sum every step's counts over the ranks (all_reduce)

    def __post_init__(self):
        import torch
        if not isinstance(self.model, torch.nn.Module):
            raise InputError("model", f"expected a torch.nn.Module, got {type(self.model).__name__}")
        if not 0 < self.warn_share <= 1:
            raise InputError("warn_share", f"must lie in (0, 1], got {self.warn_share}")
        saturation_of(np.zeros((1, 2)), self.dtypes, self.kernel)  # unknown kernel or dtype: refuse now
        self._labels = None
        self._handle = None
        self._warned: set[str] = set()  # each kind of warning is given once

    def set_labels(self, labels) -> None:
        """The classes of the batches from now on, for the cross-entropy gradient (None: the predicted class);
        they stay until set again, as an attack's steps all share their batch's labels."""
        self._labels = labels

    def __enter__(self) -> "Watch":
        self._handle = self.model.register_forward_hook(self._record)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()

    def _warn_once(self, kind: str, category: type, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(message, category, stacklevel=3)

    def _record(self, module, inputs, output) -> None:
        self.observe(output)

    def observe(self, output) -> Step:
        """Record one batch of logits (what the forward hook does with the model's output)."""
        import torch
        if not isinstance(output, torch.Tensor) or output.ndim != 2 or output.shape[1] < 2:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            raise InputError("model", f"output must be (N, C) logits with C ≥ 2, got {shape}")
        logits = output.detach()
        x = logits.to(torch.float64).cpu().numpy()
        if not self.steps and looks_like_probabilities(x):
            self._warn_once("probabilities", ProbabilitiesWarning,
                            "the watched model's outputs look like probabilities (or log-probabilities), not "
                            "logits: softmax saturation and attack losses need logits")
        s = saturation_of(x, self.dtypes, self.kernel)  # NaN and overflowing rows are flagged, never raised
        zero, norm = (None, None) if not self.gradients else self._gradients(logits)
        first = next(iter(s.values()))
        per_dtype = [[int(getattr(r, k).sum()) for r in s.values()]
                     for k in ("top_is_one", "sum_exceeds_one", "log_prob_zero", "overflow", "nonfinite_output")]
        counts, ranks = self._over_ranks([len(x), int(first.nan.sum()), zero or 0, *sum(per_dtype, [])], logits)
        rows, nan_rows, zero = counts[0], counts[1], None if zero is None else counts[2]
        saturated, above, log_zero, overflow, bad_output = (
            {d: v for d, v in zip(s, counts[3 + i * len(s):3 + (i + 1) * len(s)])} for i in range(len(per_dtype)))
        step = Step(len(self.steps), rows, saturated, above, log_zero,
                    {d: _median(r.past_threshold) for d, r in s.items()},
                    _median(first.margin), zero, norm, nan_rows, overflow, bad_output, ranks)
        self.steps.append(step)
        if step.nan_rows:
            self._warn_once("nan", NonFiniteLogitsWarning,
                            f"step {step.step}: {step.nan_rows} of {step.rows} rows hold NaN logits; they are "
                            "counted (nan_rows) and left out of every saturation count")
        over = {d: v for d, v in step.overflow_rows.items() if v}
        if over:
            d, v = next(iter(over.items()))
            self._warn_once("overflow", NonFiniteLogitsWarning,
                            f"step {step.step}: {v} of {step.rows} rows have a logit beyond the range of {d} "
                            "(overflow): the softmax of such a row cannot be computed in that dtype; they are "
                            "counted (overflow_rows) and left out of every saturation count")
        bad = {d: v for d, v in step.nonfinite_output_rows.items() if v}
        if bad:
            d, v = next(iter(bad.items()))
            self._warn_once("nonfinite_output", NonFiniteLogitsWarning,
                            f"step {step.step}: kernel {self.kernel} returned NaN or infinite outputs in {d} for {v} "
                            f"of {step.rows} rows of finite logits; they are counted (nonfinite_output_rows) and "
                            "left out of every saturation count")
        worst = max(step.saturated, key=lambda d: step.saturated[d])
        if step.saturated[worst] >= self.warn_share * step.rows:
            self._warn_once("saturated", SaturationWarning,
                            f"step {step.step}: {step.saturated[worst]} of {step.rows} rows have a top softmax "
                            f"output of exactly 1 in {worst} ({self.kernel}): the softmax no longer shows how strong "
                            "these predictions are; use the logit margin or log-odds")
        if zero:
            self._warn_once("gradient", SaturationWarning,
                            f"step {step.step}: the cross-entropy gradient with respect to the logits is exactly zero "
                            f"for {zero} of {step.rows} rows: a gradient attack or training step gets nothing "
                            "from them")
        return step

    def _over_ranks(self, counts: list[int], logits) -> tuple[list[int], int]:
        return over_ranks(counts, logits.device) if self.all_ranks else (counts, 1)

    def _gradients(self, logits) -> tuple[int, float]:
        """Rows whose cross-entropy gradient w.r.t. the logits (torch's own, in the logits' dtype) is exactly 0."""
        import torch
        labels = logits.argmax(dim=1) if self._labels is None else torch.as_tensor(self._labels,
                                                                                    device=logits.device)
        if labels.shape != (len(logits),):
            raise InputError("labels", f"set_labels gave {tuple(labels.shape)} labels for a batch of {len(logits)}")
        with torch.enable_grad():
            z = logits.clone().requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(z, labels, reduction="sum")
            (g,) = torch.autograd.grad(loss, z)
        return int((g == 0).all(dim=1).sum()), float(g.norm(dim=1).median())

    # --- reading the steps back -----------------------------------------------------------------------------
    def summary(self) -> list[dict]:
        """Per dtype: batches and rows watched, rows saturated, the first step with one, rows summing above 1."""
        rows = sum(s.rows for s in self.steps)
        out = []
        for d in self.dtypes:
            hit = [s.step for s in self.steps if s.saturated[d]]
            out.append({"dtype": d, "kernel": self.kernel, "batches": len(self.steps), "rows": rows,
                        "ranks": max((s.ranks for s in self.steps), default=1),
                        "saturated_rows": sum(s.saturated[d] for s in self.steps),
                        "sum_exceeds_one_rows": sum(s.sum_exceeds_one[d] for s in self.steps),
                        "log_prob_zero_rows": sum(s.log_prob_zero[d] for s in self.steps),
                        "nan_rows": sum(s.nan_rows for s in self.steps),
                        "nan_batches": sum(1 for s in self.steps if s.nan_rows),
                        "overflow_rows": sum(s.overflow_rows.get(d, 0) for s in self.steps),
                        "overflow_batches": sum(1 for s in self.steps if s.overflow_rows.get(d, 0)),
                        "nonfinite_output_rows": sum(s.nonfinite_output_rows.get(d, 0) for s in self.steps),
                        "first_saturated_step": hit[0] if hit else None,
                        "zero_gradient_rows": None if not self.gradients else
                        sum(s.zero_gradients or 0 for s in self.steps)})
        return out

    def table(self) -> str:
        """The summary as a Markdown table."""
        rows = []
        for r in self.summary():
            share = f"{r['saturated_rows']} ({100 * r['saturated_rows'] / max(r['rows'], 1):.1f} %)"
            first = "—" if r["first_saturated_step"] is None else r["first_saturated_step"]
            zero = "not asked" if r["zero_gradient_rows"] is None else r["zero_gradient_rows"]
            rows.append([r["dtype"], r["batches"], r["rows"], share, r["sum_exceeds_one_rows"], r["log_prob_zero_rows"],
                         first, zero, r["overflow_rows"], r["nan_rows"], r["nonfinite_output_rows"]])
        return table(["dtype", "batches", "rows", "top output exactly 1", "outputs sum > 1", "log p exactly 0",
                      "first step saturated", "CE gradient exactly 0", "overflow rows", "NaN rows",
                      "rows with NaN/inf outputs"], rows)

    def plot(self, path: Path, title: str = "") -> Path:
        """Per step: the share of rows saturated in each dtype (and of vanished gradients, if asked)."""
        from matplotlib.ticker import MaxNLocator  # matplotlib loads when a plot is drawn, not with precision

        from precision.common.plotting import save_figure, subplots

        fig, ax = subplots(figsize=(7, 3.6))
        steps = [s.step for s in self.steps]
        for d in self.dtypes:
            ax.plot(steps, [100 * s.saturated[d] / s.rows for s in self.steps], "-", label=f"top output = 1 ({d})")
        if self.gradients:
            ax.plot(steps, [100 * (s.zero_gradients or 0) / s.rows for s in self.steps], "k--",
                    label="CE gradient = 0")
        ax.set_xlabel("watched batch (step)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole batches
        ax.set_ylabel("% of rows")
        ax.set_ylim(-2, 102)
        ax.set_title(title or f"Softmax saturation per step ({self.kernel})", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        return save_figure(fig, path)


def over_ranks(counts: list[int], device=None) -> tuple[list[int], int]:
    """The counts summed over every rank of torch.distributed (initialized, more than one rank; every rank must
    call), and how many ranks they cover; else as they are. `device`: where NCCL reduces (the GPU of the logits)."""
    import torch
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return counts, 1
    device = device if dist.get_backend() == "nccl" and device is not None else torch.device("cpu")
    t = torch.tensor(counts, dtype=torch.int64, device=device)
    dist.all_reduce(t)
    return t.tolist(), dist.get_world_size()


def _median(values: np.ndarray) -> float | None:
    """The median of the finite values (flagged rows are NaN), None where there is none."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else None


def watch(model, dtypes=("float32", "bfloat16"), kernel: str = "torch", gradients: bool = False,
          warn_share: float = 0.5, all_ranks: bool = True) -> Watch:
    """A `Watch` on `model`, to use as a context manager (see the module docstring)."""
    return Watch(model, tuple(dtypes), kernel, gradients, warn_share, all_ranks=all_ranks)
