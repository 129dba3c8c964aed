"""`softmax-sat verify`: evaluate a real kernel at *every* finite non-negative gap of a dtype and certify what
it does — the corrected Lemma 2.1 (once the top output is exactly 1 it stays 1) proved for the kernel itself,
not for a model of it.

The gaps are streamed in chunks of consecutive grid indices (bit patterns), so memory stays bounded; the
state carried from chunk to chunk is a handful of numbers.
"""
from __future__ import annotations

import datetime
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from precision.common.devices import device_description
from precision.common.errors import InputError
from precision.common.files import write_json_atomic
from precision.emulated.thresholds import RivalsName, SaturationFacts, gap_text, sum_exceeds_one
from precision.formats.search import runs
from precision.kernels.registry import kernel_versions
from precision.kernels.scan import CELLS, KernelScan

MAX_EXHAUSTIVE_INDEX = 1 << 32  # float32 has 2^31 gaps; float64's 2^63 are out of reach
INTERVALS_KEPT = 20
# The outputs' sum bound, in units u = 2^-p of the dtype (p bits of precision): |Σ outputs − 1| ≤ (M + 1)·u, the
# a-priori bound of any summation order; and where the top output is exactly 1 the others sum to at most 2u (a
# softmax rounded once leaves u/2, one that adds the rivals' total to 1 in the dtype leaves u; one that adds the
# rivals to 1 one at a time in the dtype leaves up to (M − 1)·u: its top is 1 while its rivals still hold mass).
OTHERS_WHEN_ONE_BOUND_ULPS = 2.0


def sum_bound_ulps(classes: int) -> int:
    """|Σ outputs − 1| may reach (M + 1)·u whatever the summation order."""
    return classes + 1


class VerifyError(InputError):
    """A verification that cannot be run exhaustively."""


