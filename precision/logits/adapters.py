"""`watch` for the attack libraries people use: torchattacks `Attack` objects, foolbox's PyTorch model wrapper and
ART's `PyTorchClassifier` — each a few lines over `precision.logits.watch.Watch`, which hooks the underlying module.

Each library is an optional extra (`pip install 'softmax-saturation[watch]'`); without it, one clear error says so.
"""
from __future__ import annotations

import importlib.util
from contextlib import contextmanager

from precision.common.errors import InputError
from precision.logits.watch import Watch, watch


def _require(package: str, argument: str) -> None:
    if importlib.util.find_spec(package) is None:
        raise InputError(argument, f"needs the {package} package: pip install 'softmax-saturation[watch]'")


def watch_torchattacks(attack, **options) -> Watch:
    """Watch the model a torchattacks `Attack` runs (every forward of the attack is recorded)."""
    _require("torchattacks", "attack")
    import torchattacks
    if not isinstance(attack, torchattacks.attack.Attack):
        raise InputError("attack", f"expected a torchattacks Attack, got {type(attack).__name__}")
    return watch(attack.model, **options)


def watch_art(classifier, **options) -> Watch:
    """Watch the PyTorch module inside an ART `PyTorchClassifier`."""
    _require("art", "classifier")
    from art.estimators.classification import PyTorchClassifier
    if not isinstance(classifier, PyTorchClassifier):
        raise InputError("classifier", f"expected an ART PyTorchClassifier, got {type(classifier).__name__}")
    return watch(classifier.model, **options)


@contextmanager
def watch_foolbox(model, bounds, preprocessing=None, **options):
    """A foolbox `PyTorchModel` around a watched `model`: `with watch_foolbox(net, (0, 1)) as (fmodel, w): ...`
    (foolbox keeps no reference to the module it wraps, so the watch goes on the module first)."""
    _require("foolbox", "model")
    import foolbox
    with watch(model, **options) as w:
        yield foolbox.PyTorchModel(model, bounds=bounds, preprocessing=preprocessing), w
