"""Reading a results folder as data: every file an analysis reads from a folder (`config.json`, `selection.json`)
is checked key by key against what this program writes, and refused in one line naming the file and the key.

Nothing read from a folder runs code: a model name read from a folder is only ever loaded when it is a built-in
model (`MODEL_NAMES`) or a `package.module:function` given on this command line (`trusted`); a folder made by
someone else may name anything, and is then refused before any import.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from precision.common.errors import InputError
from precision.common.files import regular_file

OWN_MODEL = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")  # package.module:function
MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")  # a model's own name: a folder name under records/
METHOD_NAMES = ("over-optimized", "multi-class")


def refuse(path: Path, key: str, message: str, argument: str = "results") -> InputError:
    return InputError(argument, f"{path}: key {key!r} {message}")


def read_json(path: Path, argument: str = "results"):
    """A JSON file of a results folder (strict: no NaN or Infinity), or one line naming it."""
    path = regular_file(path, argument)

    def no_constants(token):
        raise ValueError(f"{token} is not JSON")
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=no_constants)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InputError(argument, f"{path} is not a JSON file this program wrote ({e})") from None


def _number(value, integer: bool) -> bool:
    if isinstance(value, bool):
        return False
    if integer:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def check_model_names(names, path: Path, key: str, argument: str = "results") -> None:
    """Each a built-in model or `package.module:function` in form (never imported here)."""
    from .models import MODEL_NAMES
    if not _strings(names):
        raise refuse(path, key, f"must be a list of model names, got {names!r}", argument)
    for name in names:
        if name not in MODEL_NAMES and not OWN_MODEL.fullmatch(name):
            raise refuse(path, key, f"holds {name!r}, which is not a model name", argument)


def loadable(names, path: Path, trusted=(), key: str = "models", option: str = "--models") -> list[str]:
    """The model names of a folder that this command may load: built-in ones, and `module:function` ones only
    where this command line names them (`trusted`); any other refuses the folder, nothing imported."""
    from .models import MODEL_NAMES
    for name in names:
        if name not in MODEL_NAMES and name not in trusted:
            raise refuse(path, key, f"names {name!r}, which is not a built-in model ({', '.join(MODEL_NAMES)}); "
                         f"a results folder never names code to run: give your own model on this command line "
                         f"with {option} {name} if you trust it")
    return list(names)


def experiment_settings(results: Path) -> dict:
    """An experiment folder's `config.json`, every key checked (the keys `ExperimentConfig` writes, each of its
    type and range); model names are checked in form, never loaded."""
    from .methods import GRADIENTS, MULTIPLIER_RULES, WORKING_IMAGES
    path = Path(results) / "config.json"
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError("results", f"{path} is not an experiment's config (not a JSON object)")
    ints = {"n": 1, "iterations": 1, "batch_size": 1, "seed": 0}
    floats = ("alpha", "low", "high")
    choices = {"gradient": GRADIENTS, "working_image": WORKING_IMAGES, "multipliers": MULTIPLIER_RULES}
    known = {"images", "models", "methods", "weights", *ints, *floats, *choices}
    for key in data:
        if key not in known:
            raise refuse(path, key, "is not a key of an experiment's config")
    for key in sorted(known - set(data)):
        raise refuse(path, key, "is missing")
    if not isinstance(data["images"], str):
        raise refuse(path, "images", "must be a folder name")
    check_model_names(data["models"], path, "models")
    if len(data["models"]) < 2 or len(set(data["models"])) != len(data["models"]):
        raise refuse(path, "models", f"must name two or more different models, got {data['models']!r}")
    if not _strings(data["methods"]) or not data["methods"] or not set(data["methods"]) <= set(METHOD_NAMES):
        raise refuse(path, "methods", f"must be some of {', '.join(METHOD_NAMES)}, got {data['methods']!r}")
    for key, least in ints.items():
        if not _number(data[key], True) or data[key] < least:
            raise refuse(path, key, f"must be an integer of at least {least}, got {data[key]!r}")
    for key in floats:
        if not _number(data[key], False) or data[key] <= 0:
            raise refuse(path, key, f"must be a positive finite number, got {data[key]!r}")
    for key, allowed in choices.items():
        if data[key] not in allowed:
            raise refuse(path, key, f"must be one of {', '.join(allowed)}, got {data[key]!r}")
    weights = data["weights"]
    if not isinstance(weights, list) or not all(_strings(w) and len(w) == 2 for w in weights) \
            or not {w[0] for w in weights} <= set(data["models"]):
        raise refuse(path, "weights", "must be [model, path] pairs of the config's models")
    return data


def experiment_selection(results: Path, settings: dict) -> dict:
    """An experiment folder's `selection.json`: the images (path, class 0..999), the models' own names (one per
    model of the config, each a plain name) and every method's targets (classes 0..999, one row per image)."""
    path = Path(results) / "selection.json"
    data = read_json(path)
    if not isinstance(data, dict) or set(data) != {"models", "images", "targets"}:
        raise InputError("results", f"{path} is not an experiment's selection (expected the keys images, models, "
                         "targets)")
    models = data["models"]
    if not _strings(models) or len(models) != len(settings["models"]) or len(set(models)) != len(models) \
            or not all(MODEL_NAME.fullmatch(m) for m in models):
        raise refuse(path, "models", f"must be the {len(settings['models'])} models' names, got {models!r}")
    images = data["images"]
    if not isinstance(images, list) or not images or not all(
            isinstance(i, dict) and set(i) == {"path", "label"} and isinstance(i["path"], str)
            and _number(i["label"], True) and 0 <= i["label"] < 1000 for i in images):
        raise refuse(path, "images", "must be a list of {path, label} with labels in 0..999")
    if len(images) > settings["n"]:
        raise refuse(path, "images", f"holds {len(images)} images, more than the config's n = {settings['n']}")
    targets = data["targets"]
    per_image = {"over-optimized": 1, "multi-class": 2}
    if not isinstance(targets, dict) or set(targets) != set(settings["methods"]):
        raise refuse(path, "targets", f"must hold the targets of {', '.join(settings['methods'])}")
    for method, rows in targets.items():
        if not isinstance(rows, list) or len(rows) != len(images) or not all(
                isinstance(r, list) and len(r) == per_image[method]
                and all(_number(c, True) and 0 <= c < 1000 for c in r) for r in rows):
            raise refuse(path, "targets", f"{method}: must be {per_image[method]} classes in 0..999 per image")
    return data