@dataclass
class Certificate(SaturationFacts):
    """What an exhaustive run of one kernel configuration found: the facts of `SaturationFacts` (named as the
    thresholds name them; `top_not_one_after_first` keeps the first INTERVALS_KEPT intervals, and
    `top_not_one_after_first_gaps` counts every such gap), and whether the top output is monotone."""

    kernel: str
    call: str
    dtype: str
    classes: int
    rivals: str
    device: str
    device_name: str
    versions: dict
    facts_after = "versions"
    top_not_one_after_first_gaps: int = 0  # every gap after the first 1 where the top output is not 1
    monotone: bool = True  # the top output never decreases as the gap grows
    first_decrease: dict | None = None  # {"gap", "top", "next_gap", "next_top"} where it first decreases
    sum_error_max_ulps: float | None = 0.0  # largest |Σ outputs − 1| in units u of the dtype (None: log space)
    sum_error_max_gap: float | None = None  # the first gap where it is reached
    others_when_one_max_ulps: float | None = 0.0  # largest Σ others where the top output is exactly 1, in u
    others_when_one_max_gap: float | None = None
    seconds: float = 0.0
    date: str = ""

    @property
    def never_leaves_one(self) -> bool:
        """Once the top output is exactly 1, it stays exactly 1."""
        return self.top_not_one_after_first_gaps == 0

    @property
    def nan_free(self) -> bool:
        return self.nan_from_gap is None

    @property
    def sum_bound_ulps(self) -> int:
        """|Σ outputs − 1| may reach (M + 1)·u."""
        return sum_bound_ulps(self.classes)

    @property
    def sum_bounded(self) -> bool:
        """The outputs' sum within its bound, and at most 2u for the others where the top output is exactly 1."""
        return (self.sum_error_max_ulps is None or self.sum_error_max_ulps <= self.sum_bound_ulps) and \
            (self.others_when_one_max_ulps is None or self.others_when_one_max_ulps <= OTHERS_WHEN_ONE_BOUND_ULPS)

    @property
    def holds(self) -> bool:
        """The corrected Lemma 2.1 for this kernel (monotone, never leaves 1 once there), no NaN for finite
        input, and the outputs' sum within its bound."""
        return self.monotone and self.never_leaves_one and self.top_is_one_from_gap is not None and \
            self.nan_free and self.sum_bounded

    @property
    def counterexamples(self) -> list[str]:
        """The first counterexample of each property that fails, one line each, in the order of their gaps."""
        rivals = "0, " * min(self.classes - 1, 2) + ("…" if self.classes > 3 else "") if self.rivals == "equal" else \
            "0" + (", −largest, …" if self.classes > 2 else "")
        row = lambda g: f"(input row [{g!r}, {rivals.rstrip(', ')}], M = {self.classes}, {self.dtype})"
        found = []
        if self.nan_from_gap is not None:
            g = self.nan_from_gap
            found.append((g, f"NaN for finite input from gap {g!r} {row(g)}"))
        if not self.monotone:
            f = self.first_decrease
            assert f is not None  # not monotone: the first decrease was recorded
            found.append((f["gap"], f"top output not monotone: {f['top']!r} at gap {f['gap']!r}, {f['next_top']!r} at "
                          f"the next gap {f['next_gap']!r}"))
        if not self.never_leaves_one:
            a, b = self.top_not_one_after_first[0]
            found.append((a, f"top output leaves 1: exactly 1 from gap {self.top_is_one_from_gap!r}, not 1 at gaps "
                          f"{a!r} to {b!r} ({self.top_not_one_after_first_gaps} gaps in all)"))
        if self.top_is_one_from_gap is None:
            found.append((float("inf"), "the top output is never exactly 1 at any finite gap"))
        if self.sum_error_max_ulps is not None and self.sum_error_max_ulps > self.sum_bound_ulps:
            g = self.sum_error_max_gap
            found.append((g, f"outputs sum to 1 ± {self.sum_error_max_ulps:.4g}·u at gap {g!r}, beyond the bound "
                          f"(M + 1)·u = {self.sum_bound_ulps}·u {row(g)}"))
        if self.others_when_one_max_ulps is not None and self.others_when_one_max_ulps > OTHERS_WHEN_ONE_BOUND_ULPS:
            g = self.others_when_one_max_gap
            found.append((g, f"top output exactly 1 while the others sum to {self.others_when_one_max_ulps:.4g}·u "
                          f"(bound {OTHERS_WHEN_ONE_BOUND_ULPS:g}·u) at gap {g!r} {row(g)}"))
        return [text for _, text in sorted(found, key=lambda t: t[0])]

    @property
    def counterexample(self) -> str | None:
        """The first counterexample (smallest gap) of a property that fails; None when every one holds."""
        found = self.counterexamples
        return found[0] if found else None

    def as_dict(self) -> dict:
        claim = ("for every finite non-negative gap g of the dtype, the kernel's top output at the row (g, rivals) "
                 "is non-decreasing in g, and once it is exactly 1 it stays exactly 1 (corrected Lemma 2.1)")
        d = super().as_dict()
        if d["first_decrease"]:
            d["first_decrease"] |= {k: gap_text(d["first_decrease"][k]) for k in ("gap", "next_gap")}
        return {"claim": claim, "holds": self.holds, "never_leaves_one": self.never_leaves_one,
                "nan_free": self.nan_free, "sum_bounded": self.sum_bounded, "sum_bound_ulps": self.sum_bound_ulps,
                "others_when_one_bound_ulps": OTHERS_WHEN_ONE_BOUND_ULPS, "counterexample": self.counterexample, **d}


