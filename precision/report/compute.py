"""The precision-saturation report behind `softmax-sat report` (and `softmax-sat thresholds`)."""
from __future__ import annotations

import multiprocessing
import platform
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed

import numpy as np
from tqdm import tqdm

from precision.common.devices import device_description
from precision.emulated.measures import MEASURES, saturation_gap
from precision.emulated.thresholds import ORDERS, thresholds
from precision.formats.dtypes import NARROW
from precision.formats.named_formats import get_format
from precision.kernels.exp_error import exp_error_rows
from precision.kernels.registry import KERNELS, Kernel, is_built_in, kernel_versions
from precision.kernels.scan import (
    Agreement,
    KernelThresholds,
    agreement,
    kernel_thresholds,
    sample_rows,
    two_class_rows,
)

DEFAULT_FORMATS = ("float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2",
                   "mp113", "decimal7", "delta0.01", "delta0.01-paper")
DEFAULT_CLASSES = (2, 10, 1000)
OBJECT_FORMAT_CLASSES = (2, 10)  # mp/decimal/δ arithmetic is pure Python: M = 1000 only when asked for
ORDER_STUDY = ("float16", "float32", "float64")
ACCUMULATION_STUDY = (("float16", "float32"), ("bfloat16", "float32"), ("float8_e4m3fn", "float16"))
DEFAULT_KERNEL_CLASSES = (2, 1000)  # every kernel; other sizes on request (--kernel-classes)
DEFAULT_VOCABULARY = 128256  # Llama 3's: measured by default for the kernels fast at wide rows (`Kernel.wide_rows`,
#                              about a second each), in the dtypes language models' logits are computed in (NARROW);
#                              any kernel at any size: --kernel-classes
AGREEMENT_ROWS = {"two-class": 4096, "M=1000": 64}  # sampled rows where a dtype's gaps are too many to take all


def configurations(formats, algorithms, classes) -> list[tuple]:
    """Every (format, algorithm, classes, rivals) of the table; 'one' rival only where it differs from 'equal'."""
    out = []
    for f in formats:
        ms = classes or (DEFAULT_CLASSES if get_format(f).carrier else OBJECT_FORMAT_CLASSES)
        for a in algorithms:
            for m in ms:
                out += [(f, a, m, "equal")] + ([(f, a, m, "one")] if m > 2 else [])
    return out


def _progress(items, desc: str, on: bool, total: int | None = None):
    """A progress bar on stderr when asked for (the command line asks; a library call stays quiet)."""
    return tqdm(items, desc=desc, unit="config", file=sys.stderr, leave=False, disable=not on or None, total=total)


def _versions() -> dict:
    import matplotlib
    import mpmath
    return {"python": platform.python_version(), "numpy": np.__version__, "mpmath": mpmath.__version__,
            "matplotlib": matplotlib.__version__, "platform": platform.platform()}


def kernel_agreement(kernel: Kernel, dtype: str) -> list[Agreement]:
    """The kernel against its emulated model: every two-class gap of a 16-bit or smaller dtype (a sample of
    float32/float64 gaps), and sampled rows of 1000 classes."""
    every = dtype not in ("float32", "float64")
    two = two_class_rows(dtype) if every else sample_rows(2, AGREEMENT_ROWS["two-class"])
    return [agreement(kernel, dtype, two, "every two-class gap" if every else "sampled two-class rows"),
            agreement(kernel, dtype, sample_rows(1000, AGREEMENT_ROWS["M=1000"]), "sampled rows, M = 1000")]


def vocabulary_kernels(kernels: Sequence[Kernel], vocabulary: int | None, classes) -> list[Kernel]:
    """The kernels measured at `vocabulary` classes besides `classes`: those fast at wide rows among `kernels`
    (none when the vocabulary is None or already one of `classes`)."""
    if vocabulary is None or vocabulary in classes:
        return []
    return [k for k in kernels if k.wide_rows == "fast"]


