"""The paper's experiments on real ImageNet models: models, images, attack methods, per-iteration records, the
transferability experiment and its figures.

Names are loaded on first use (PEP 562), so that `attacks.record` stays readable where torch is not installed.
"""
from importlib import import_module

_EXPORTS = {  # public name: the module that defines it
    "load_model": "models", "MODEL_NAMES": "models", "PixelModel": "models", "WeightsError": "models",
    "find_images": "data", "load_pixels": "data", "select_correct": "data",
    "OverOptimized": "methods", "MultiClass": "methods", "build_method": "methods", "draw_targets": "methods",
    "attack_batches": "loop",
    "Column": "record", "RecordWriter": "record", "read_records": "record", "per_image": "record",
    "ExperimentConfig": "experiment", "build_config": "experiment", "run_transfer_experiment": "experiment",
    "experiment_curves": "transferability", "transfer_curve": "transferability",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'attacks' has no attribute {name!r}")
    return import_module(f".{_EXPORTS[name]}", __name__).__dict__[name]