class _Stream:
    """The running state of a verification over consecutive chunks of grid indices."""

    def __init__(self, cert: Certificate, scan: KernelScan):
        self.cert, self.scan = cert, scan
        self.last_top: float | None = None  # top output at the previous index (NaN-free)
        self.last_not_zero: int | None = None  # largest index whose other outputs are not all 0
        self.first_nan: int | None = None  # first index whose outputs hold a NaN

    def gap(self, i: int) -> float:
        return self.scan.dtype.value(i)

    def feed(self, start: int, s: dict[str, np.ndarray]) -> None:
        c = self.cert
        top = s["top"].astype(np.float64)
        nan = s["nan"]
        if nan.any() and c.nan_from_gap is None:
            self.first_nan = start + int(np.flatnonzero(nan)[0])
            c.nan_from_gap = self.gap(self.first_nan)
        if c.monotone:
            seq = top if self.last_top is None else np.concatenate([[self.last_top], top])
            drops = np.flatnonzero(seq[1:] < seq[:-1])  # NaN compares False: NaN is reported on its own
            if len(drops):
                j = start + int(drops[0]) - (self.last_top is not None)
                c.monotone = False
                c.first_decrease = {"gap": self.gap(j), "top": float(seq[drops[0]]),
                                    "next_gap": self.gap(j + 1), "next_top": float(seq[drops[0] + 1])}
        finite = top[~nan]
        if len(finite):
            self.last_top = float(finite[-1])
        one = s["top_one"]
        if c.top_is_one_from_gap is None and one.any():
            first = int(np.flatnonzero(one)[0])
            c.top_is_one_from_gap = self.gap(start + first)
            one = np.concatenate([np.ones(first, dtype=bool), one[first:]])
        if c.top_is_one_from_gap is not None and not one.all():
            c.top_not_one_after_first_gaps += int((~one).sum())
            for a, b in runs(~one):
                if len(c.top_not_one_after_first) < INTERVALS_KEPT:
                    c.top_not_one_after_first.append((self.gap(start + a), self.gap(start + b)))
        not_zero = np.flatnonzero(~s["others_zero"] & ~nan)
        if len(not_zero):
            self.last_not_zero = start + int(not_zero[-1])
        if "others_sum" in s:  # probabilities, not log-probabilities
            self._sum_bounds(start, top, s["others_sum"], s["top_one"], nan)

    def _sum_bounds(self, start: int, top, others, one, nan) -> None:
        """The largest |Σ outputs − 1|, and Σ others where the top is exactly 1, in units u of the dtype."""
        c, u = self.cert, 2.0 ** -self.scan.dtype.format.precision_bits
        with np.errstate(all="ignore"):
            err = np.where(nan, 0.0, np.abs((top - 1.0) + others)) / u  # exact for M = 2: top − 1 is exact
            rest = np.where(one & ~nan, others, 0.0) / u
        for values, name in ((err, "sum_error"), (rest, "others_when_one")):
            i = int(np.argmax(values)) if len(values) else 0
            if len(values) and values[i] > getattr(c, f"{name}_max_ulps"):
                setattr(c, f"{name}_max_ulps", float(values[i]))
                setattr(c, f"{name}_max_gap", self.gap(start + i))

    def finish(self, limit: int) -> None:
        c, last = self.cert, self.last_not_zero
        end = limit if self.first_nan is None else self.first_nan - 1  # past a NaN the outputs mean nothing
        c.others_zero_from_gap = self.gap(0) if last is None else (self.gap(last + 1) if last < end else None)
        c.sum_exceeds_one = sum_exceeds_one(c.top_is_one_from_gap, c.others_zero_from_gap, self.scan.kernel.log_space)


def verify(kernel: str, dtype: str, classes: int = 2, rivals: RivalsName = "equal", device: str = "cpu",
           progress: bool = False) -> Certificate:
    """Evaluate the kernel at every finite non-negative gap of the dtype; the certificate of what it did."""
    scan = KernelScan(kernel, dtype, classes, rivals, device, sums=True)
    limit = scan.dtype.max_index
    if limit >= MAX_EXHAUSTIVE_INDEX:
        raise VerifyError("dtype", f"{dtype}: {limit + 1:.3g} gaps are out of reach of an exhaustive run; "
                          "`softmax-sat report` measures its thresholds by search and a verified window")
    k = scan.kernel
    cert = Certificate(k.name, k.summary, dtype, classes, rivals, device, device_description(device),
                       kernel_versions([k]), date=datetime.date.today().isoformat())
    stream = _Stream(cert, scan)
    step = max(1, CELLS // classes)
    start_time = time.perf_counter()
    with tqdm(total=limit + 1, unit="gap", unit_scale=True, desc=f"verify {k.name} {dtype} M={classes}",
              file=sys.stderr, disable=not progress, mininterval=1 if sys.stderr.isatty() else 10) as bar:
        for start in range(0, limit + 1, step):
            idx = np.arange(start, min(limit, start + step - 1) + 1, dtype=np.int64)
            stream.feed(start, scan.state(idx))
            cert.gaps_evaluated += len(idx)
            bar.update(len(idx))
    stream.finish(limit)
    if k.log_space:
        cert.sum_error_max_ulps = cert.others_when_one_max_ulps = None
    cert.seconds = round(time.perf_counter() - start_time, 2)
    return cert


def certificate_name(kernel: str, dtype: str, classes: int, rivals: str) -> str:
    """The file name of a certificate: verify-KERNEL-DTYPE-MCLASSES-RIVALS.json."""
    name = kernel.replace(":", "_").replace("/", "_")  # a user's package.module:function
    return f"verify-{name}-{dtype}-M{classes}-{rivals}.json"


def write_certificate(cert: Certificate, out: Path) -> Path:
    """certificate JSON in `out`, written to a temporary name and renamed."""
    out.mkdir(parents=True, exist_ok=True)
    return write_json_atomic(out / certificate_name(cert.kernel, cert.dtype, cert.classes, cert.rivals),
                             cert.as_dict(), indent=1)
