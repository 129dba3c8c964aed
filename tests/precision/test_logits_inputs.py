"""`saturation_of` (and every analysis on its engine) names the argument for input NumPy would otherwise turn into
numbers or raw errors: a string or None in an object array, booleans, ragged rows."""
from fractions import Fraction

import numpy as np
import pytest

from precision.common.errors import InputError
from precision.logits.rows import saturation_of


@pytest.mark.parametrize("bad, message", [
    (np.array([[1.0, "a"]], dtype=object), r"logits: holds 'a' at \[0, 1\]"),
    ([[1.0, None], [2.0, 0.0]], r"logits: holds None at \[0, 1\]"),  # would have been a NaN row
    ([[True, False]], "logits: booleans are not logits"),
    (np.array([[1.0, True]], dtype=object), r"logits: holds True at \[0, 1\]"),
    ([[1.0, 2.0], [1.0]], "logits: rows of different lengths"),
])
def test_input_numpy_would_misread_is_refused_naming_the_argument(bad, message):
    with pytest.raises(InputError, match=message):
        saturation_of(bad, ("float32",), "numpy")


def test_exact_numbers_in_an_object_array_are_still_logits():
    s = saturation_of(np.array([[Fraction(30), Fraction(0)]], dtype=object), ("float32",), "numpy")["float32"]
    assert s.top_is_one.tolist() == [True]
