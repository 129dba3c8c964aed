"""Softmax algorithms: emulation against NumPy and torch, bad input, the accumulate/order parameters."""
from fractions import Fraction

import numpy as np
import pytest

from precision.emulated.algorithms import ALGORITHMS, softmax
from precision.formats.arithmetic import Arithmetic
from precision.kernels.registry import native_softmax

torch = pytest.importorskip("torch")


def rows(fmt, n=400, m=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 4, (n, m)) * rng.choice([1, 1, 8], (n, 1))
    return Arithmetic(fmt).fmt.round_array(x)


def ulps(a, b, dtype):
    """Distance in units in the last place between two arrays of dtype values."""
    ia = np.abs(a.astype(dtype)).view(np.int32 if dtype == np.float32 else np.int16).astype(np.int64)
    ib = np.abs(b.astype(dtype)).view(np.int32 if dtype == np.float32 else np.int16).astype(np.int64)
    return np.abs(ia - ib)


def test_float16_numpy_softmax_equals_emulation_bit_for_bit():
    """NumPy's float16 softmax: x − max and exp rounded to half (exp through float32, innocuous here), but
    the sum accumulates in float32 before its one rounding to half. Emulated step by step, bit for bit."""
    u = rows("float16")
    h, s = Arithmetic("float16"), Arithmetic("float32")
    e = h.exp(h.sub(u, u.max(axis=1, keepdims=True)))
    total = h.convert(s.sum_sequential(e), s)  # M ≤ 8: NumPy sums sequentially
    assert np.array_equal(native_softmax(u, "numpy", "float16"), h.div(e, total[:, None]))
    # the all-half emulation differs exactly through that sum
    assert not np.array_equal(native_softmax(u, "numpy", "float16"), softmax(u, "float16", "shifted"))


@pytest.mark.parametrize("backend, algorithm", [("numpy", "shifted"), ("torch", "shifted_reciprocal")])
def test_float32_native_backends_within_stated_ulps(backend, algorithm):
    """float32 libraries use a vectorised exp that is not correctly rounded (≤ 1–2 ulp in practice):
    results may differ from the emulation by a few ulps, not more."""
    u = rows("float32", m=7)
    native, emulated = native_softmax(u, backend, "float32"), softmax(u, "float32", algorithm)
    assert ulps(native, emulated, np.float32).max() <= 4
    assert (native == emulated).mean() > 0.5


@pytest.mark.parametrize("p", [native_softmax, softmax])
def test_division_free_forms_lose_accuracy_in_proportion_to_the_exponent(p):
    """exp(x) with x rounded to float32 carries a relative error up to half an ulp of x's inputs from x alone:
    torch's exp((u − m) − log s) and our exp(u − (m + log s)) both stay within (|u| + |lse| + 4)·2^-23."""
    u = rows("float32", m=7)
    got = p(u, "torch_log", "float32") if p is native_softmax else p(u, "float32", "logsumexp")
    exact = softmax(u, "float64", "shifted")
    lse = np.log(np.exp(u - u.max(1, keepdims=True)).sum(1, keepdims=True)) + u.max(1, keepdims=True)
    assert np.all(np.abs(got - exact) <= (np.abs(u) + np.abs(lse) + 4) * 2.0**-23 * exact + 2.0**-149)


def test_torch_float16_with_float32_upcast_equals_emulated_accumulation():
    u = rows("float16", m=6)
    native = native_softmax(u, "torch", "float16", upcast="float32")
    emulated = softmax(u, "float16", "shifted_reciprocal", accumulate="float32")
    assert ulps(native, emulated, np.float16).max() <= 1


def test_float16_saturates_where_float32_accumulation_does_not():
    u = [[9.0, 0.0]]
    assert softmax(u, "float16", "shifted")[0, 0] == 1.0
    assert softmax(u, "float32", "shifted")[0, 0] < 1.0


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize("fmt", ["float32", "mp64", "decimal8", "delta0.001"])
def test_algorithms_agree_with_the_exact_softmax_to_format_accuracy(algorithm, fmt):
    u = [Fraction(3), Fraction(1, 2), Fraction(-2), Fraction(1)]
    exact = np.exp(np.array([3, 0.5, -2, 1.0])) / np.exp(np.array([3, 0.5, -2, 1.0])).sum()
    got = Arithmetic(fmt).to_float(softmax(u, fmt, algorithm))
    assert np.allclose(got, exact, atol=2e-3 if fmt.startswith("delta") else 1e-6)


@pytest.mark.parametrize("order, exceeds", [("sequential", True), ("max_first", True), ("max_last", False)])
def test_outputs_can_sum_to_more_than_one(order, exceeds):
    """Top first: the sum absorbs every tiny term, the top output is 1 and the others are not 0."""
    p = softmax([[17.0] + [0.0] * 999], "float32", "shifted", order=order)
    assert (sum(Fraction(float(v)) for v in p[0]) > 1) == exceeds


def test_order_matters_for_many_small_terms():
    """Top first: every tiny e^−g is absorbed by 1. Top last: the 999 tiny terms add up first."""
    u = [[17.5] + [0.0] * 999]
    assert softmax(u, "float32", "shifted", order="max_first")[0, 0] == 1.0
    assert softmax(u, "float32", "shifted", order="max_last")[0, 0] < 1.0


def test_naive_overflow_is_a_finding_not_an_error():
    assert np.isnan(softmax([100.0, 0.0], "float16", "naive")[0])


@pytest.mark.parametrize("bad, message", [
    ([], "must not be empty"), (3.0, "0-d"), ([[[1.0]]], "shape"), ([1.0, float("nan")], "finite"),
    ([np.inf, 0.0], "finite")])
def test_bad_logits_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        softmax(bad, "float32")


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="algorithm: unknown"):
        softmax([1.0, 2.0], "float32", "fast")
    with pytest.raises(ValueError, match="order: unknown"):
        softmax([1.0, 2.0], "float32", order="random")
    with pytest.raises(ValueError, match="kernel: unknown 'tensorflow'"):
        native_softmax([1.0, 2.0], "tensorflow")


def test_check_logits_keeps_exact_values_as_objects_and_numbers_as_float64():
    from precision.emulated.algorithms import check_logits
    exact = check_logits([[Fraction(1, 3), Fraction(2)]])
    assert exact.dtype == object and exact[0, 0] == Fraction(1, 3)  # never rounded to a float
    assert check_logits(np.array([[Fraction(1, 3), 2]], dtype=object)).dtype == object
    for given in (np.array([[1.5, -2.0]], dtype=np.float32), np.array([[3, 4]]), [[1.5, -2.0]]):
        a = check_logits(given)
        assert a.dtype == np.float64 and a.tolist() == np.asarray(given, dtype=np.float64).tolist()
