"""scaled_dot_product_attention rows that are exactly one-hot, per backend, dtype and sequence length.

Every figure is checked with torch itself: a query built here, `sdpa_kernel` choosing the backend, at the measured
score gap and one grid step below it.
"""
import warnings

import numpy as np
import pytest

from precision.common.errors import InputError
from precision.formats.dtypes import DTYPES
from precision.kernels.attention import (
    attention_rows,
    attention_thresholds,
    available_backends,
)
from tests.precision.cpu_path import on_this_path

torch = pytest.importorskip("torch")
F = pytest.importorskip("torch.nn.functional")
attention = pytest.importorskip("torch.nn.attention")


def _sdpa_row(backend: str, dtype: str, seq_len: int, gap: float) -> np.ndarray:
    """torch called directly: 64 queries (gap, 0, …) over keys = values = identity, scale 1; the first row."""
    t = getattr(torch, dtype)
    q = torch.zeros(1, 1, 64, seq_len, dtype=t)
    q[..., 0] = gap
    eye = torch.eye(seq_len, dtype=t)[None, None]
    if backend == "unfused":
        return (torch.softmax(q @ eye.transpose(-2, -1), dim=-1) @ eye)[0, 0, 0].double().numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with attention.sdpa_kernel([getattr(attention.SDPBackend, backend.upper())]):
            return F.scaled_dot_product_attention(q, eye, eye, scale=1.0)[0, 0, 0].double().numpy()


def _below(dtype, gap):
    d = DTYPES[dtype]
    return float(d.values(d.index(np.array([gap])) - 1)[0])


def test_the_output_row_is_the_attention_row():
    rng = np.random.default_rng(0)
    q = torch.from_numpy(rng.normal(0, 3, (1, 1, 5, 64)))
    eye = torch.eye(64, dtype=torch.float64)[None, None]
    out = F.scaled_dot_product_attention(q, eye, eye, scale=1.0)
    torch.testing.assert_close(out, torch.softmax(q, dim=-1), rtol=0, atol=1e-15)
    rows = attention_rows(np.array([0.0, 3.0]), "float64", 4, "math")
    torch.testing.assert_close(torch.from_numpy(rows), torch.softmax(torch.tensor([[0.0, 0, 0, 0], [3, 0, 0, 0]],
                                                                                  dtype=torch.float64), dim=-1))


def test_the_cpu_offers_math_and_flash_attention():
    for d in ("float16", "bfloat16", "float32"):
        assert {"math", "flash_attention"} <= set(available_backends(d))


# backend, dtype, L, top weight exactly 1 from, every other weight exactly 0 from (= one-hot from)
FIGURES = [
    ("unfused", "float16", 2, 8.3203125, 17.34375), ("math", "float16", 2, 8.3203125, 17.34375),
    ("flash_attention", "float16", 16, 10.828125, 17.34375), ("math", "float16", 16, 11.03125, 17.34375),
    ("flash_attention", "float16", 128, 12.96875, 17.34375), ("math", "float16", 128, 13.1640625, 17.34375),
    ("unfused", "bfloat16", 2, 6.25, 93.0), ("unfused", "bfloat16", 16, 9.0, None),
    ("math", "bfloat16", 2, 6.25, 93.0),
    ("flash_attention", "bfloat16", 128, 11.0625, 87.5), ("math", "bfloat16", 128, 11.125, 93.0),
    ("unfused", "bfloat16", 1024, 13.1875, None),
    ("math", "float32", 128, 20.794416427612305, 103.97208404541016),
    ("flash_attention", "float32", 128, 20.794416427612305, 86.98997497558594),
    ("flash_attention", "float32", 1024, 22.873857498168945, 86.98997497558594),
]


# torch.softmax in bfloat16 with 16 or more keys, one-hot from: measured per CPU path (AVX2 keeps the rivals' tiny
# weights as bfloat16 subnormals up to 93, as the math backend does)
UNFUSED_BF16_ONE_HOT = {"AVX512": 87.5, "AVX2": 93.0}


@pytest.mark.parametrize("backend, dtype, seq_len, top_one, one_hot", FIGURES,
                         ids=[f"{b}-{d}-L{n}" for b, d, n, *_ in FIGURES])
def test_one_hot_from_the_measured_gap_and_not_one_step_below(backend, dtype, seq_len, top_one, one_hot):
    one_hot = one_hot or on_this_path(UNFUSED_BF16_ONE_HOT)
    assert _sdpa_row(backend, dtype, seq_len, top_one)[0] == 1.0
    assert _sdpa_row(backend, dtype, seq_len, _below(dtype, top_one))[0] < 1.0
    row = _sdpa_row(backend, dtype, seq_len, one_hot)
    assert row[0] == 1.0 and (row[1:] == 0).all()
    assert (_sdpa_row(backend, dtype, seq_len, _below(dtype, one_hot))[1:] > 0).all()


@pytest.mark.parametrize("backend, dtype, seq_len", [("flash_attention", "float16", 16), ("math", "bfloat16", 2),
                                                     ("flash_attention", "float32", 128), ("unfused", "bfloat16", 16)])
def test_the_scan_finds_the_figures(backend, dtype, seq_len):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = attention_thresholds(backend, dtype, seq_len)
    row = _sdpa_row(backend, dtype, seq_len, t.top_one_from_gap)
    assert row[0] == 1.0 and _sdpa_row(backend, dtype, seq_len, _below(dtype, t.top_one_from_gap))[0] < 1.0
    assert t.one_hot_from_gap == t.others_zero_from_gap >= t.top_one_from_gap
    known = {(b, d, n): (a, z or on_this_path(UNFUSED_BF16_ONE_HOT)) for b, d, n, a, z in FIGURES}
    if (backend, dtype, seq_len) in known:
        assert (t.top_one_from_gap, t.one_hot_from_gap) == known[backend, dtype, seq_len]


def test_bad_input_names_the_argument():
    with pytest.raises(InputError, match="backend"):
        attention_rows(np.array([1.0]), "float32", 4, "tf")
    with pytest.raises(InputError, match="seq_len"):
        attention_rows(np.array([1.0]), "float32", 1)
    with pytest.raises(InputError, match="dtype"):
        attention_thresholds("math", "float8_e4m3fn", 4)
