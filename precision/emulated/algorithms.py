"""Softmax as people run it: each algorithm a few lines over an `Arithmetic` that rounds every operation.

Inputs are batches of logit vectors, shape (B, M) (a single vector is accepted too). Every algorithm computes
in `accumulate` (default: the input format) and rounds its outputs back to the input format, as a float16
kernel with float32 accumulation does. `order` is the order in which a sum visits its terms.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Literal, get_args

import mpmath
import numpy as np

from precision.common.errors import InputError
from precision.formats.arithmetic import Arithmetic, arithmetic, equals, running_max
from precision.formats.number_formats import Format, mpf_of

Order = Literal["sequential", "max_first", "max_last", "pairwise", "vector8", "vector4"]  # how a sum visits terms
ORDERS: tuple[Order, ...] = ("sequential", "max_first", "max_last", "pairwise")  # the orders the report studies


@dataclass(frozen=True)
class VectorLoop:
    """A kernel's vectorised loop (ATen's `vec::reduce_all` on x86): lane k adds terms k, k + W, … in order, the last
    n mod W terms go into lanes 0 … n mod W − 1, then the W lanes are added up, by halving (W/2 pairs (i, i + W/2),
    then W/4, …: the AVX2 float specialisation) or lane by lane from lane 0 (ATen's generic reduction)."""

    lanes: int
    halving: bool


# AVX2: 8 float32 lanes added by halving; 4 float64 lanes added lane by lane (both measured on torch, see
# `largest_partner`'s tests)
VECTOR_LOOPS: dict[Order, VectorLoop] = {"vector8": VectorLoop(8, True), "vector4": VectorLoop(4, False)}
AlgorithmName = Literal["naive", "shifted", "shifted_reciprocal", "logsumexp", "logsumexp_log1p", "online"]


def _columns_in_order(u: np.ndarray, terms: np.ndarray, order: Order) -> np.ndarray:
    """`terms` with each row's columns permuted into summation order (the largest logit first or last)."""
    if order not in ("max_first", "max_last"):
        return terms
    m = u.shape[1]
    top = np.argmax(u, axis=1)[:, None]
    rest = np.arange(m)[None, :].repeat(len(u), 0)
    rest = rest[rest != top].reshape(len(u), m - 1)
    perm = np.concatenate([top, rest] if order == "max_first" else [rest, top], axis=1)
    return np.take_along_axis(terms, perm, axis=1)


def total(ar: Arithmetic, terms: np.ndarray, u: np.ndarray, order: Order) -> np.ndarray:
    """Σ terms along each row, every addition rounded, in the given order."""
    cols = _columns_in_order(u, terms, order)
    if order in VECTOR_LOOPS:
        return vector_sum(ar, cols, VECTOR_LOOPS[order])
    if order == "pairwise":
        def pairwise(lo: int, hi: int) -> np.ndarray:
            if hi - lo == 1:
                return cols[:, lo]
            mid = (lo + hi) // 2
            return ar.add(pairwise(lo, mid), pairwise(mid, hi))
        return pairwise(0, cols.shape[1])
    return ar.sum_sequential(cols)


def vector_sum(ar: Arithmetic, terms: np.ndarray, loop: VectorLoop) -> np.ndarray:
    """Σ terms along axis 1 as `vec::reduce_all` adds them in `loop` (a row shorter than a vector: zeros fill the
    lanes)."""
    n, lanes = terms.shape[1], loop.lanes
    acc = np.zeros((len(terms), lanes), dtype=terms.dtype)
    acc[:, :min(n, lanes)] = terms[:, :lanes]
    body = lanes if n < lanes else n - n % lanes
    for j in range(lanes, body, lanes):
        acc = ar.add(acc, terms[:, j:j + lanes])
    if body < n:
        acc[:, :n - body] = ar.add(acc[:, :n - body], terms[:, body:])
    return tree_reduce(ar, acc) if loop.halving else ar.sum_sequential(acc)


def tree_reduce(ar: Arithmetic, lanes: np.ndarray) -> np.ndarray:
    """The lanes (B, W) of a vector added by halving: W/2 pairs (i, i + W/2), then W/4, … (x86 `vec_reduce_all`)."""
    while lanes.shape[1] > 1:
        half = lanes.shape[1] // 2
        lanes = ar.add(lanes[:, :half], lanes[:, half:])
    return lanes[:, 0]


def largest_partner(terms: np.ndarray, top: np.ndarray, order: Order) -> np.ndarray:
    """Per row of `terms` (N, M), whose column `top` (N,) holds 0: the largest partial sum that the running sum
    holding the top term meets in one addition when `total` adds in `order` (the sums exact). The top's term is 1
    and a sum in the format stays exactly 1 while each addend it meets is absorbed, so a row whose rivals' exps
    are `terms`·e^(−gap) sums to exactly 1 from about the gap ln(largest partner) − ln(half an ulp of 1) on."""
    n, m = terms.shape
    rows = np.arange(n)
    if order == "max_first":
        return terms.max(axis=1)
    if order == "max_last":
        return terms.sum(axis=1)
    if order == "pairwise":
        lo, hi = np.zeros(n, dtype=np.int64), np.full(n, m, dtype=np.int64)
        prefix = np.concatenate([np.zeros((n, 1)), np.cumsum(terms, axis=1)], axis=1)
        largest = np.zeros(n)
        while (live := hi - lo > 1).any():  # down the split, the sibling of the top's half met at each level
            mid = (lo + hi) // 2
            left = top < mid
            sibling = np.where(left, prefix[rows, hi] - prefix[rows, mid], prefix[rows, mid] - prefix[rows, lo])
            largest = np.where(live, np.maximum(largest, sibling), largest)
            lo, hi = np.where(live & ~left, mid, lo), np.where(live & left, mid, hi)
        return largest
    loop = VECTOR_LOOPS.get(order, VectorLoop(1, False))  # sequential: one lane
    w = loop.lanes
    padded = np.zeros((n, -(-m // w) * w), dtype=terms.dtype)
    padded[:, :m] = terms
    by_lane = padded.reshape(n, -1, w)  # [row, step, lane]: the lane's terms in the order it adds them
    lane, step = top % w, top // w
    own = by_lane[rows, :, lane]
    before = np.arange(own.shape[1])[None, :] < step[:, None]
    in_lane = np.maximum(np.where(before, own, 0).sum(axis=1), np.where(before, 0, own).max(axis=1))
    sums = by_lane.sum(axis=1)  # each lane's total (the top's own lane: its rivals)
    ids = np.arange(w)[None, :]
    met = [in_lane]
    if loop.halving:
        half = w // 2
        while half:  # the lanes the top's lane meets at each halving
            met.append(np.where(ids % (2 * half) == ((lane % (2 * half)) ^ half)[:, None], sums, 0).sum(axis=1))
            half //= 2
    else:  # lane 0 + lane 1 + …: the lanes before the top's as one sum, each lane after it alone
        met.append(np.where(ids < lane[:, None], sums, 0).sum(axis=1))
        met.append(np.where(ids > lane[:, None], sums, 0).max(axis=1))
    return np.max(met, axis=0)


def _rowmax(u: np.ndarray) -> np.ndarray:
    return np.max(u, axis=1, keepdims=True) if u.dtype != object else running_max(u)[:, -1:]


def naive(ar: Arithmetic, u: np.ndarray, order: Order) -> np.ndarray:
    """exp(u) / Σ exp(u) — overflows for large logits; that is a finding, not an error."""
    e = ar.exp(u)
    return ar.div(e, total(ar, e, u, order)[:, None])


def shifted(ar: Arithmetic, u: np.ndarray, order: Order) -> np.ndarray:
    """exp(u − max) / Σ exp(u − max)."""
    e = ar.exp(ar.sub(u, _rowmax(u)))
    return ar.div(e, total(ar, e, u, order)[:, None])


def shifted_reciprocal(ar: Arithmetic, u: np.ndarray, order: Order) -> np.ndarray:
    """exp(u − max) · (1 / Σ exp(u − max)), as PyTorch's CPU kernel does."""
    e = ar.exp(ar.sub(u, _rowmax(u)))
    r = ar.div(ar.constant(1), total(ar, e, u, order))
    return ar.mul(e, r[:, None])


def logsumexp(ar: Arithmetic, u: np.ndarray, order: Order) -> np.ndarray:
    """exp(u − lse), lse = max + log Σ exp(u − max): division-free."""
    m = _rowmax(u)
    lse = ar.add(m, ar.log(total(ar, ar.exp(ar.sub(u, m)), u, order))[:, None])
    return ar.exp(ar.sub(u, lse))


def logsumexp_log1p(ar: Arithmetic, u: np.ndarray, order: Order) -> np.ndarray:
    """exp(u − lse), lse = max + log1p(Σ_{i≠argmax} exp(u_i − max)): keeps the small terms' information."""
    m = _rowmax(u)
    top = np.argmax(u, axis=1)
    others = np.ones(u.shape, dtype=bool)
    others[np.arange(len(u)), top] = False
    e = ar.exp(ar.sub(u, m))[others].reshape(len(u), -1)
    rest = u[others].reshape(len(u), -1)
    s = total(ar, e, rest, order) if e.shape[1] else np.zeros(len(u), dtype=e.dtype)
    lse = ar.add(m, ar.log1p(s)[:, None])
    return ar.exp(ar.sub(u, lse))


def online(ar: Arithmetic, u: np.ndarray, order: Order) -> np.ndarray:
    """One pass (Milakov & Gimelshein 2018): running max m and d ← d·exp(m_old − m) + exp(x − m)."""
    cols = _columns_in_order(u, u, "sequential" if order == "pairwise" else order)
    m = running_max(cols)  # the running max is exact; precompute it and both exps
    previous = np.concatenate([cols[:, :1], m[:, :-1]], axis=1)
    scale, term = ar.exp(ar.sub(previous, m)), ar.exp(ar.sub(cols, m))
    # once every row's max has stopped moving its scales are all exp(0) = 1 and d·1 = d exactly in every mode:
    # the rest of the loop is a sequential sum, which adds a run of equal terms in closed form
    moving = np.flatnonzero(~np.all(equals(scale[:, 1:], 1), axis=0))
    last = int(moving[-1]) + 1 if len(moving) else 0
    d = term[:, 0]
    for j in range(1, last + 1):
        d = ar.add(ar.mul(d, scale[:, j]), term[:, j])
    if last + 1 < cols.shape[1]:
        d = ar.sum_sequential(np.concatenate([d[:, None], term[:, last + 1:]], axis=1))
    return ar.div(ar.exp(ar.sub(u, m[:, -1:])), d[:, None])


Algorithm = Callable[[Arithmetic, np.ndarray, Order], np.ndarray]  # rows in, outputs out, every operation rounded
ALGORITHMS: dict[AlgorithmName, Algorithm] = {
    "naive": naive, "shifted": shifted, "shifted_reciprocal": shifted_reciprocal, "logsumexp": logsumexp,
    "logsumexp_log1p": logsumexp_log1p, "online": online}
assert tuple(ALGORITHMS) == get_args(AlgorithmName)  # one list of names: the Literal's

EXACT_BITS = 200


def exact_bits(u) -> int:
    """Bits for real arithmetic on a vector: the current mpmath precision or enough that 1 − p1 ≈ e^−(spread)
    is still resolved, whichever is more (real softmax outputs are never exactly 0 or 1)."""
    q = [Fraction(v) for v in u]
    return max(mpmath.mp.prec, EXACT_BITS + int(float(max(q) - min(q)) * 1.5))


def exact_softmax(u) -> list[mpmath.mpf]:
    """The softmax of one vector of exact reals, in real arithmetic at `exact_bits(u)`."""
    with mpmath.workprec(exact_bits(u)):
        x = [mpf_of(v) for v in u]
        m = max(x)
        e = [mpmath.exp(v - m) for v in x]
        s = mpmath.fsum(e)
        return [v / s for v in e]


def check_logits(logits, name: str = "logits", finite: bool = True) -> np.ndarray:
    """Logits as a 2-D array (B, M) of reals, finite unless `finite=False` (NaN and ±inf then pass, for a caller
    that flags such rows); clear errors otherwise."""
    kind = np.asarray(logits).dtype.kind if not isinstance(logits, np.ndarray) else logits.dtype.kind
    if kind not in "biufO":
        raise InputError(name, f"expected real numbers, got dtype {np.asarray(logits).dtype}")
    a = np.asarray(logits, dtype=object if _is_exact(logits) else np.float64)
    if a.ndim == 0:
        raise InputError(name, "must be a vector or a batch of vectors, got a 0-d value")
    if a.size == 0:
        raise InputError(name, f"must not be empty, got shape {a.shape}")
    if a.ndim > 2:
        raise InputError(name, f"must have shape (M,) or (B, M), got {a.shape}")
    a = a.reshape(-1, a.shape[-1]) if a.ndim == 2 else a[None, :]
    if not finite:
        return a
    ok = (np.vectorize(lambda v: bool(np.isfinite(float(v))), otypes=[bool])(a) if a.dtype == object
          else np.isfinite(a))
    if not ok.all():
        raise InputError(name, f"must be finite; found {a[~ok][0]} (NaN or infinite logits are not logits)")
    return a


def _is_exact(logits) -> bool:
    if isinstance(logits, np.ndarray) and logits.dtype != object:
        return False  # numbers of a NumPy dtype: not exact values (no copy into objects to find that out)
    a = np.asarray(logits, dtype=object)
    return a.size > 0 and not isinstance(a.flat[0], (float, int, np.floating, np.integer))


def softmax(logits, fmt: Format | str = "float32", algorithm: AlgorithmName = "shifted",
            accumulate: Format | str | None = None, order: Order = "sequential") -> np.ndarray:
    """Softmax of each row of `logits`, rounded into `fmt`, computed in `accumulate` (default `fmt`).

    Returns an array of the format's values (float64 for binary formats up to binary64, object otherwise),
    shape (B, M), or (M,) for a single vector.

    >>> p = softmax([17.0, 0.0], "float32", "shifted")
    >>> float(p[0]), float(p.sum()) > 1  # the top output is exactly 1 while the other is not 0
    (1.0, True)
    """
    if algorithm not in ALGORITHMS:
        raise InputError("algorithm", f"unknown {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")
    if order not in get_args(Order):
        raise InputError("order", f"unknown {order!r}; expected one of {', '.join(get_args(Order))}")
    single = np.ndim(logits) == 1
    u = check_logits(logits)
    io = arithmetic(fmt)
    acc = io if accumulate is None else arithmetic(accumulate)
    x = io.array(u)
    p = emulate(algorithm, x, io, acc, order)
    return p[0] if single else p


def emulate(algorithm: AlgorithmName, x: np.ndarray, io: Arithmetic, acc: Arithmetic, order: Order) -> np.ndarray:
    """Run an algorithm on values already in `io`'s format, computing in `acc`'s (the hot path of scans)."""
    inner = x if acc is io else acc.convert(x, io)
    p = ALGORITHMS[algorithm](acc, inner, order)
    return p if acc is io else io.convert(p, acc)