def _sendable(kernel: Kernel) -> bool:
    """A kernel another process can measure: a built-in one (found there by name; one registered at run time is
    not) that runs on the CPU alone (torch's stay in the process that chose their device and CPU code path)."""
    return is_built_in(kernel) and KERNELS.get(kernel.name) is kernel and not kernel.accelerated


def _measure(configs: list[tuple], device: str, progress: bool, beside: Executor | None) -> list[KernelThresholds]:
    """`kernel_thresholds` of every (kernel, dtype, classes, rivals), in order. With `beside` (an executor of one
    process), the configurations of `_sendable` kernels are sent to it, and those it has not started when this
    process has measured its own are taken back: the two processes share the work whatever its balance. The
    libraries this process loads anyway (NumPy, its own kernels') are sent last, so that what it takes back never
    makes it load and warm up another (JAX's import and compilations take seconds)."""
    sent: dict[int, Future] = {}
    if beside is not None:
        loaded_here = {"numpy"} | {k.package for k, *_ in configs if not _sendable(k)}
        for i in sorted((i for i, c in enumerate(configs) if _sendable(c[0])),
                        key=lambda i: configs[i][0].package in loaded_here):
            k, d, m, r = configs[i]
            sent[i] = beside.submit(kernel_thresholds, k.name, d, m, r, device)
    done: dict[int, KernelThresholds] = {}
    with _progress(None, "kernels", progress, total=len(configs)) as bar:

        def here(i: int) -> None:
            k, d, m, r = configs[i]
            done[i] = kernel_thresholds(k, d, m, r, device)
            bar.update()

        for i in range(len(configs)):
            if i not in sent:
                here(i)
        for i in reversed(sent):  # the other process takes them first to last: the last are still waiting
            if not sent[i].cancel():
                break
            here(i)
        there = {f: i for i, f in sent.items() if i not in done}
        for f in as_completed(there):
            done[there[f]] = f.result()
            bar.update()
    return [done[i] for i in range(len(configs))]


def compute_kernels(kernels: list[Kernel], classes, device: str = "cpu", progress: bool = False,
                    vocabulary: int | None = None, beside: Executor | None = None) -> dict:
    """Measured thresholds of every kernel × dtype × classes (one rival and all equal), the kernels of
    `vocabulary_kernels` at `vocabulary` classes (all rivals equal, dtypes of `NARROW`), and agreement with
    emulation, as one JSON-ready dict. `beside`: a process that measures the CPU-only built-in kernels meanwhile
    (`_measure`)."""
    configs = [(k, d, m, r) for k in kernels for d in k.dtypes for m in classes
               for r in (("equal", "one") if m > 2 else ("equal",))]
    at_vocabulary = vocabulary_kernels(kernels, vocabulary, classes)
    configs += [(k, d, vocabulary, "equal") for k in at_vocabulary for d in k.dtypes if d in NARROW]
    classes = list(classes) + ([vocabulary] if at_vocabulary else [])
    table = _measure(configs, device, progress, beside)
    agree = [a for k in kernels if not k.log_space for d in k.dtypes for a in kernel_agreement(k, d)]
    return {"device": device, "device_name": device_description(device), "versions": kernel_versions(kernels),
            "kernels": {k.name: {"call": k.summary, "dtypes": list(k.dtypes), "log_space": k.log_space,
                                 "model": {d: k.model(d).__dict__ for d in k.dtypes}} for k in kernels},
            "classes": classes, "thresholds": [t.as_dict() for t in table],
            "agreement": [a.as_dict() for a in agree],
            "exp_error": exp_error_rows(kernels, [t.as_dict() for t in table])}


