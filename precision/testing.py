"""Assertions for your own test suite, in the manner of `numpy.testing` and `torch.testing`: does your softmax
behave as a softmax computed in its dtype must?

    from precision.testing import assert_softmax_conforms

    def test_my_softmax_conforms():
        assert_softmax_conforms(my_softmax, dtypes=("float16", "bfloat16", "float32"), classes=(2, 1000))

Built on hypothesis and on the exact thresholds of `precision.emulated.thresholds`: logit rows are drawn by grid
index of the gap between the top logit and its rivals (all equal, or one rival), with gaps near the saturation
points as likely as tiny and huge ones, and a failure shrinks to a minimal row (small gap, the first dtype and
number of classes). The properties (`PROPERTIES`), each a one-line message when it fails:

- finite: no NaN (or +inf, or a probability outside [0, 1]) for finite logits;
- monotone: a larger gap never gives a smaller top output;
- stays 1: once the top output is exactly 1 it stays 1 at every larger gap (the corrected Lemma 2.1);
- others stay 0: once every other output is exactly 0 they stay 0;
- sum bound: |Σ outputs − 1| ≤ (M + 1)·u, and where the top output is exactly 1 the others sum to at most 2u
  (u = 2^-p of the dtype; a softmax that adds its rivals to 1 one at a time leaves up to (M − 1)·u);
- not too early: the top output is not exactly 1 more than `early_tolerance` (in logit units) before the
  in-format threshold: the max-shifted softmax with every operation in the dtype, rivals summed pairwise;
- shift invariance: adding a constant to every logit (exactly, so that the gaps stay what they were) moves no
  output by more than `shift_ulps` grid steps of the dtype.

Call it from a plain test function, not from inside a `@given` test (hypothesis does not nest). The number of
examples comes from the active hypothesis profile unless `max_examples` is given.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from precision.common.errors import InputError
from precision.common.limits import check_classes
from precision.emulated.thresholds import RIVALS, far_logit, thresholds
from precision.formats.dtypes import DTYPES, IEEE, Dtype
from precision.kernels.certificate import OTHERS_WHEN_ONE_BOUND_ULPS, sum_bound_ulps
from precision.kernels.registry import Kernel, KernelError, get_kernel

PROPERTIES = ("finite", "monotone", "stays 1", "others stay 0", "sum bound", "not too early", "shift invariance")
EARLY_TOLERANCE = math.log(2)  # the rivals' mass more than halved by absorption before the top output is 1
SPREAD = 64  # grid steps around a threshold drawn from: at most a 32nd of the grid (a float8 grid has 128 steps)


class SoftmaxConformanceError(AssertionError):
    """A softmax that breaks one of the properties; the message names it, the configuration and the input row."""


@dataclass(frozen=True)
class _Config:
    dtype: str
    classes: int
    rivals: str


@functools.lru_cache(maxsize=256)
def in_format_threshold(dtype: str, classes: int, rivals: str) -> float | None:
    """The first gap at which a max-shifted softmax computed in the dtype (rivals summed pairwise) has a top output
    of exactly 1: the earliest point a kernel with a sound sum saturates."""
    t = thresholds(dtype, "shifted", classes, rivals, order="pairwise").top_is_one_from_gap
    return None if t is None else float(t)


@functools.lru_cache(maxsize=256)
def _landmarks(dtype: str, classes: int, rivals: str) -> tuple[int, ...]:
    """Grid indices where a softmax changes state: the in-format and the rounded-once thresholds, the others'
    zero onset, and ln of the largest value (where an unshifted exp overflows)."""
    d = DTYPES[dtype]
    out = []
    for t in (thresholds(dtype, "shifted", classes, rivals, order="pairwise"),
              thresholds(dtype, "shifted", classes, rivals),  # rivals added one at a time: the earliest
              thresholds(dtype, "shifted", classes, rivals, accumulate="float64")):
        out += [t.top_is_one_from_gap, t.others_zero_from_gap]
    out.append(math.log(float(d.format.max_finite)))
    return tuple(sorted({int(d.index(d.cast(np.array([float(g)])))[0]) for g in out if g is not None}))


def _gap_indices(cfg: _Config) -> st.SearchStrategy[int]:
    """Grid indices of the gap: uniform in value over the saturation region (up to 1.5× the rounded-once
    threshold, drawn twice as often), within SPREAD steps (a 32nd of a small grid) of a landmark, uniform in value
    up to twice the overflow point of an unshifted exp, and any index at all (subnormals, huge gaps)."""
    d = DTYPES[cfg.dtype]
    top = d.max_index
    marks = _landmarks(cfg.dtype, cfg.classes, cfg.rivals)
    spread = max(2, min(SPREAD, top // 32))
    near = st.sampled_from(marks).flatmap(lambda c: st.integers(max(0, c - spread), min(top, c + spread)))
    once = thresholds(cfg.dtype, "shifted", cfg.classes, cfg.rivals, accumulate="float64").top_is_one_from_gap
    largest = float(d.format.max_finite)

    def uniform(reach: float) -> st.SearchStrategy[int]:
        reach = min(largest, reach)
        return st.integers(0, 1 << 20).map(
            lambda k: min(top, int(d.index(d.cast(np.array([reach * k / (1 << 20)])))[0])))
    saturation = uniform(1.5 * float(once if once is not None else 64.0))
    return st.one_of(saturation, near, saturation, uniform(2 * math.log(largest)), st.integers(0, top))


def _row(d: Dtype, classes: int, rivals: str, gap: float, shift: float = 0.0) -> np.ndarray:
    """A logit row (float64 values of the dtype): the top logit `gap` above its rivals, everything plus `shift`."""
    r = np.zeros(classes - 1)
    if rivals == "one":
        r[1:] = float(far_logit(d.format))
    x = np.concatenate([[gap], r]) + shift
    return d.cast(x).astype(np.float64)


def _text(v: np.ndarray, limit: int = 6) -> str:
    values = ", ".join(f"{float(a):.9g}" for a in v[:limit])
    return f"[{values}{', …' if len(v) > limit else ''}]"


class _Checker:
    """The properties on one configuration, for one drawn example."""

    def __init__(self, kernel: Kernel, cfg: _Config, device: str, early_tolerance: float, shift_ulps: int,
                 absorbed_ulps: float = OTHERS_WHEN_ONE_BOUND_ULPS):
        self.k, self.cfg, self.device, self.absorbed = kernel, cfg, device, absorbed_ulps
        self.d = DTYPES[cfg.dtype]
        self.u = 2.0 ** -self.d.format.precision_bits
        self.early, self.shift_ulps = early_tolerance, shift_ulps
        self.threshold = in_format_threshold(cfg.dtype, cfg.classes, cfg.rivals)

    def fail(self, prop: str, detail: str, x: np.ndarray, p: np.ndarray) -> None:
        c = self.cfg
        raise SoftmaxConformanceError(
            f"softmax {self.k.name} breaks '{prop}': {detail}\n"
            f"  dtype {c.dtype}, {c.classes} classes, rivals {c.rivals}\n"
            f"  input row {_text(x)}\n  outputs   {_text(p)}")

    def outputs(self, rows: np.ndarray) -> np.ndarray:
        return self.k(self.d.cast(rows), self.cfg.dtype, self.device).astype(np.float64)

    def check(self, i: int, step: int, shift_index: int, negative: bool) -> None:
        d, k = self.d, self.k
        j = min(d.max_index, i + step)
        g1, g2 = (float(v) for v in d.values(np.array([i, j])))
        x1, x2 = _row(d, self.cfg.classes, self.cfg.rivals, g1), _row(d, self.cfg.classes, self.cfg.rivals, g2)
        c = d.value(shift_index) * (-1 if negative else 1)
        xs = _row(d, self.cfg.classes, self.cfg.rivals, g1, c)
        gs = xs[0] - xs[1]  # the gap after the shift (exact in float64 for 8- to 32-bit dtypes)
        x0 = _row(d, self.cfg.classes, self.cfg.rivals, gs)
        shift_ok = np.isfinite(xs).all() and gs >= 0 and x0[0] == gs and math.fsum([xs[0], -xs[1], -gs]) == 0 \
            and (self.cfg.rivals == "equal" or self.cfg.classes == 2)
        p = self.outputs(np.stack([x1, x2, x0, xs]))
        one = k.one
        for x, q in ((x1, p[0]), (x2, p[1]), (x0, p[2]), (xs, p[3])):
            bad = np.isnan(q) | (q == np.inf) | ((q > 0) if k.log_space else ((q < 0) | (q > 1)))
            if np.isfinite(x).all() and bad.any():
                self.fail("finite", f"output {float(q[np.argmax(bad)])!r} at class {int(np.argmax(bad))} for "
                          "finite logits", x, q)
        t1, t2 = float(p[0, 0]), float(p[1, 0])
        if t2 < t1:
            self.fail("monotone", f"the top output falls from {t1!r} at gap {g1!r} to {t2!r} at the larger gap "
                      f"{g2!r}", x2, p[1])
        if t1 == one and t2 != one:
            self.fail("stays 1", f"the top output is exactly {one:g} at gap {g1!r} and {t2!r} at the larger gap "
                      f"{g2!r}", x2, p[1])
        zero = -np.inf if k.log_space else 0.0
        if (p[0, 1:] == zero).all() and not (p[1, 1:] == zero).all():
            self.fail("others stay 0", f"every other output is exactly 0 at gap {g1!r}, not at the larger gap "
                      f"{g2!r}", x2, p[1])
        if not k.log_space:
            m = self.cfg.classes
            err = abs(math.fsum(p[0]) - 1) / self.u
            if err > sum_bound_ulps(m):
                self.fail("sum bound", f"the outputs sum to 1 ± {err:.4g}·u, beyond (M + 1)·u = {sum_bound_ulps(m)}·u",
                          x1, p[0])
            rest = math.fsum(p[0, 1:]) / self.u
            if p[0, 0] == 1 and rest > self.absorbed:
                self.fail("sum bound", f"the top output is exactly 1 while the others sum to {rest:.4g}·u (at most "
                          f"{self.absorbed:g}·u; its rivals still hold mass the top output does not show)",
                          x1, p[0])
        if p[0, 0] == one and self.threshold is not None and g1 < self.threshold - self.early:
            self.fail("not too early", f"the top output is exactly {one:g} at gap {g1!r}, more than {self.early:.3g} "
                      f"before the in-format threshold {self.threshold!r} (max-shifted softmax in {self.cfg.dtype}, "
                      "rivals summed pairwise)", x1, p[0])
        if shift_ok and not np.isnan(p[2:]).any():
            a, b = p[2], p[3]
            steps = np.where(a == b, 0, np.abs(d.index(d.cast(np.abs(a))) - d.index(d.cast(np.abs(b)))))
            worst = int(np.argmax(steps))
            if steps[worst] > self.shift_ulps:
                self.fail("shift invariance", f"adding {c!r} to every logit moves output {worst} from "
                          f"{float(a[worst])!r} to {float(b[worst])!r}: {int(steps[worst])} grid steps (at most "
                          f"{self.shift_ulps})", xs, b)


def assert_softmax_conforms(fn, dtypes=None, classes=(2, 10, 1000), *, rivals=("equal", "one"),
                            log_space: bool = False, torch: bool = False, device: str | None = None,
                            early_tolerance: float = EARLY_TOLERANCE, shift_ulps: int = 4,
                            absorbed_ulps: float = OTHERS_WHEN_ONE_BOUND_ULPS, max_examples: int | None = None,
                            derandomize: bool | None = None, name: str | None = None) -> None:
    """Assert that a softmax keeps the properties of `PROPERTIES` in every dtype and number of classes; raise
    `SoftmaxConformanceError` with the minimal counterexample hypothesis finds.

    `fn` is your callable (the contract of `Kernel.from_callable`: a (B, M) NumPy array in, the same shape and
    dtype out; torch tensors with `torch=True` or a `device`), a `Kernel`, or a kernel name (`"torch"`,
    `"package.module:function"`). `dtypes` defaults to the kernel's own (float16, bfloat16, float32, float64 for
    a callable); rivals "one" applies from 3 classes. `absorbed_ulps` loosens the sum bound where the top output
    is exactly 1 (a kernel that knowingly adds its rivals one at a time in the dtype: `classes − 1`);
    `derandomize=True` makes the examples the same on every run.
    """
    if isinstance(fn, (str, Kernel)):
        kernel = get_kernel(fn)
    else:
        kernel = Kernel.from_callable(fn, dtypes=dtypes or IEEE, log_space=log_space, device=device, torch=torch,
                                      name=name)
    dtypes = tuple(dtypes or kernel.dtypes)
    run_device = device or "cpu"
    for dtype in dtypes:
        kernel.check(dtype, run_device)
    classes = tuple(check_classes(m) for m in (classes if isinstance(classes, (tuple, list)) else (classes,)))
    rivals = (rivals,) if isinstance(rivals, str) else tuple(rivals)
    unknown = [r for r in rivals if r not in RIVALS]
    if unknown:
        raise InputError("rivals", f"unknown {unknown}; expected some of {', '.join(RIVALS)}")
    configs = [_Config(d, m, r) for d in dtypes for m in classes for r in rivals if r == "equal" or m > 2]
    if not configs:  # nothing checked must not read as "conforms"
        raise InputError("classes" if not classes else "rivals", f"no configuration to check: classes {classes}, "
                         f"rivals {rivals} (rivals 'one' needs 3 classes or more)")
    base = settings()
    options = settings(parent=base, deadline=None, report_multiple_bugs=False, database=None,
                       max_examples=max_examples or base.max_examples,
                       derandomize=base.derandomize if derandomize is None else derandomize,
                       suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                              HealthCheck.filter_too_much])
    for cfg in configs:
        checker = _Checker(kernel, cfg, run_device, early_tolerance, shift_ulps, absorbed_ulps)
        d = DTYPES[cfg.dtype]
        shift_top = int(d.index(d.cast(np.array([min(1e4, float(d.format.max_finite) / 4)])))[0])

        @options
        @given(i=_gap_indices(cfg), step=st.one_of(st.integers(1, 8), st.integers(1, 1 << 20)),
               shift=st.integers(0, shift_top), negative=st.booleans())
        def conforms(i, step, shift, negative):
            checker.check(i, step, shift, negative)

        try:
            conforms()
        except KernelError as e:  # a kernel that raises or breaks its contract fails the assertion, as it is
            raise SoftmaxConformanceError(f"softmax {kernel.name} breaks its contract: {e.message}") from e
