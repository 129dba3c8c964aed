"""Saturation thresholds of the real kernels, measured on a dtype's own grid of gaps, and how well emulation
explains them.

The top logit sits `gap` above its rivals (the arrangements of `precision.emulated.thresholds.rival_logits`).
8- and 16-bit dtypes are scanned exhaustively, every finite non-negative gap, up to `EXHAUSTIVE_MAX_CELLS` logits;
float32, float64 and wide rows of 16-bit dtypes by the bracket search of `precision.formats.search`, then every gap
within ±`window_steps(classes)` grid steps of each threshold found is evaluated (the rule of
`precision.kernels.gaps`: ±4096 steps up to 16,384 classes, ±523 at 128,256).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from precision.emulated.algorithms import emulate
from precision.emulated.thresholds import RivalsName, SaturationFacts, Transitions, rival_logits, sum_exceeds_one
from precision.formats.arithmetic import arithmetic
from precision.formats.dtypes import DTYPES, Dtype
from precision.formats.search import SEARCH_POINTS, first_true
from precision.kernels.gaps import exhaustive, window_steps
from precision.kernels.registry import Kernel, get_kernel

CELLS = 1 << 23  # logits per kernel call: bounds memory whatever the number of classes


class KernelScan:
    """Evaluates one kernel × dtype × arrangement at grid indices of the gap, in bounded chunks; `sums`: also the
    other outputs' sum (the certificate's sum bound; probability kernels only)."""

    def __init__(self, kernel: Kernel | str, dtype: str, classes: int = 2, rivals: RivalsName = "equal",
                 device: str = "cpu", sums: bool = False):
        self.kernel = get_kernel(kernel) if isinstance(kernel, str) else kernel
        self.dtype: Dtype = self.kernel.check(dtype, device)
        self.classes, self.rivals_name, self.device = classes, rivals, device
        self.sums = sums and not self.kernel.log_space  # log-probabilities have no sum bound
        self.rivals = self.dtype.cast(rival_logits(self.dtype.format, classes, rivals).astype(np.float64))
        self.base = float(self.rivals.max())

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """Logit rows in the dtype, the top class in column 0, at grid indices of the gap."""
        x: np.ndarray = np.empty((len(idx), self.classes), dtype=self.dtype.storage)
        x[:, 1:] = self.rivals
        gaps = self.dtype.values(idx)
        x[:, 0] = gaps if self.base == 0 else self.dtype.cast(self.base + gaps.astype(np.float64))
        return x

    def state(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Per index: the top output, and whether it is exactly 1, the others exactly 0, any output NaN (and, with
        `sums`, the others' sum in float64: exact for M = 2)."""
        idx = np.asarray(idx).ravel()
        step = max(1, CELLS // self.classes)
        parts = [self._state(idx[i:i + step]) for i in range(0, len(idx), step)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _state(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        p = self.kernel(self.rows(idx), self.dtype.name, self.device)
        top_one, others_zero = self.kernel.saturated(p, np.zeros(len(p), dtype=np.int64))  # the top is column 0
        # a copy of the top column: a view would keep the whole (B, M) output alive until the chunks are joined
        state = {"top": p[:, 0].copy(), "top_one": top_one, "others_zero": others_zero, "nan": np.isnan(p).any(axis=1)}
        if self.sums:
            state["others_sum"] = p[:, 1:].sum(axis=1, dtype=np.float64)
        return state


@dataclass
class KernelThresholds(SaturationFacts):
    """Measured thresholds of one kernel configuration (the facts of `SaturationFacts`, named as the emulated
    thresholds name them); gaps are values of the dtype, exact as floats. `sum_exceeds_one` is None for
    log-space kernels."""

    kernel: str
    dtype: str
    classes: int
    rivals: RivalsName
    device: str
    method: str
    facts_after = "method"


def _searched_transitions(scan: KernelScan, limit: int, steps: int) -> tuple[Transitions, int]:
    """Bracket search for each transition, then every gap within ±`steps` of it: the transitions (absolute
    indices) and the number of gaps evaluated."""
    evaluated = [0]

    def predicate(key):
        def pred(pts, _rows):
            evaluated[0] += pts.size
            return scan.state(pts.ravel())[key].reshape(pts.shape)
        return pred

    points = int(max(2, min(SEARCH_POINTS, CELLS // scan.classes)))

    def search(key, lo, hi):
        """The index of a False→True step of `key` in (lo, hi] (lo: False, or −1); None where it fails at hi."""
        if hi <= lo:
            return None
        top = scan.state(np.array([hi]))[key][0]
        evaluated[0] += 1
        if not top:
            return None
        return int(first_true(predicate(key), np.array([lo]), np.array([hi]), points)[0])

    def window(centre):
        lo, hi = max(0, centre - steps), min(limit, centre + steps)
        evaluated[0] += hi - lo + 1
        return lo, scan.state(np.arange(lo, hi + 1))

    nan = search("nan", -1, limit)
    if nan is not None:
        lo, s = window(nan)
        nan = lo + int(np.flatnonzero(s["nan"])[0])
    usable = limit if nan is None else nan - 1  # past a NaN the outputs mean nothing (as `Transitions.of` reads them)
    top_one, not_one = search("top_one", -1, usable), []
    if top_one is not None:
        lo, s = window(top_one)
        local = Transitions.of(s["top_one"], s["others_zero"], s["nan"])
        top_one = lo + local.top_one
        not_one = [(lo + a, lo + b) for a, b in local.not_one]
    zero = search("others_zero", -1, usable)
    while zero is not None:
        lo, s = window(zero)
        local = Transitions.of(s["top_one"], s["others_zero"], s["nan"])
        if local.others_zero is not None:
            zero = lo + local.others_zero
            break
        # not 0 at the window's last usable gap (a non-monotone kernel): the next False→True step after it, if any
        zero = search("others_zero", min(usable, lo + len(s["nan"]) - 1), usable)
    return Transitions(top_one, zero, nan, not_one), evaluated[0]


def kernel_thresholds(kernel: Kernel | str, dtype: str, classes: int = 2, rivals: RivalsName = "equal",
                      device: str = "cpu") -> KernelThresholds:
    """The measured saturation thresholds of a real kernel (see the module docstring for the method).

    >>> kernel_thresholds("numpy", "float16", classes=2).top_is_one_from_gap  # every float16 gap evaluated
    7.625
    """
    scan = KernelScan(kernel, dtype, classes, rivals, device)
    limit = scan.dtype.max_index
    if exhaustive(limit, classes):
        s = scan.state(np.arange(limit + 1))
        t, evaluated, method = Transitions.of(s["top_one"], s["others_zero"], s["nan"]), limit + 1, "exhaustive"
    else:
        steps = window_steps(classes)
        t, evaluated = _searched_transitions(scan, limit, steps)
        method = f"search + ±{steps}-step window"
    gap = scan.dtype.value
    one, zero = gap(t.top_one), gap(t.others_zero)
    return KernelThresholds(scan.kernel.name, dtype, classes, rivals, device, method,
                            top_is_one_from_gap=one, others_zero_from_gap=zero,
                            sum_exceeds_one=sum_exceeds_one(one, zero, scan.kernel.log_space), nan_from_gap=gap(t.nan),
                            top_not_one_after_first=[(gap(a), gap(b)) for a, b in t.not_one], gaps_evaluated=evaluated)


# --- does the emulated model reproduce the kernel? -----------------------------------------------------------
@dataclass(frozen=True)
class Agreement:
    """Kernel against its emulated model on the same inputs, output by output."""

    kernel: str
    dtype: str
    model: str
    rows: str  # which rows were compared
    compared: int
    differing: int  # rows with at least one output that differs
    max_ulps: int  # largest difference, in grid steps of the dtype

    @property
    def bit_for_bit(self) -> bool:
        return self.differing == 0 and self.compared > 0

    def as_dict(self) -> dict:
        return asdict(self) | {"bit_for_bit": self.bit_for_bit}


def sample_rows(classes: int, rows: int, seed: int = 0) -> np.ndarray:
    """Logit rows like a classifier's: normal rivals (σ = 3) and a top logit 0–30 above them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3, (rows, classes))
    x[:, 0] = x.max(axis=1) + rng.uniform(0, 30, rows)
    return x


def agreement(kernel: Kernel | str, dtype: str, x: np.ndarray, rows: str) -> Agreement:
    """Run the kernel and its emulated model on logit rows `x` (rounded to the dtype) and compare."""
    k = get_kernel(kernel) if isinstance(kernel, str) else kernel
    d = k.check(dtype)
    model = k.model(dtype)
    if model.algorithm is None or model.order is None:  # a user's kernel: no model, nothing compared (not bit for bit)
        return Agreement(k.name, dtype, "none", rows, 0, 0, 0)
    xs = d.cast(x)
    native = k(xs, dtype).astype(np.float64)
    io = arithmetic(d.format)
    acc = io if model.accumulate is None else arithmetic(model.accumulate)
    emulated = emulate(model.algorithm, xs.astype(np.float64), io, acc, model.order)
    same = (native == emulated) | (np.isnan(native) & np.isnan(emulated))
    ulps = np.abs(d.index(np.abs(native)) - d.index(np.abs(emulated)))
    name = model.algorithm + (f", accumulate {model.accumulate}" if model.accumulate else "") + f", {model.order}"
    return Agreement(k.name, dtype, name, rows, len(x), int((~same).any(axis=1).sum()),
                     int(ulps[~same].max()) if (~same).any() else 0)


def two_class_rows(dtype: str) -> np.ndarray:
    """Every finite non-negative gap of a dtype as a two-class row (gap, 0)."""
    d = DTYPES[dtype]
    gaps = d.values(np.arange(d.max_index + 1)).astype(np.float64)
    return np.stack([gaps, np.zeros_like(gaps)], axis=1)
