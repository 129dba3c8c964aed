"""`largest_partner`: which partial sums a softmax's running sum meets, per summation order, checked against the sum
`total` actually performs, and the vector loops it describes against torch's kernels on the path they were measured on.
"""
import numpy as np
import pytest

from precision.emulated.algorithms import Order, largest_partner, total
from tests.precision.cpu_path import on_this_path

TOP = 2.0 ** 60  # the top's term: anything added to it is lost, which marks the partial sums holding it


class MeetingRecorder:
    """Adds as `total` asks and records, per row, the largest addend met by the partial sum holding TOP."""

    def __init__(self, rows: int):
        self.met = np.zeros(rows)

    def add(self, a, b):
        a, b = np.broadcast_arrays(a, b)
        for holder, other in ((a, b), (b, a)):
            met = np.where(holder >= TOP, other, 0)
            self.met = np.maximum(self.met, met if met.ndim == 1 else met.max(axis=1))
        return a + b

    def sum_sequential(self, cols):
        s = cols[:, 0]
        for j in range(1, cols.shape[1]):
            s = self.add(s, cols[:, j])
        return s


@pytest.mark.parametrize("order", ["sequential", "max_first", "max_last", "pairwise", "vector8", "vector4"])
@pytest.mark.parametrize("classes", [2, 3, 7, 8, 9, 16, 37, 100])
def test_largest_partner_is_the_largest_sum_the_top_meets(order: Order, classes):
    rng = np.random.default_rng(classes)
    terms = rng.uniform(0, 1, (40, classes)) * 2.0 ** rng.integers(-8, 8, (40, classes))
    top = rng.integers(0, classes, 40)
    terms[np.arange(40), top] = 0
    with_top = terms.copy()
    with_top[np.arange(40), top] = TOP
    recorder = MeetingRecorder(40)
    total(recorder, with_top, with_top, order)  # the order's own code; `with_top` as logits places the top
    np.testing.assert_allclose(largest_partner(terms, top, order), recorder.met, rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype, half_ulp", [("float32", 2.0 ** -24), ("float64", 2.0 ** -53)])
@pytest.mark.parametrize("classes, top", [(16, 0), (16, 5), (16, 7), (21, 13)])
def test_torch_adds_up_the_rivals_its_model_says(dtype, half_ulp, classes, top):
    """Two rivals of weight 0.6·(half an ulp of 1) each: absorbed one at a time, the top output stays exactly 1;
    added to each other first, they are not absorbed. Which pairs add up first is the loop's structure."""
    torch = pytest.importorskip("torch")
    on_this_path({"AVX2": None})
    from precision.kernels.backends.pytorch import softmax_model
    order = softmax_model(dtype).order
    pairs = [(a, b) for a in range(classes) for b in range(a + 1, classes) if top not in (a, b)]
    logits = np.full((len(pairs), classes), -1e30)
    terms = np.zeros((len(pairs), classes))
    for i, pair in enumerate(pairs):
        logits[i, pair] = 0.0
        terms[i, pair] = 0.6 * half_ulp
    logits[:, top] = -np.log(0.6 * half_ulp)
    p = torch.softmax(torch.tensor(logits, dtype=getattr(torch, dtype)), -1).double().numpy()
    one = p[:, top] == 1
    predicted = largest_partner(terms, np.full(len(pairs), top), order) <= half_ulp
    assert one.any() and (~one).any()  # both cases occur, so the comparison can fail
    np.testing.assert_array_equal(one, predicted)
