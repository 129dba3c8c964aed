"""Online softmax as attention kernels run it (FlashAttention and its CPU and GPU relatives), every operation rounded.

A query's scores s are visited in blocks of keys. Per block: the block's maximum; the running maximum m moves to it
when it exceeds m by more than a rescale threshold τ (τ = 0: whenever it grows); P = exp(s·c − m) (or
exp2(fma(s, c·log₂e, −m·c·log₂e)) with log₂e folded into the scale c), scaled by 2^offset and rounded to the dtype of
the second product; the block's sum of P (vector lanes summed one by one, the lanes reduced by a halving tree, the
remainder added in order); the running sum l ← α·l + Σ_block and the accumulated output O ← α·O + P·V with
α = exp(m_old − m_new); finally O·(1/l) or O/l rounded to the output dtype. Every operation is rounded in its
`Format` (`precision.formats`): + − × ÷ and exp correctly rounded, a fused multiply-add rounded once (`fma`), and
optionally the vector exp of PyTorch's x86 kernels (`exp_u20`: a degree-5 polynomial, built from its own fused
multiply-adds, so emulated bit for bit).

With V the identity (head dimension = sequence length), the output row *is* the attention row, each weight as the
kernel rounds it: `attention_weights` computes it for any rows of scores (`precision.emulated.online_thresholds`:
where a row of one top key and L − 1 equal rivals is exactly one-hot, up to 128k keys).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from precision.common.errors import InputError
from precision.emulated.algorithms import tree_reduce
from precision.formats.arithmetic import Arithmetic, arithmetic
from precision.formats.binary import BinaryFormat
from precision.formats.named_formats import get_format

ExpName = Literal["exact", "exp_u20", "fexp_u20"]  # the vector part's exp: correctly rounded, or PyTorch's x86
#                                                  `exp_u20` (float32 P) or `fexp_u20` (P rounded to 16 bits)
F32 = np.float32


@dataclass(frozen=True)
class OnlineSoftmax:
    """One online-softmax configuration, every parameter named (see the module docstring for the algorithm)."""

    name: str
    block: int = 512  # keys per block (the kv split)
    lanes: int = 8  # vector lanes of the in-block sum (1: one by one); the last block % lanes keys are added in order
    exp: ExpName = "exact"  # the exp of the vector part; the remainder and α are always correctly rounded
    base: Literal["e", "2"] = "e"  # exp(s·c − m), or exp2(fma(s, c·log₂e, −m·c·log₂e))
    scale: float = 1.0  # c, the softmax scale (1/√d in attention)
    rescale_threshold: float = 0.0  # τ, in the exponent's units: m moves only when a block's max exceeds it by > τ
    p_dtype: str | None = "input"  # P is rounded to this before P·V ("input": the input dtype; None: not rounded)
    p_offset: int = 0  # P = 2^offset·exp(…): scaled into an FP8 format's range before its cast
    p_saturate: bool = True  # the cast of P clamps to the format's largest value (False: overflow gives NaN)
    sum_of: Literal["p", "rounded_p"] = "p"  # the row sum adds P before its rounding (as FlashAttention does) or after
    fused_update: bool = True  # l ← fma(α, l, Σ_block), rounded once (False: α·l rounded, then the sum)
    division: Literal["reciprocal", "divide"] = "reciprocal"  # O·(1/l), or O/l
    accumulate: str = "float32"  # the dtype of the scores' products, exps, sums and O
    max_start: float = -math.inf  # the running max before the first block: −inf, or a kernel's finite stand-in
    why: str = ""

    def __post_init__(self):
        if self.block < 1 or self.lanes < 1 or self.lanes & (self.lanes - 1):
            raise InputError("online", f"{self.name}: block must be ≥ 1 and lanes a power of two, got "
                             f"block={self.block}, lanes={self.lanes}")
        if self.rescale_threshold < 0:
            raise InputError("rescale_threshold", f"must be ≥ 0, got {self.rescale_threshold}")
        acc = get_format(self.accumulate)
        if not isinstance(acc, BinaryFormat) or acc.precision > 26:
            raise InputError("accumulate", f"the online model computes in a binary format of at most 26 bits "
                             f"(float32, bfloat16, float16), got {self.accumulate!r}")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["max_start"] = None if math.isinf(self.max_start) else self.max_start
        return d

    def with_(self, **changes) -> "OnlineSoftmax":
        """A copy with some parameters changed (its name says so)."""
        name = self.name + "[" + ", ".join(f"{k}={v}" for k, v in changes.items()) + "]"
        return replace(self, name=name, **changes)


# The configurations of known kernels. The CPU one is checked output for output against torch on this machine
# (tests/precision/test_online.py); the GPU ones are models of their published source, not measured here.
TORCH_CPU_FLASH = OnlineSoftmax(
    "torch-cpu-flash", block=512, lanes=8, exp="exp_u20", why="at::native cpu_flash_attention (AVX2 path): kv "
    "blocks of 512, exp_u20 on 8-lane vectors (fexp_u20 where P is rounded to 16 bits) and std::exp on the "
    "remainder, P rounded to the input dtype, the sum of unrounded P, l ← Σ + α·l, O·(1/l)")


def torch_cpu_flash(dtype: str) -> OnlineSoftmax:
    """torch's CPU flash attention (`SDPBackend.FLASH_ATTENTION`) for an input dtype: float16 and bfloat16 inputs
    take the cheaper vector exp, `fexp_u20` (measured: bit for bit, tests/precision/test_online.py)."""
    return replace(TORCH_CPU_FLASH, exp="fexp_u20") if dtype in ("float16", "bfloat16") else TORCH_CPU_FLASH
FLASH2_CUDA = OnlineSoftmax(
    "flash-attn-2 (model, not measured)", block=128, lanes=1, base="2", why="FlashAttention-2 forward: exp2 with "
    "log₂e folded into the scale by an FMA, P rounded to the input dtype, float32 row sums (the lane order modelled "
    "as sequential), O·(1/l)")
FLASH3_FP8 = OnlineSoftmax(
    "flash-attn-3 FP8 (model, not measured)", block=128, lanes=1, base="2", p_dtype="float8_e4m3fn", p_offset=8,
    why="FlashAttention-3 FP8: P = exp2(s·c·log₂e − m·c·log₂e + 8), cast to e4m3 (saturating), row sums of the "
    "float32 P")
FLASH4_RESCALE = OnlineSoftmax(
    "flash-attn-4 FP8 with lazy rescale (model, not measured)", block=128, lanes=1, base="2",
    p_dtype="float8_e4m3fn", p_offset=8, rescale_threshold=8.0, why="FA4's conditional rescale (the max moves "
    "only when it grows by more than τ = 8 in log₂ units) with an FP8 P offset by 8: flash-attention#2716/#2717")
KNOWN = {c.name.split(" ")[0]: c for c in (TORCH_CPU_FLASH, FLASH2_CUDA, FLASH3_FP8, FLASH4_RESCALE)}


# --- the operations the kernels use beyond + − × ÷ ---------------------------------------------------------------
def fma(ar: Arithmetic, a: ArrayLike, b: ArrayLike, c: ArrayLike) -> np.ndarray:
    """a·b + c rounded once in `ar`'s format (≤ 26 bits): a·b is exact in float64, the sum's float64 error decides
    the one case where rounding the float64 sum differs, a tie of the format (nudge one float64 step toward it)."""
    with np.errstate(all="ignore"):
        p = np.multiply(a, b, dtype=np.float64)
        c = np.asarray(c, dtype=np.float64)
        s = p + c
        bb = s - p
        err = (p - (s - bb)) + (c - bb)  # Knuth's TwoSum: s + err = p + c exactly
        nudged = np.where(np.isfinite(s) & (err != 0), np.nextafter(s, np.copysign(np.inf, err)), s)
    return ar.fmt.round_array(nudged)


_C = np.array([0x3FB8AA3B, 0x3F317218, 0xC2AEAC50, 0x42B17218], dtype=np.uint32).view(F32).astype(np.float64)
LOG2E_F32, LN2_F32, LN_FLT_MIN, LN_FLT_MAX = _C  # the bit patterns exp_u20 uses
_POLY = [float(F32(v)) for v in (0.00828929059, 0.0418978221, 0.166676521, 0.499991506, 0.999999701, 1.0)]


def exp_u20(x: np.ndarray) -> np.ndarray:
    """PyTorch's `Vectorized<float>::exp_u20` on x86 (AVX2, AVX512), bit for bit: exp(x) = 2^n·poly(x − n·ln 2)
    with n = ⌊x·log₂e + ½⌋, 2^(n−1) built from its bits (0 where n − 1 = −127: it returns 0 from x ≈ −87), times 2."""
    ar = arithmetic("float32")
    x = np.asarray(x, dtype=np.float64)
    below = x < LN_FLT_MIN
    src = np.maximum(np.minimum(x, LN_FLT_MAX), LN_FLT_MIN)
    fx = np.floor(fma(ar, src, LOG2E_F32, 0.5))
    r = fma(ar, -fx, LN2_F32, src)
    res = np.full(x.shape, _POLY[0])
    for c in _POLY[1:]:
        res = fma(ar, r, res, c)
    biased = (fx - 1 + 127).astype(np.int64)
    two_n = (np.clip(biased, 0, 255).astype(np.uint32) << np.uint32(23)).view(F32).astype(np.float64)
    two_n = np.where(below, 0.0, two_n)
    return ar.mul(ar.mul(res, two_n), 2.0)


_F = [float(F32(v)) for v in (0.00010703434948458272, 0.30354260500649682, -0.22433836478672356,
                               -0.079204240219773236)]


def fexp_u20(x: np.ndarray) -> np.ndarray:
    """PyTorch's `Vectorized<float>::fexp_u20` on x86, bit for bit: y = x·log₂e, a cubic in frac(y) corrects it,
    and (2^23·y' + 127·2^23) truncated to an integer *is* the float's bit pattern (Schraudolph's trick); 0 below
    ln(FLT_MIN) ≈ −87.34, inf above ln(FLT_MAX)."""
    ar = arithmetic("float32")
    x = np.asarray(x, dtype=np.float64)
    y = ar.mul(x, LOG2E_F32)
    frac = ar.sub(y, np.floor(y))
    res = fma(ar, frac, _F[3], _F[2])
    res = fma(ar, frac, res, _F[1])
    res = fma(ar, frac, res, _F[0])
    y = ar.sub(y, res)
    bits = np.trunc(fma(ar, 2.0 ** 23, y, 127 * 2.0 ** 23))
    out = np.clip(np.nan_to_num(bits), 0, 0xFFFFFFFF).astype(np.uint32).view(F32).astype(np.float64)
    return np.where(x < LN_FLT_MIN, 0.0, np.where(x > LN_FLT_MAX, np.inf, out))


VECTOR_EXPS = {"exp_u20": exp_u20, "fexp_u20": fexp_u20}


def round_p(cfg: OnlineSoftmax, p: np.ndarray, io: Arithmetic) -> np.ndarray:
    if cfg.p_dtype is None:
        return p
    fmt = io.fmt if cfg.p_dtype == "input" else get_format(cfg.p_dtype)
    out = fmt.round_array(p)
    if not cfg.p_saturate and fmt.max_finite is not None:
        out = np.where(np.abs(p) > float(fmt.max_finite) + _half_step_above_max(fmt), np.nan, out)
    return out


def _half_step_above_max(fmt) -> float:
    """Half the step above the largest value: what rounds to it rather than past it."""
    top = float(fmt.max_finite)
    return float(fmt.epsilon) * 2.0 ** math.floor(math.log2(top)) / 2


def lane_sum(ar: Arithmetic, terms: np.ndarray, lanes: int) -> np.ndarray:
    """Σ terms along axis 1 as a vectorised loop does: lane k adds terms k, k+lanes, … in order (from 0), the lanes
    are reduced by a halving tree (lane i + lane i+W/2, …), then the last (count % lanes) terms are added in order."""
    n = terms.shape[1]
    body = n - n % lanes
    if lanes == 1:
        return _sequential(ar, terms)
    acc = np.zeros((len(terms), lanes))
    for j in range(0, body, lanes):
        acc = ar.add(acc, terms[:, j:j + lanes])
    total = tree_reduce(ar, acc)
    for j in range(body, n):
        total = ar.add(total, terms[:, j])
    return total


def _sequential(ar: Arithmetic, terms: np.ndarray) -> np.ndarray:
    total = np.zeros(len(terms))
    for j in range(terms.shape[1]):
        total = ar.add(total, terms[:, j])
    return total


class Step:
    """The scalar parts of one configuration: scale, exponent arguments, exps, in the accumulator's format."""

    def __init__(self, cfg: OnlineSoftmax):
        self.cfg, self.ar = cfg, arithmetic(cfg.accumulate)
        c = self.ar.constant(cfg.scale)
        self.c = float(c if cfg.base == "e" else self.ar.mul(c, LOG2E_F32 if cfg.accumulate == "float32"
                                                              else self.ar.constant(math.log2(math.e))))

    def scores(self, s: np.ndarray) -> np.ndarray:
        """Scores as the max is taken over them: s·c (base e), s itself (base 2: the scale is folded in later)."""
        return self.ar.mul(s, self.c) if self.cfg.base == "e" else s

    def args(self, t: np.ndarray, m: np.ndarray) -> np.ndarray:
        """The exponent of P for scores t (as `scores` returns them) under the running max m (B, 1)."""
        if self.cfg.base == "e":
            return self.ar.sub(t, m)
        shifted = self.ar.mul(m, self.c)
        if self.cfg.p_offset:
            shifted = self.ar.sub(shifted, float(self.cfg.p_offset))
        return fma(self.ar, t, self.c, -shifted)

    def exp(self, a: np.ndarray, vector: bool) -> np.ndarray:
        if self.cfg.base == "2":
            return self.exp2(a)
        e = VECTOR_EXPS[self.cfg.exp](a) if vector and self.cfg.exp != "exact" else self.ar.exp(a)
        return self.ar.mul(e, 2.0 ** self.cfg.p_offset) if self.cfg.p_offset else e

    def exp2(self, a: np.ndarray) -> np.ndarray:
        """exp2 correctly rounded: the exact value 2^a = e^(a·ln 2) rounded once."""
        a = np.asarray(a, dtype=np.float64)
        whole = np.isfinite(a) & (a == np.round(a))  # exact powers of two (2^0 = 1 among them)
        with np.errstate(all="ignore"):
            out = np.where(whole, np.ldexp(1.0, np.clip(np.nan_to_num(a), -2000, 2000).astype(np.int64)), 0.0)
        rest = np.isfinite(a) & ~whole
        if rest.any():
            out[rest] = _exp2_rounded(self.ar, a[rest])
        out[a == np.inf] = np.inf
        return self.ar.fmt.round_array(out)

    def exponent_gap(self, bmax: np.ndarray, m: np.ndarray) -> np.ndarray:
        """How far a block's max is above the running max, in the exponent's units (base 2: (bmax − m)·c·log₂e)."""
        with np.errstate(all="ignore"):
            d = self.ar.sub(bmax, m)
        return self.ar.mul(d, self.c) if self.cfg.base == "2" else d

    def alpha(self, m_old: np.ndarray, m_new: np.ndarray) -> np.ndarray:
        """The rescale factor exp(m_old − m_new) (0 while m_old is −inf)."""
        with np.errstate(all="ignore"):
            d = self.ar.sub(m_old, m_new)
        d = np.where(m_old == m_new, 0.0, d)  # −inf − (−inf): no move, α = 1
        if self.cfg.base == "2":
            return self.exp2(self.ar.mul(d, self.c))
        return self.ar.exp(d)


def _exp2_rounded(ar: Arithmetic, a: np.ndarray) -> np.ndarray:
    """2^a rounded once to the format (≤ 26 bits): libm's float64 exp2 ± a band of 2^-48 (far above its error)
    rounds to one value for nearly every a; the rest are rounded exactly through mpmath's interval arithmetic."""
    import mpmath
    fmt = ar.fmt
    with np.errstate(all="ignore"):
        y = np.exp2(a)
        band = y * 2.0 ** -48
        out, lo, hi = fmt.round_array(y), fmt.round_array(y - band), fmt.round_array(y + band)
    unsure = lo != hi
    if unsure.any():
        values, inverse = np.unique(a[unsure], return_inverse=True)
        exact = [float(fmt.round_function(lambda iv, x: iv.exp(x * iv.log(2)), mpmath.mpf(float(v)))) for v in values]
        out[unsure] = np.array(exact)[inverse.reshape(-1)]
    return out


def _check_rows(x, dtype: str) -> tuple[np.ndarray, Arithmetic]:
    io = arithmetic(dtype)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 1:
        raise InputError("scores", f"expected (B, L) rows of scores, got shape {x.shape}")
    if not np.array_equal(io.fmt.round_array(x), x, equal_nan=True):
        raise InputError("scores", f"must be values of {dtype} (round them first)")
    return x, io


def attention_weights(x, dtype: str, cfg: OnlineSoftmax = TORCH_CPU_FLASH) -> np.ndarray:
    """The attention rows (B, L) an online-softmax kernel returns for rows of scores x (values of `dtype`, float64
    carriers) when V is the identity: each weight as the kernel rounds it to `dtype`."""
    x, io = _check_rows(x, dtype)
    st, ar = Step(cfg), arithmetic(cfg.accumulate)
    t_all = st.scores(ar.convert(x, io))
    rows, keys = x.shape
    m = np.full((rows, 1), cfg.max_start)
    total, out = np.zeros(rows), np.zeros((rows, keys))
    for j in range(0, keys, cfg.block):
        t = t_all[:, j:j + cfg.block]
        bmax = np.max(t, axis=1, keepdims=True)
        grow = (st.exponent_gap(bmax, m) > cfg.rescale_threshold) | np.isinf(m)
        m_new = np.where(grow, np.maximum(bmax, m), m)
        body = t.shape[1] - t.shape[1] % cfg.lanes
        a = st.args(t, m_new)
        p = np.concatenate([st.exp(a[:, :body], True), st.exp(a[:, body:], False)], axis=1)
        rp = round_p(cfg, p, io)
        block_sum = lane_sum(ar, rp if cfg.sum_of == "rounded_p" else p, cfg.lanes)
        alpha = st.alpha(m[:, 0], m_new[:, 0])
        total = fma(ar, alpha, total, block_sum) if cfg.fused_update else ar.add(block_sum, ar.mul(alpha, total))
        if j:
            out[:, :j] = ar.mul(out[:, :j], alpha[:, None])
        out[:, j:j + cfg.block] = rp  # P·V with V = I: each weight lands in its own column, exactly
        m = m_new
    return io.convert(divide(cfg, ar, out, total), ar)


def divide(cfg: OnlineSoftmax, ar: Arithmetic, out: np.ndarray, total: np.ndarray) -> np.ndarray:
    """O / l as the kernel finishes; a row whose sum is 0 (every P flushed, or masked) returns zeros."""
    safe = np.where(total == 0, 1.0, total)
    with np.errstate(all="ignore"):
        if cfg.division == "reciprocal":
            return ar.mul(out, ar.div(np.ones_like(safe), safe)[:, None])
        return ar.div(out, safe[:, None])
