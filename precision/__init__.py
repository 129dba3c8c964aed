"""Number formats, softmax algorithms and the real softmax kernels, saturation thresholds measured and exact,
the paper's lemmas as predicates, per-row saturation of a user's logits and `watch` for a live loop.

Names load on first use (PEP 562): `import precision` imports neither torch, JAX nor matplotlib. Hypothesis
strategies live in `precision.strategies` (import it explicitly, as `hypothesis.extra.numpy`).
"""
from importlib import import_module

_EXPORTS = {  # public name: the module that defines it
    "BinaryFormat": "formats.binary", "DecimalFormat": "formats.decimal_grid",
    "DeltaGrid": "formats.decimal_grid", "Format": "formats.number_formats", "get_format": "formats.named_formats",
    "DTYPES": "formats.dtypes",
    "ALGORITHMS": "emulated.algorithms", "softmax": "emulated.algorithms",
    "Thresholds": "emulated.thresholds", "thresholds": "emulated.thresholds",
    "Verdict": "emulated.lemmas", "lemma_2_1": "emulated.lemmas", "lemma_2_1_corrected": "emulated.lemmas",
    "lemma_2_2": "emulated.lemmas", "lemma_2_2_corrected": "emulated.lemmas",
    "KERNELS": "kernels.registry", "Kernel": "kernels.registry", "KernelError": "kernels.registry",
    "available_kernels": "kernels.registry", "get_kernel": "kernels.registry", "native_softmax": "kernels.registry",
    "KernelThresholds": "kernels.scan", "kernel_thresholds": "kernels.scan",
    "Certificate": "kernels.certificate", "verify": "kernels.certificate",
    "row_saturation": "logits.rows",
    "Saturation": "logits.rows", "saturation_of": "logits.rows", "looks_like_probabilities": "logits.batch",
    "ProbabilitiesWarning": "logits.watch", "SaturationWarning": "logits.watch", "Watch": "logits.watch",
    "watch": "logits.watch",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'precision' has no attribute {name!r}")
    value = import_module(f"precision.{_EXPORTS[name]}").__dict__[name]
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
