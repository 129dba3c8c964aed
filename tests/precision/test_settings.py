"""Vocabulary presets, temperature, soft-capping and z-loss: where saturation starts, every figure checked with torch
on the row at the gap (or cap) and the row one grid step below it."""
import math

import numpy as np
import pytest

from precision.common.errors import InputError
from precision.formats.dtypes import DTYPES
from precision.kernels.scan import kernel_thresholds
from precision.kernels.settings import VOCABULARIES, Z_LOSS, largest_safe_cap, raw_gap_for, setting, top_one_gap
from tests.precision.cpu_path import on_this_path

torch = pytest.importorskip("torch")

SOFTMAX = lambda x: torch.softmax(x, dim=-1)  # noqa: E731
LOG_SOFTMAX = lambda x: torch.log_softmax(x, dim=-1)  # noqa: E731

# the README's table: the gap from which torch's top output is exactly 1 (log_softmax: exactly 0), M − 1 equal rivals,
# per CPU path (the README's figures are AVX512's)
PATH_PRESETS = {"AVX512": {
    ("torch", "float16"): [18.640625, 19.078125, 20.015625, 20.1875, 20.71875, 20.734375],
    ("torch", "bfloat16"): [16.75, 17.0, 18.0, 18.125, 18.625, 18.75],
    ("torch", "float32"): [26.315889358520508, 26.76724624633789, 27.704214096069336, 27.873680114746094,
                           28.3953914642334, 28.419034957885742],
    ("torch-log", "float16"): [17.96875, 18.421875, 19.359375, 19.53125, 20.046875, 20.078125],
    ("torch-log", "bfloat16"): [15.9375, 16.5, 17.375, 17.5, 18.0, 18.0],
    ("torch-log", "float32"): [26.315889358520508, 26.76724624633789, 27.704214096069336, 27.873680114746094,
                               28.3953914642334, 28.419034957885742],
}, "AVX2": {
    ("torch", "float16"): [18.5625, 19.015625, 19.953125, 20.125, 20.640625, 20.671875],
    ("torch", "bfloat16"): [16.75, 17.0, 17.875, 18.125, 18.625, 18.625],
    ("torch", "float32"): [26.31583023071289, 26.7673397064209, 27.704153060913086, 27.87346839904785,
                           28.394914627075195, 28.419034957885742],
    ("torch-log", "float16"): [17.9375, 18.390625, 19.328125, 19.5, 20.015625, 20.046875],
    ("torch-log", "bfloat16"): [15.9375, 16.5, 17.25, 17.5, 18.0, 18.0],
    ("torch-log", "float32"): [26.31583023071289, 26.7673397064209, 27.704153060913086, 27.87346839904785,
                               28.394914627075195, 28.419034957885742],
}}
# T = 0.7 at 128,256 classes (the README's figures): the raw gap from which torch's top output is exactly 1
PATH_AT_0_7 = {"AVX512": {"float32": 19.3929500579834, "bfloat16": 12.5625},
               "AVX2": {"float32": 19.392906188964844, "bfloat16": 12.5}}


@pytest.fixture
def presets():
    return on_this_path(PATH_PRESETS)


def _below(dtype, v):
    d = DTYPES[dtype]
    return float(d.values(d.index(np.array([v])) - 1)[0])


def _above(dtype, v):
    d = DTYPES[dtype]
    return float(d.values(d.index(np.array([v])) + 1)[0])


def _top(kernel, dtype, vocab, top, rival=0.0, transform=None):
    """torch's top output of the row (top, rival, …, rival) in the dtype, after `transform` (temperature, cap)."""
    x = torch.full((1, vocab), rival, dtype=getattr(torch, dtype))
    x[0, 0] = top
    if transform is not None:
        x = transform(x)
    return float((SOFTMAX if kernel == "torch" else LOG_SOFTMAX)(x)[0, 0])


def _one(kernel):
    return 1.0 if kernel == "torch" else 0.0


@pytest.mark.parametrize("kernel, dtype", list(PATH_PRESETS["AVX512"]))
def test_vocabulary_presets_saturate_from_the_tabled_gap(kernel, dtype, presets):
    for vocab, gap in zip(VOCABULARIES, presets[kernel, dtype]):
        assert _top(kernel, dtype, vocab, gap) == _one(kernel)
        assert _top(kernel, dtype, vocab, _below(dtype, gap)) != _one(kernel), (vocab, gap)


def test_the_fast_onset_agrees_with_the_kernel_scan(presets):
    for kernel, dtype, m in [("torch", "bfloat16", 2), ("torch", "float32", 1000), ("torch-log", "float16", 1000)]:
        assert top_one_gap(kernel, dtype, m) == kernel_thresholds(kernel, dtype, m).top_is_one_from_gap
    assert top_one_gap("torch", "bfloat16", 128256) == presets["torch", "bfloat16"][2]


