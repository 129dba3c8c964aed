"""Saturation in users' own loops: `saturation_of`, `looks_like_probabilities`, `watch` and the adapters."""
import warnings

import numpy as np
import pytest

from precision.common.errors import InputError
from precision.logits.batch import looks_like_probabilities
from precision.logits.rows import saturation_of

torch = pytest.importorskip("torch")

from precision.logits.adapters import watch_art, watch_foolbox, watch_torchattacks  # noqa: E402
from precision.logits.watch import NonFiniteLogitsWarning, ProbabilitiesWarning, SaturationWarning, watch  # noqa: E402,E501


class Scaled(torch.nn.Module):
    """Logits (gap, 0, 0, …) for inputs in [0, 1]: the first pixel sets the gap, times `scale`."""

    def __init__(self, scale: float, classes: int = 10):
        super().__init__()
        self.scale, self.classes = scale, classes
        self.w = torch.nn.Parameter(torch.zeros(classes))

    def forward(self, x):
        gap = self.scale * x.flatten(1)[:, :1]
        return torch.cat([gap, torch.zeros(len(x), self.classes - 1)], dim=1) + self.w


def test_saturation_of_counts_rows_and_its_distance_has_the_right_sign():
    x = np.array([[30.0, 0, 0], [3.0, 0, 0], [200.0, 0, 0], [9.0, 1.0, 0]])
    s = saturation_of(x, ("float32", "bfloat16"), "torch")
    assert s["float32"].top_is_one.tolist() == [True, False, True, False]
    assert s["float32"].others_zero.tolist() == [False, False, True, False]
    assert s["float32"].sum_exceeds_one.tolist() == [True, False, False, False]
    assert s["bfloat16"].top_is_one.tolist() == [True, False, True, True]
    np.testing.assert_array_equal(s["float32"].margin, [30, 3, 200, 8])
    exact = saturation_of(x, ("bfloat16",), "torch", exact_distance=True)["bfloat16"]
    assert ((exact.past_threshold >= 0) == exact.top_is_one).all()  # past its own point exactly when saturated
    # torch on bfloat16 is the exact softmax rounded once: the model's distance agrees within a grid step
    np.testing.assert_allclose(s["bfloat16"].past_threshold, exact.past_threshold, atol=2 ** -4 * 8)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 2, 2)), r"shape \(M,\) or \(B, M\)"), (np.zeros((2, 1)), "C ≥ 2"), (np.zeros((0, 2)), "empty"),
    (np.array([["a", "b"]]), "real numbers")])
def test_saturation_of_names_bad_logits(bad, message):
    with pytest.raises(InputError, match=message):
        saturation_of(bad)


def test_overflowing_and_nan_rows_are_flagged_not_called_unsaturated():
    s = saturation_of([[70000.0, 0.0]], dtypes=("float16",))["float16"]  # beyond float16's largest, 65504
    assert s.overflow.tolist() == [True] and s.top_is_one.tolist() == [False]
    assert np.isnan(s.past_threshold[0]) and np.isnan(s.gap[0])  # not "not saturated, 69,992 past"
    x = np.array([[np.nan, 0.0], [70000.0, 0.0], [30.0, 0.0], [30.0, -np.inf]])
    for exact in (False, True):
        r = saturation_of(x, ("float16", "float32"), "numpy", exact_distance=exact)
        assert r["float16"].nan.tolist() == r["float32"].nan.tolist() == [True, False, False, False]
        assert r["float16"].overflow.tolist() == [False, True, False, True]
        assert r["float32"].overflow.tolist() == [False, False, False, True]  # 70000 is a float32
        assert r["float32"].top_is_one.tolist() == [False, True, True, False]
        assert np.isnan(r["float16"].margin[:2]).all() and r["float16"].margin[2] == 30


def test_one_engine_one_result_type_with_either_distance():
    from precision.kernels.registry import get_kernel
    from precision.logits.rows import Saturation, row_saturation
    x = np.array([[30.0, 0.0, 1.0], [3.0, 0.0, 0.0]])
    model = saturation_of(x, ("float16",), "numpy")["float16"]
    exact = saturation_of(x, ("float16",), "numpy", exact_distance=True)["float16"]
    assert type(model) is type(exact) is Saturation
    assert (model.method, exact.method) == ("model", "exact")
    row = row_saturation(x, "float16", get_kernel("numpy"))
    np.testing.assert_array_equal(row.threshold, exact.threshold)
    np.testing.assert_array_equal(model.gap, exact.gap)
    np.testing.assert_array_equal(model.past_threshold, model.gap - model.threshold)


def test_probabilities_and_log_probabilities_are_recognised_and_logits_are_not():
    logits = np.array([[3.0, 1.0, -2.0], [0.5, 0.2, 0.1]])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert looks_like_probabilities(p) and looks_like_probabilities(np.log(p))
    assert not looks_like_probabilities(logits) and not looks_like_probabilities(np.abs(logits))


def test_a_saturating_batch_warns_once_and_is_counted():
    model = Scaled(200.0)
    x = torch.ones(8, 1)
    x[:3] = 0.0  # three rows tie: not saturated
    with pytest.warns(SaturationWarning) as caught, watch(model, ("float32", "bfloat16")) as w:
        model(x)
        model(x)
    assert len([c for c in caught if c.category is SaturationWarning]) == 1
    assert [s.saturated["float32"] for s in w.steps] == [5, 5]
    assert w.summary()[0]["first_saturated_step"] == 0 and "| float32 | 2 | 16 | 10 (62.5 %)" in w.table()


