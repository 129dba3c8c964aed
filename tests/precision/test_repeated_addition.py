"""The closed form of a repeated rounded addition (precision.formats.repeated_addition) and the object path's
one-evaluation-per-distinct-object shortcuts: each against the term-by-term rounded additions it replaces, and the
thresholds they give against the thresholds computed term by term."""
from __future__ import annotations

import numpy as np
import pytest

import precision.formats.arithmetic as arithmetic_module
from precision.emulated.algorithms import online
from precision.emulated.thresholds import thresholds
from precision.formats.arithmetic import Arithmetic, per_distinct
from precision.formats.named_formats import BUILTIN, get_format
from precision.formats.repeated_addition import add_repeatedly, constant_tail
from precision.formats.rounding import ROUNDING_MODES

CARRIED = [name for name, f in BUILTIN.items() if f.precision <= 26]


def term_by_term(ar: Arithmetic, s: np.ndarray, t: np.ndarray, count: int) -> np.ndarray:
    for _ in range(count):
        s = ar.add(s, t)
    return s


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


@pytest.mark.parametrize("name", CARRIED)
@pytest.mark.parametrize("mode", ROUNDING_MODES)
def test_closed_form_equals_the_rounded_additions(name, mode):
    fmt = get_format(f"{name}@{mode}")
    ar = Arithmetic(fmt)
    rng = np.random.default_rng(7)
    n = 120
    si = rng.integers(0, fmt.max_index + 1, n)
    ti = np.maximum(0, si - rng.integers(0, 6 << (fmt.precision - 1), n))  # terms a few binades below the sum
    ti[: n // 4] = rng.integers(0, fmt.max_index + 1, n // 4)  # and anywhere
    s, t = fmt.values_at(si), fmt.values_at(ti)
    s[:4], t[4:8], s[8:10] = 0, 0, np.nan
    s[10:30] = -s[10:30]  # negative sums are added term by term
    one = float(fmt.round(1))
    s[30:40], t[30:40] = one, float(fmt.epsilon) / 2 * np.arange(1, 11)  # ties and near-ties at 1
    s[40:44], t[40:44] = float(fmt.max_finite), t[40:44] + float(fmt.epsilon)  # at the overflow
    for count in (1, 9, 100):
        assert same(add_repeatedly(fmt, s, t, count, ar.add), term_by_term(ar, s, t, count)), (name, mode, count)


def test_a_wrong_closed_form_is_caught():
    fmt = get_format("bfloat16@toward-zero")
    ar = Arithmetic(fmt)
    s, t = np.array([1.0]), np.array([2.0**-7])
    assert add_repeatedly(fmt, s, t, 100, ar.add)[0] == term_by_term(ar, s, t, 100)[0] == 1 + 100 * 2.0**-7
    assert not same(add_repeatedly(fmt, s, t, 100, ar.add), term_by_term(ar, s, t, 99))


def test_constant_tail():
    assert constant_tail(np.array([[1.0, 2, 2, 2], [3, 4, 5, 5]])) == 2
    assert constant_tail(np.array([[1.0, 1, 1]])) == 0
    assert constant_tail(np.array([[1.0, 2]])) == 1


@pytest.mark.parametrize("name", ["float16@toward-zero", "float8_e4m3fn@nearest-away", "float64@toward-negative",
                                  "float64@to-odd"])
def test_sums_with_an_equal_tail_equal_the_sums_term_by_term(name):
    ar = Arithmetic(get_format(name))
    rng = np.random.default_rng(2)
    cols = ar.array(np.concatenate([rng.random((3, 4)) * 4, np.repeat(rng.random((3, 1)) / 8, 40, axis=1)], axis=1))
    expected = cols[:, 0]
    for j in range(1, cols.shape[1]):
        expected = ar.add(expected, cols[:, j])
    assert list(ar.sum_sequential(cols)) == list(expected)


@pytest.mark.parametrize("name", ["bfloat16@toward-zero", "float16@nearest-away", "float32@toward-negative",
                                  "float8_e5m2@to-odd", "float64@toward-zero"])
def test_thresholds_equal_the_thresholds_summed_term_by_term(name, monkeypatch):
    classes = 120
    fast = thresholds(name, "shifted", classes, exhaustive=False).as_dict()
    monkeypatch.setattr(arithmetic_module, "MIN_REPEATS", 10**9)  # every sum term by term
    arithmetic_module._arithmetic_of.cache_clear()
    slow = thresholds(name, "shifted", classes, exhaustive=False).as_dict()
    arithmetic_module._arithmetic_of.cache_clear()
    assert fast == slow


def test_per_distinct_equals_the_elementwise_operation():
    fmt = get_format("decimal5")
    a = np.array([fmt.round(1), fmt.round(2)] * 40, dtype=object)
    a[5] = fmt.round(1)  # an equal value in another object
    b = np.array([fmt.round(3)] * 80, dtype=object)
    op = np.frompyfunc(fmt.add, 2, 1)
    assert list(per_distinct(op, a, b)) == list(op(a, b))


@pytest.mark.parametrize("name", ["bfloat16@toward-zero", "float16@nearest-away", "float8_e5m2@to-odd", "float32",
                                  "float64@toward-negative"])
def test_online_equals_its_loop_written_out(name):
    ar = Arithmetic(get_format(name))
    rng = np.random.default_rng(4)
    rows = np.zeros((12, 60))
    rows[:6, 0] = rng.random(6) * 40  # the top first, equal rivals: the max never moves again
    rows[6:9] = rng.normal(size=(3, 60)) * 3  # the max moves anywhere
    rows[9:, -1] = 25.0  # the top last
    u = ar.array(rows)
    m = np.maximum.accumulate(u, axis=1)  # Milakov & Gimelshein's loop, every scale multiplied in
    scale, term = ar.exp(ar.sub(np.concatenate([u[:, :1], m[:, :-1]], axis=1), m)), ar.exp(ar.sub(u, m))
    d = term[:, 0]
    for j in range(1, u.shape[1]):
        d = ar.add(ar.mul(d, scale[:, j]), term[:, j])
    expected = ar.div(ar.exp(ar.sub(u, m[:, -1:])), d[:, None])
    got = online(ar, u, "sequential")
    assert np.array_equal(np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64), equal_nan=True)