def compute(formats, algorithms, classes, kernels: Sequence[Kernel] = (), kernel_classes=DEFAULT_KERNEL_CLASSES,
            device: str = "cpu", progress: bool = False, cpu_paths: bool = False,
            language_models: bool = False, proved: list[dict] | None = None,
            vocabulary: int | None = DEFAULT_VOCABULARY, rounding_modes: bool = False,
            block_formats: bool = False, processes: bool = False) -> dict:
    """All the numbers of the report, as one JSON-ready dict: real kernels first, then emulated arithmetic.

    `vocabulary`: the torch kernels also measured at this many classes (None: not); `cpu_paths`: torch measured
    again under each CPU code path this processor supports (a subprocess each, tens of seconds);
    `language_models`: log-probability kernels, cross-entropy, attention and soft-capping at `vocabulary` classes
    (32,000 if None; about 45 s at 128,256); `block_formats`: MX and NVFP4 thresholds (about 10 s); `processes`:
    the emulated tables, then the CPU-only kernels, computed in a process of their own while torch's kernels are
    measured (the command line does; a script doing so needs the `if __name__ == "__main__":` guard that process
    start-up asks for).
    """
    start = time.perf_counter()
    measured: dict | None
    if kernels and processes:  # the emulated tables (pure NumPy and mpmath, one core) in a process meanwhile
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        try:
            tables = pool.submit(emulated_tables, tuple(formats), tuple(algorithms), classes)
            measured = compute_kernels(list(kernels), kernel_classes, device, progress, vocabulary, beside=pool)
            emulated = tables.result()
        finally:  # nothing left waiting, the process joined: no semaphore for the resource tracker to warn about
            pool.shutdown(cancel_futures=True)
    else:
        measured = compute_kernels(list(kernels), kernel_classes, device, progress, vocabulary) if kernels else None
        emulated = emulated_tables(formats, algorithms, classes, progress)
    extra: dict = {"coq": proved}  # the per-format facts a prove certificate's Coq records prove (None: none read)
    if cpu_paths:
        from precision.report.dispatch import compare_paths
        extra["cpu_paths"] = compare_paths()
    if rounding_modes:  # every rounding mode (precision.report.rounding_modes)
        from precision.report.rounding_modes import rounding_mode_rows, stochastic_rows
        extra["rounding_modes"] = rounding_mode_rows(formats)
        extra["stochastic"] = stochastic_rows()
    if block_formats:
        from precision.report.block_formats import block_format_rows
        extra["block_formats"] = block_format_rows()
    if language_models:
        from precision.report.language_models import language_model_rows
        extra["language_models"] = language_model_rows(dtypes=NARROW, vocabs=(vocabulary or 32000,),
                                                       seq_lens=(128,))
    return extra | {"kernels": measured, "settings": {"formats": list(formats), "algorithms": list(algorithms),
                         "classes": list(classes) if classes else {"carrier": list(DEFAULT_CLASSES),
                                                                   "pure_python": list(OBJECT_FORMAT_CLASSES)},
                         "rivals": ["equal", "one"], "exp": "correctly rounded", "order": "sequential"},
            "versions": _versions()} | emulated | {"seconds": round(time.perf_counter() - start, 2)}


def emulated_tables(formats, algorithms, classes, progress: bool = False) -> dict:
    """The report's emulated numbers, JSON-ready: the thresholds of every configuration, the summation orders and
    the accumulation studies at 1,000 classes, and the measures that never saturate."""
    table = [thresholds(*c) for c in _progress(configurations(formats, algorithms, classes), "thresholds", progress)]
    orders = [thresholds(f, "shifted", 1000, "equal", order=o)
              for f in _progress([f for f in ORDER_STUDY if f in formats], "summation orders", progress)
              for o in ORDERS]
    accumulation = [thresholds(f, "shifted", m, "equal", accumulate=acc)
                    for f, acc in ACCUMULATION_STUDY if f in formats for m in (2, 1000)]
    measures = []
    for f in _progress(formats, "measures", progress):
        row = {"format": f}
        for name in MEASURES:
            try:
                g = saturation_gap(f, name, 2)
                row[name] = None if g is None else str(g)
            except ValueError as e:  # e.g. log(0) on the δ-grid, which has no infinity
                row[name] = f"undefined: {e}"
        measures.append(row)
    return {"thresholds": [t.as_dict() for t in table], "orders": [t.as_dict() for t in orders],
            "accumulation": [t.as_dict() for t in accumulation], "measures": measures}
