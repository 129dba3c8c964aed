"""Per-row saturation of a softmax on real logits: the one engine behind `saturation_of`, `row_saturation`,
`watch` and `softmax-sat logits`.

Per row and dtype, with a real kernel: is the top output exactly 1, are the others exactly 0 (in between the
outputs sum to more than 1), is the log-probability of the top class exactly 0 (with the same library's
log-softmax); rows that hold a NaN logit (`nan`) or a logit beyond the dtype's range (`overflow`) are flagged,
never counted as saturated or not; so are finite rows whose outputs the kernel returns NaN or infinite
(`nonfinite_output`, e.g. a naive exp overflowing float16: a fault of the kernel, not of the logits). Then how far
each row is from its own saturation point: `gap` is the top logit minus the largest rival, both rounded to the
dtype; `threshold` the smallest gap from which the row, its top logit moved to (largest rival + gap), has a top
output of exactly 1; `past_threshold` = gap − threshold: > 0, how much of the row's lead the softmax no longer
shows; < 0, how far it is from showing none of it. The logit margin and the stable log-odds (float64, from the
logits as given) never saturate.

The threshold is found one of two ways, options of the same call:
- `exact_distance=True`: by bisection on the real kernel over the dtype's grid, all rows of a chunk at once (a
  value of the dtype; NaN where the row does not saturate below a gap of REACH). A kernel without an emulated
  model (a user's) is always measured this way.
- otherwise from the kernel's model (`Kernel.model`), one log-sum-exp per row. With W = Σ_i e^(r_i − max r), the
  rivals' weight, a row saturates from the gap ln W − ln c on, where
  - a kernel that computes wider than the dtype and rounds once (torch on 16-bit inputs, reproduced bit for bit):
    c = h/(1 − h), h half the gap between 1 and the dtype's next value below;
  - a kernel that computes in the dtype: c = half the gap between 1 and the next value above (its sum absorbs W).
  In-dtype kernels that add the rivals one at a time saturate earlier, by up to ln W.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from precision.common.errors import InputError
from precision.emulated.algorithms import ALGORITHMS, check_logits, emulate, largest_partner
from precision.formats.arithmetic import arithmetic
from precision.formats.block_scaled import quantise
from precision.formats.dtypes import ALL_DTYPES, BlockDtype, exactly
from precision.formats.search import first_true
from precision.kernels.registry import EmulationModel, Kernel, get_kernel, log_kernel_of

REACH = 2048.0  # largest gap searched: every kernel here saturates long before (float64: at ~37 + ln M)


@dataclass(frozen=True)
class Saturation:
    """Saturation of each row of a block of logits in one dtype with one kernel (arrays of length N); see the
    module docstring. Flagged rows (`nan`, `overflow`) are False in every boolean and NaN in every number; rows
    flagged `nonfinite_output` are False in every boolean and NaN in `threshold` (their logits' numbers stay)."""

    dtype: str
    kernel: str
    method: str  # how `threshold` was found: "exact" (bisection on the kernel) or "model" (one log-sum-exp)
    top_is_one: np.ndarray  # the top output is exactly 1 (log-space kernels: log-probability exactly 0)
    others_zero: np.ndarray  # every other output is exactly 0 (log-space: −inf)
    log_prob_zero: np.ndarray  # the log-softmax of the top class is exactly 0
    nan: np.ndarray  # the row holds a NaN logit: not logits
    overflow: np.ndarray  # some logit is infinite in the dtype (beyond its range): the row cannot be represented
    nonfinite_output: np.ndarray  # finite logits, yet the kernel returned a NaN or an infinity (`nonfinite_outputs`)
    gap: np.ndarray  # top logit − largest rival, both rounded to the dtype
    threshold: np.ndarray  # the row's own saturation gap (exact: NaN where beyond REACH)
    margin: np.ndarray  # top − runner-up logit (float64): never saturates
    log_odds: np.ndarray  # top − lse(rivals) (float64): never saturates

    @property
    def sum_exceeds_one(self) -> np.ndarray:
        """The top output is 1 while another is positive: the outputs sum to more than 1."""
        return self.top_is_one & ~self.others_zero

    @property
    def beyond_reach(self) -> np.ndarray:
        """Not flagged, and no saturation gap up to REACH (its threshold NaN)."""
        return ~self.nan & ~self.overflow & ~self.nonfinite_output & np.isnan(self.threshold)

    @property
    def past_threshold(self) -> np.ndarray:
        """gap − threshold: > 0, that much of the row's lead is invisible in the softmax."""
        return self.gap - self.threshold


def check_rows(logits, name: str = "logits") -> np.ndarray:
    """Logits as a float64 array (N, C), C ≥ 2 (a vector is one row); NaN and ±inf are kept for the engine to
    flag. The one input check of `precision.emulated.algorithms.check_logits`, plus C ≥ 2, after refusing what
    NumPy would turn into numbers or raw errors: ragged rows, booleans, None (it would read as NaN) or a string in
    an object array."""
    try:
        given = np.asarray(logits)
    except ValueError:  # NumPy refuses ragged nested lists
        raise InputError(name, "rows of different lengths; expected (N, C) logits") from None
    if given.dtype.kind == "b":
        raise InputError(name, "booleans are not logits; expected real numbers")
    if given.dtype == object:
        for index, v in np.ndenumerate(given):
            if not isinstance(v, numbers.Real) or isinstance(v, bool):
                raise InputError(name, f"holds {v!r} at {list(index)}; expected real numbers")
    a = check_logits(logits, name, finite=False)
    if a.shape[1] < 2:
        raise InputError(name, f"expected logits of shape (N, C) with C ≥ 2, got {np.shape(logits)}")
    return a.astype(np.float64)


def absorbed_weight(dtype: str, rounded_once: bool) -> float:
    """c of the module docstring: the largest rival weight e^−gap·W that leaves the top output exactly 1."""
    f = ALL_DTYPES[dtype].format
    one = f.index_of(f.round(1))
    if rounded_once:
        h = (1 - float(f.value_at(one - 1))) / 2
        return h / (1 - h)
    return (float(f.value_at(one + 1)) - 1) / 2


def emulated_kernel(algorithm: str) -> Kernel:
    """An emulated algorithm of `precision.emulated.algorithms`, every operation rounded in the dtype, as a Kernel.
    It takes every dtype of `ALL_DTYPES`: a block-scaled one (`BlockDtype`) quantises each row per block first and
    computes in float32."""
    if algorithm not in ALGORITHMS:
        raise InputError("algorithm", f"unknown {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")

    def compute(x, d, device):
        ar = arithmetic(d.format)
        x = x.astype(np.float64)
        if isinstance(d, BlockDtype):  # the row stored in the block format and read back into float32
            x = ar.array(quantise(x, d.block))
        return emulate(algorithm, x, ar, ar, "sequential")

    model = EmulationModel(algorithm, None, "sequential", "the emulation itself")
    return Kernel(f"emulated-{algorithm}", f"precision.emulated.algorithms.{algorithm}, every operation rounded",
                  "numpy", "", tuple(ALL_DTYPES), compute, lambda dtype: model)


def saturation_of(logits, dtypes=("float32",), kernel: Kernel | str = "torch", device: str = "cpu",
                  exact_distance: bool = False) -> dict[str, Saturation]:
    """Per dtype, the saturation of every row of `logits` (N, C) with `kernel` (see the module docstring).

    >>> s = saturation_of([[30.0, 0.0], [3.0, 0.0]], dtypes=("bfloat16",), kernel="numpy")["bfloat16"]
    >>> s.top_is_one.tolist(), s.past_threshold.round(3).tolist()  # numpy computes in bfloat16: from gap 5.545
    ([True, False], [24.455, -2.545])
    >>> s = saturation_of([[70000.0, 0.0], [float("nan"), 0.0]], dtypes=("float16",), kernel="numpy")["float16"]
    >>> s.overflow.tolist(), s.nan.tolist(), s.top_is_one.tolist()  # 70000 is beyond float16's 65504
    ([True, False], [False, True], [False, False])
    """
    x = check_rows(logits)
    k = get_kernel(kernel)  # a name, a Kernel, or a user's function
    log_kernel = log_kernel_of(k)
    for dtype in dtypes:
        k.check(dtype, device)  # every dtype refused before any work
    nan = np.isnan(x).any(axis=1)
    x = np.where(nan[:, None], 0.0, x)  # flagged rows are computed on zeros and masked
    margin, log_odds = margin_and_log_odds(x, nan)
    exact = exact_distance or not k.has_model
    out = {}
    for dtype in dtypes:
        out[dtype] = saturation_in_dtype(x, nan, dtype, k, log_kernel, device, exact, margin, log_odds)
    return out


def margin_and_log_odds(x: np.ndarray, nan: np.ndarray, overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per row of x (N, C), computed in x's own float dtype and returned in float64: the margin (top − runner-up
    logit) and the log-odds (top − lse(rivals)), NaN for rows flagged `nan` or not finite. margin − log_odds = ln W,
    the rivals' weight. `overwrite`: x is scratch (a block's own copy), used in place."""
    rows = np.arange(len(x))
    with np.errstate(all="ignore"):
        finite = np.isfinite(x).all(axis=1) & ~nan
        top = np.argmax(x, axis=1)
        top_value = x[rows, top].astype(np.float64)
        rivals = x if overwrite else x.copy()
        rivals[rows, top] = -np.inf
        second = rivals.max(axis=1)
        rivals -= second[:, None]
        scaled = np.exp(rivals, out=rivals).sum(axis=1, dtype=np.float64)  # Σ e^(r − max r) ≥ 1
        margin = np.where(finite, top_value - second, np.nan)
        return margin, margin - np.log(scaled)


def row_saturation(x, dtype: str, kernel: Kernel | str, device: str = "cpu") -> Saturation:
    """Saturation of each row of x (N, C) in `dtype` with `kernel`, its threshold found exactly by bisection:
    `saturation_of(x, (dtype,), kernel, device, exact_distance=True)[dtype]`.

    >>> from precision.kernels.registry import get_kernel
    >>> r = row_saturation(np.array([[30.0, 0.0], [3.0, 0.0]]), "float16", get_kernel("numpy"))
    >>> r.top_is_one.tolist(), r.threshold.tolist()
    ([True, False], [7.625, 7.625])
    """
    return saturation_of(x, (dtype,), kernel, device, exact_distance=True)[dtype]


def saturation_in_dtype(x: np.ndarray, nan: np.ndarray, dtype: str, kernel: Kernel, log_kernel: Kernel,
                        device: str, exact: bool, margin: np.ndarray, log_odds: np.ndarray) -> Saturation:
    """The engine for one dtype: rows `x` (NaN rows zeroed, flagged by `nan`) rounded to the dtype, run through
    `kernel` (and `log_kernel`), each row's threshold by the model or, `exact`, by bisection on the kernel;
    `margin` and `log_odds` are carried into the result as given."""
    d = kernel.check(dtype, device)
    if x.dtype == d.storage:
        xs = x
    else:
        with np.errstate(all="ignore"):
            xs = d.cast(x)
    n = len(xs)
    rows = np.arange(n)
    # the dtype's values held exactly in a wider float: float32 for 8- and 16-bit dtypes (half float64's bytes)
    wide = xs.astype(np.float32 if xs.dtype.itemsize <= 2 else np.float64)
    overflow = ~nan & ~np.isfinite(wide).all(axis=1)
    flagged = nan | overflow
    if flagged.any():
        xs = xs.copy()
        xs[flagged] = 0  # the kernel sees finite rows only; their results are masked below
        wide[flagged] = 0
    top = np.argmax(wide, axis=1)
    p = kernel(xs, dtype, device)
    bad_output = ~flagged & nonfinite_outputs(p, top, kernel.log_space)
    top_is_one, others_zero = kernel.saturated(p, top)
    unmeasured = flagged | bad_output  # False in every boolean
    log_top = p[rows, top] if log_kernel is kernel else log_kernel(xs, dtype, device)[rows, top]
    top_value = wide[rows, top].astype(np.float64)
    wide[rows, top] = -np.inf  # from here on `wide` holds the rivals
    base = wide.max(axis=1).astype(np.float64)
    gap = np.where(flagged, np.nan, top_value - base)
    ok = np.flatnonzero(~unmeasured)
    model = kernel.model(dtype) if kernel.has_model else None
    if exact:
        # the model's threshold, where the kernel has a model: a guess that the bisection checks on the kernel first
        # (about four calls a row where it is right)
        guess = None if model is None else _model_threshold(wide, base, top, model, dtype, margin - log_odds)
        threshold = _bisected_threshold(xs, top, base, ok, d, kernel, device, guess)
        method = "exact"
    else:
        assert model is not None  # a kernel without a model is always measured exactly
        threshold = np.where(unmeasured, np.nan, _model_threshold(wide, base, top, model, dtype))
        method = "model"
    return Saturation(dtype, kernel.name, method, top_is_one & ~unmeasured, others_zero & ~unmeasured,
                      exactly(log_top, log_kernel.one) & ~unmeasured, nan, overflow, bad_output, gap, threshold,
                      np.where(flagged, np.nan, margin), np.where(flagged, np.nan, log_odds))


def _model_threshold(rivals: np.ndarray, base: np.ndarray, top: np.ndarray, model: EmulationModel, dtype: str,
                     log_weight: np.ndarray | None = None) -> np.ndarray:
    """Each row's saturation gap by the kernel's model (module docstring): ln W − ln c, W what the sum must absorb.
    Rounded once: all the rivals' weight (`log_weight`, ln W from the logits as given, where known). In the dtype:
    the largest partial sum the top's running sum meets in the model's order (`largest_partner`; about half the
    rivals in an 8-lane vector loop). `rivals`: the rows in a float holding the dtype exactly, the top at −inf;
    `base`: the largest rival."""
    rounded_once = model.accumulate is not None
    with np.errstate(all="ignore"):
        if rounded_once and log_weight is not None:
            ln_weight = log_weight
        else:
            # float32 holds a guess to ~1e-6 of ln W: under a grid step of formats of ≤ 24 bits at these gaps
            narrow = ALL_DTYPES[dtype].format.precision <= 24
            terms = np.exp((rivals - base[:, None]).astype(np.float32 if narrow else np.float64))
            order = None if rounded_once else model.order
            ln_weight = np.log(terms.sum(axis=1) if order is None else largest_partner(terms, top, order))
        return ln_weight - np.log(absorbed_weight(dtype, rounded_once))


def nonfinite_outputs(p: np.ndarray, top: np.ndarray, log_space: bool) -> np.ndarray:
    """Per row of a kernel's outputs p (N, C): a NaN, or an infinity no softmax gives (probabilities: ±inf;
    log-probabilities: +inf, or −inf for the top class `top`, whose probability is at least 1/C)."""
    if not log_space:
        return ~np.isfinite(p).all(axis=1)
    return (np.isnan(p) | np.isposinf(p)).any(axis=1) | np.isneginf(p[np.arange(len(p)), top])


GUESS_STEPS = (1, 16)  # grid steps around the model's guess (bisected) tried before the whole range [0, reach]:
#                       ±1 holds the threshold of 100 % of LLM-like rows for torch (the guess uses the logits
#                       before rounding to the dtype), ±16 the rest of a model's; a user's kernel has no guess


def _bisected_threshold(xs, top, base, ok, d, kernel: Kernel, device: str, guess: np.ndarray | None) -> np.ndarray:
    """Each row's own saturation gap, by bisection on the kernel over the dtype's grid (rows `ok` only): the first
    gap of a False→True step of "the top output is exactly 1" (the only one for a monotone kernel); a row's
    `guess` (a gap; NaN: none) is checked first, and the whole range [0, reach] searched where it is wrong."""
    dtype = d.name

    def outputs(pts: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The kernel's outputs for rows `live` with their top at the gaps of grid indices `pts` (rows, k), and
        each output row's top class."""
        r = np.repeat(live, pts.shape[1])
        trial = xs[r]
        with np.errstate(all="ignore"):
            trial[np.arange(len(r)), top[r]] = d.cast(base[r] + d.values(pts.ravel()).astype(np.float64))
        return kernel(trial, dtype, device), top[r]

    def saturated(pts: np.ndarray, live: np.ndarray) -> np.ndarray:
        p, t = outputs(pts, live)
        return exactly(p[np.arange(len(t)), t], kernel.one).reshape(pts.shape)

    def broken(pts: np.ndarray, live: np.ndarray) -> np.ndarray:
        p, t = outputs(pts, live)
        return nonfinite_outputs(p, t, kernel.log_space).reshape(pts.shape)

    threshold = np.full(len(xs), np.nan)

    def bracket(rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Thresholds, by bisection, of the rows whose step lies in (lo, hi] — True at hi, False at lo (−1: a virtual
        False); which rows those were."""
        step = saturated(hi[:, None], rows)[:, 0] if len(rows) else np.zeros(0, dtype=bool)
        low = step & (lo >= 0)
        if low.any():  # no kernel call on no rows
            step[low] = ~saturated(lo[low][:, None], rows[low])[:, 0]
        found = first_true(lambda pts, live: saturated(pts, rows[step][live]), lo[step], hi[step], points=1)
        threshold[rows[step]] = d.values(found).astype(np.float64)
        return step

    # a quarter of the largest value; all of it where the format saturates (FP6/FP4: a top beyond it is stored as it)
    largest = float(d.format.max_finite) / (1 if d.format.overflow == "finite" else 4)
    reach = int(d.index(d.cast(np.array([min(REACH, largest)])))[0])
    todo = ok
    if guess is not None:
        g = guess[ok]
        todo, live, g = ok[~np.isfinite(g)], ok[np.isfinite(g)], g[np.isfinite(g)]
        g = np.clip(g, 0.0, float(d.values(np.array([reach]))[0]))
        at = d.index(d.cast(g))
        at = np.minimum(at + (d.values(at).astype(np.float64) < g), reach)  # the first gap of the grid ≥ the guess
        for steps in GUESS_STEPS:
            done = bracket(live, np.maximum(at - 1 - steps, -1), np.minimum(at + steps, reach))
            live, at = live[~done], at[~done]
        todo = np.concatenate([todo, live])
    # the whole range
    found = bracket(todo, np.full(len(todo), -1, dtype=np.int64), np.full(len(todo), reach, dtype=np.int64))
    # a kernel can stop giving numbers before `reach` (a naive exp overflows: NaN): where its outputs at `reach`
    # are not finite, the search's far end is the last gap whose outputs are (bisected), and the row is searched
    # below it; rows that do not saturate up to their far end keep NaN
    rest = todo[~found]
    rest = rest[broken(np.full((len(rest), 1), reach), rest)[:, 0]] if len(rest) else rest
    if len(rest):
        last = first_true(lambda pts, live: broken(pts, rest[live]), np.full(len(rest), -1, dtype=np.int64),
                          np.full(len(rest), reach, dtype=np.int64), points=1) - 1
        bracket(rest[last >= 0], np.full(int((last >= 0).sum()), -1, dtype=np.int64), last[last >= 0])
    return threshold
