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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from precision.common.devices import device_description
from precision.common.errors import InputError
from precision.common.files import write_json_atomic
from precision.formats.search import runs
from precision.kernels.registry import kernel_versions
from precision.kernels.scan import CELLS, KernelScan

MAX_EXHAUSTIVE_INDEX = 1 << 32  # float32 has 2^31 gaps; float64's 2^63 are out of reach
INTERVALS_KEPT = 20


class VerifyError(InputError):
    """A verification that cannot be run exhaustively."""


@dataclass
class Certificate:
    """What an exhaustive run of one kernel configuration found."""

    kernel: str
    call: str
    dtype: str
    classes: int
    rivals: str
    device: str
    device_name: str
    versions: dict
    gaps_evaluated: int = 0
    first_top_one_gap: float | None = None
    monotone: bool = True  # the top output never decreases as the gap grows
    first_decrease: dict | None = None
    never_leaves_one: bool = True
    not_one_after_first: list[tuple[float, float]] = field(default_factory=list)  # the first INTERVALS_KEPT
    gaps_not_one_after_first: int = 0
    others_zero_from_gap: float | None = None
    nan_free: bool = True
    first_nan_gap: float | None = None
    seconds: float = 0.0
    date: str = ""

    @property
    def holds(self) -> bool:
        """The corrected Lemma 2.1 for this kernel: monotone, and never leaves 1 once there."""
        return self.monotone and self.never_leaves_one and self.first_top_one_gap is not None

    def as_dict(self) -> dict:
        claim = ("for every finite non-negative gap g of the dtype, the kernel's top output at the row (g, rivals) "
                 "is non-decreasing in g, and once it is exactly 1 it stays exactly 1 (corrected Lemma 2.1)")
        return {"claim": claim, "holds": self.holds, **asdict(self)}


class _Stream:
    """The running state of a verification over consecutive chunks of grid indices."""

    def __init__(self, cert: Certificate, scan: KernelScan):
        self.cert, self.scan = cert, scan
        self.last_top = None  # top output at the previous index (NaN-free)
        self.last_not_zero = None  # largest index whose other outputs are not all 0

    def gap(self, i: int) -> float:
        return float(self.scan.dtype.values(np.array([i]))[0])

    def feed(self, start: int, s: dict[str, np.ndarray]) -> None:
        c = self.cert
        top = s["top"].astype(np.float64)
        nan = s["nan"]
        if nan.any() and c.nan_free:
            c.nan_free, c.first_nan_gap = False, self.gap(start + int(np.flatnonzero(nan)[0]))
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
        if c.first_top_one_gap is None and one.any():
            first = int(np.flatnonzero(one)[0])
            c.first_top_one_gap = self.gap(start + first)
            one = np.concatenate([np.ones(first, dtype=bool), one[first:]])
        if c.first_top_one_gap is not None and not one.all():
            c.never_leaves_one = False
            c.gaps_not_one_after_first += int((~one).sum())
            for a, b in runs(~one):
                if len(c.not_one_after_first) < INTERVALS_KEPT:
                    c.not_one_after_first.append((self.gap(start + a), self.gap(start + b)))
        not_zero = np.flatnonzero(~s["others_zero"] & ~nan)
        if len(not_zero):
            self.last_not_zero = start + int(not_zero[-1])

    def finish(self, limit: int) -> None:
        last = self.last_not_zero
        self.cert.others_zero_from_gap = self.gap(0) if last is None else \
            (self.gap(last + 1) if last < limit else None)


def verify(kernel: str, dtype: str, classes: int = 2, rivals: str = "equal", device: str = "cpu",
           progress: bool = True) -> Certificate:
    """Evaluate the kernel at every finite non-negative gap of the dtype; the certificate of what it did."""
    scan = KernelScan(kernel, dtype, classes, rivals, device)
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
    cert.seconds = round(time.perf_counter() - start_time, 2)
    return cert


def write_certificate(cert: Certificate, out: Path) -> Path:
    """certificate JSON in `out`, written to a temporary name and renamed."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"verify-{cert.kernel}-{cert.dtype}-M{cert.classes}-{cert.rivals}.json"
    return write_json_atomic(path, cert.as_dict(), indent=1)