def test_no_warning_below_the_share():
    model = Scaled(3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with watch(model) as w:
            model(torch.ones(4, 1))
    assert w.steps[0].saturated == {"float32": 0, "bfloat16": 0}


def test_a_model_that_returns_probabilities_is_flagged():
    model = torch.nn.Sequential(Scaled(2.0), torch.nn.Softmax(dim=1))
    with pytest.warns(ProbabilitiesWarning), watch(model):
        model(torch.ones(4, 1))


def test_vanishing_cross_entropy_gradient_is_found_exactly_where_it_is_zero(tmp_path):
    model = Scaled(1.0)
    x = torch.tensor([[50.0], [120.0], [3.0]])  # float32: e^−120 underflows, e^−50 does not
    with pytest.warns(SaturationWarning, match="exactly zero for 1 of 3"), \
            watch(model, gradients=True, warn_share=1.0) as w:
        logits = model(x)
    z = logits.detach().requires_grad_(True)
    torch.nn.functional.cross_entropy(z, z.argmax(1), reduction="sum").backward()
    assert w.steps[0].zero_gradients == int((z.grad == 0).all(1).sum()) == 1
    w.set_labels(torch.tensor([1, 1, 1]))  # another class: the gradient is not zero anywhere
    with watch(model, gradients=True, warn_share=1.0) as w2:
        w2.set_labels(torch.tensor([1, 1, 1]))
        model(x)
    assert w2.steps[0].zero_gradients == 0
    assert w.plot(tmp_path / "steps.png").stat().st_size > 5_000


def test_overflowing_and_nan_batches_are_counted_with_one_warning_and_never_stop_the_loop():
    class Given(torch.nn.Module):
        def forward(self, x):
            return x
    model = Given()
    with pytest.warns(NonFiniteLogitsWarning) as caught, watch(model, ("float16", "float32"), warn_share=1) as w:
        model(torch.tensor([[70000.0, 0.0], [3.0, 0.0]]))  # float16 overflows the first row
        model(torch.tensor([[float("nan"), 0.0], [3.0, 0.0]]))  # a NaN batch: counted, not raised
        model(torch.tensor([[float("nan"), 0.0], [float("nan"), 1.0]]))
        model(torch.tensor([[3.0, 0.0], [4.0, 0.0]]))
    messages = [str(c.message) for c in caught if c.category is NonFiniteLogitsWarning]
    assert len(messages) == 2 and "beyond the range of float16" in messages[0] and "NaN" in messages[1]
    assert [s.nan_rows for s in w.steps] == [0, 1, 2, 0]
    assert [s.overflow_rows["float16"] for s in w.steps] == [1, 0, 0, 0]
    assert w.steps[0].saturated == {"float16": 0, "float32": 1} and w.steps[2].median_margin is None
    f16, f32 = w.summary()
    assert (f16["overflow_rows"], f16["overflow_batches"], f32["overflow_rows"]) == (1, 1, 0)
    assert (f16["nan_rows"], f16["nan_batches"]) == (3, 2)
    assert "| float16 | 4 | 8 | 0 (0.0 %) |" in w.table() and w.table().splitlines()[2].endswith("| 1 | 3 | 0 |")


def test_bad_models_and_outputs_are_named():
    with pytest.raises(InputError, match="model: expected a torch.nn.Module"):
        watch(lambda x: x)
    with pytest.raises(InputError, match="dtype"):
        watch(Scaled(1.0), dtypes=("float99",))
    flat = torch.nn.Flatten(0)
    with pytest.raises(InputError, match=r"model: output must be \(N, C\) logits"), watch(flat):
        flat(torch.ones(2, 3))


def _batch():
    return torch.rand(4, 1) * 0.1, torch.zeros(4, dtype=torch.long)


@pytest.mark.filterwarnings("ignore::precision.logits.watch.SaturationWarning")
def test_torchattacks_adapter():
    torchattacks = pytest.importorskip("torchattacks")
    model = Scaled(400.0).eval()
    attack = torchattacks.PGD(model, eps=0.05, alpha=0.01, steps=3)
    x, y = _batch()
    with watch_torchattacks(attack, gradients=True) as w:
        attack(x, y)
    assert len(w.steps) >= 3


@pytest.mark.filterwarnings("ignore::precision.logits.watch.SaturationWarning")
def test_foolbox_adapter():
    foolbox = pytest.importorskip("foolbox")
    model = Scaled(400.0).eval()
    x, y = _batch()
    with watch_foolbox(model, (0, 1)) as (fmodel, w):
        foolbox.attacks.LinfPGD(steps=3)(fmodel, x, y, epsilons=0.05)
    assert len(w.steps) >= 3


@pytest.mark.filterwarnings("ignore::precision.logits.watch.SaturationWarning")
def test_art_adapter():
    pytest.importorskip("art")
    from art.attacks.evasion import FastGradientMethod
    from art.estimators.classification import PyTorchClassifier
    model = Scaled(400.0).eval()
    classifier = PyTorchClassifier(model, loss=torch.nn.CrossEntropyLoss(), input_shape=(1,), nb_classes=10,
                                   clip_values=(0.0, 1.0))
    x, _ = _batch()
    with watch_art(classifier) as w:
        FastGradientMethod(classifier, eps=0.05).generate(x.numpy())
    assert w.steps


def test_adapters_say_which_extra_to_install(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torchattacks" else real(name))
    with pytest.raises(InputError, match=r"pip install 'softmax-saturation\[watch\]'"):
        watch_torchattacks(object())