@pytest.mark.parametrize("dtype, temperature", [("float32", 0.7), ("float32", 2.0), ("bfloat16", 0.7),
                                                ("bfloat16", 1.5), ("float16", 0.3)])
def test_temperature_divides_the_gap(dtype, temperature, presets):
    g = presets["torch", dtype][2]  # 128,256 classes
    s = setting("torch", dtype, 128256, temperature, kernel_gap=g)
    assert s.raw_gap == raw_gap_for(dtype, g, temperature)
    assert math.isclose(s.raw_gap, g * temperature, rel_tol=2 ** -6)
    by_t = lambda x: x / temperature  # noqa: E731
    assert _top("torch", dtype, 128256, s.raw_gap, transform=by_t) == 1.0
    assert _top("torch", dtype, 128256, _below(dtype, s.raw_gap), transform=by_t) < 1.0
    if temperature == 2.0:
        assert s.raw_gap == 2 * g
    if temperature == 0.7:  # the README's figures
        assert s.raw_gap == on_this_path(PATH_AT_0_7)[dtype]


def _cap(c):
    return lambda x: c * torch.tanh(x / c)


@pytest.mark.parametrize("kernel, dtype, vocab_index", [("torch", "bfloat16", 4), ("torch", "float32", 5),
                                                        ("torch", "float16", 2), ("torch-log", "bfloat16", 2),
                                                        ("torch", "bfloat16", 2)])
def test_a_cap_of_30_does_not_prevent_saturation_and_the_largest_safe_cap_does(kernel, dtype, vocab_index, presets):
    vocab, g = list(VOCABULARIES)[vocab_index], presets[kernel, dtype][vocab_index]
    assert max(max(v) for v in presets.values()) < 60  # a cap of 30 prevents it at no preset
    s30 = setting(kernel, dtype, vocab, softcap=30.0, kernel_gap=g)
    assert s30.max_gap_under_cap == 60.0 and not s30.cap_prevents_top_one
    assert s30.min_raw_gap_under_cap == pytest.approx(60 * math.atanh(g / 60))
    far = float(DTYPES[dtype].format.max_finite) / 4  # tanh rounds to ±1: the capped gap is 2c exactly
    assert _top(kernel, dtype, vocab, far, -far, _cap(30.0)) == _one(kernel)
    safe = s30.largest_safe_cap
    assert safe == largest_safe_cap(dtype, g) == _below(dtype, g / 2)
    assert setting(kernel, dtype, vocab, softcap=safe, kernel_gap=g).cap_prevents_top_one
    assert _top(kernel, dtype, vocab, far, -far, _cap(safe)) != _one(kernel)
    assert not setting(kernel, dtype, vocab, softcap=_above(dtype, safe), kernel_gap=g).cap_prevents_top_one
    assert _top(kernel, dtype, vocab, far, -far, _cap(_above(dtype, safe))) == _one(kernel)


def test_z_loss_moves_the_logits_not_the_threshold(presets):
    assert "shift-invariant" in Z_LOSS and "does not bound" in Z_LOSS
    g = presets["torch", "float32"][2]
    # a z-loss-normalised row (log Z ≈ 0: top near 0, rivals at −gap) saturates from the same gap
    assert _top("torch", "float32", 128256, 0.0, -g) == 1.0
    assert _top("torch", "float32", 128256, 0.0, -_below("float32", g)) < 1.0


def test_bad_settings_name_the_argument():
    with pytest.raises(InputError, match="temperature"):
        setting("torch", "float32", 10, temperature=0.0, kernel_gap=1.0)
    with pytest.raises(InputError, match="softcap"):
        setting("torch", "float32", 10, softcap=-1.0, kernel_gap=1.0)
    with pytest.raises(InputError, match="vocab"):
        setting("torch", "float32", 1, kernel_gap=1.0)


@pytest.mark.parametrize("dtype", ["float8_e4m3fn", "float8_e5m2", "bfloat16", "float16"])
@pytest.mark.parametrize("gap, temperature", [(0.5, 0.001), (5.5625, 0.05), (16.6355, 0.7), (27.7, 2.0)])
def test_temperature_and_cap_searches_agree_with_every_value_of_the_dtype(dtype, gap, temperature):
    """The searches against their definitions, checked over every non-negative value of a small dtype (a quotient
    with no value in the dtype — float8 e4m3fn has no infinity — counts as past the gap)."""
    d = DTYPES[dtype]
    v = d.values(np.arange(d.max_index + 1)).astype(np.float64)
    with np.errstate(over="ignore"):  # torch's quotient: the temperature in float32, the division in float32
        q = d.cast(v.astype(np.float32) / np.float32(temperature)).astype(np.float64)
    past = ~(q < gap)
    assert raw_gap_for(dtype, gap, temperature) == v[np.argmax(past)]
    safe = 2 * q < gap
    assert largest_safe_cap(dtype, gap, temperature) == v[:d.max_index][safe[:d.max_index]].max()
