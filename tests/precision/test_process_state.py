"""Library calls leave the process as they found it: JAX's 64-bit mode, mpmath's precisions, quiet by default."""
import mpmath
import numpy as np
import pytest

import precision


def test_a_jax_kernel_call_leaves_jax_in_32_bit_mode():
    jax = pytest.importorskip("jax")
    before = jax.config.jax_enable_x64
    p = precision.get_kernel("jax")(np.array([[1.0, 2.0]]), "float64")
    assert p.dtype == np.float64  # computed in float64 inside the call …
    assert jax.config.jax_enable_x64 == before  # … and the process's setting untouched
    assert jax.numpy.asarray(np.array([1.0])).dtype == (np.float64 if before else np.float32)


def test_correctly_rounded_functions_leave_mpmath_precisions_alone():
    mp, iv = mpmath.mp.prec, mpmath.iv.prec
    precision.get_format("float64").exp(mpmath.mpf(3))
    precision.thresholds("mp113", "shifted", 2)
    assert (mpmath.mp.prec, mpmath.iv.prec) == (mp, iv)


def test_library_calls_draw_no_progress_bars(monkeypatch):
    import precision.report.compute as report
    asked = []

    def bar(items, disable=None, **kw):  # records whether each bar would be drawn (None: on a terminal)
        asked.append(disable)
        return items
    monkeypatch.setattr(report, "tqdm", bar)
    report.compute(("bfloat16",), ("shifted",), (2,))
    assert asked and all(d is True for d in asked)  # off, whatever the terminal
    asked.clear()
    report.compute(("bfloat16",), ("shifted",), (2,), progress=True)
    assert asked and all(d is None for d in asked)  # the command line asks: drawn where stderr is a terminal
