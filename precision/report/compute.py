"""The precision-saturation report behind `softmax-sat report` (and `softmax-sat thresholds`)."""
from __future__ import annotations

import platform
import sys
import time
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
from tqdm import tqdm

from precision.common.devices import device_description
from precision.common.markdown import table as _table
from precision.emulated.measures import MEASURES, saturation_gap
from precision.emulated.thresholds import ORDERS, thresholds
from precision.formats.dtypes import NARROW
from precision.formats.number_formats import get_format
from precision.kernels.exp_error import exp_error_markdown, exp_error_rows
from precision.kernels.registry import Kernel, kernel_versions
from precision.kernels.scan import Agreement, agreement, kernel_thresholds, sample_rows, two_class_rows
from precision.report.coq_status import checked_by_coq
from precision.report.rows import emulated, measured, measured_dtypes

DEFAULT_FORMATS = ("float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2",
                   "mp113", "decimal7", "delta0.01", "delta0.01-paper")
DEFAULT_CLASSES = (2, 10, 1000)
OBJECT_FORMAT_CLASSES = (2, 10)  # mp/decimal/δ arithmetic is pure Python: M = 1000 only when asked for
ORDER_STUDY = ("float16", "float32", "float64")
ACCUMULATION_STUDY = (("float16", "float32"), ("bfloat16", "float32"), ("float8_e4m3fn", "float16"))
DEFAULT_KERNEL_CLASSES = (2, 1000)  # every kernel; other sizes on request (--kernel-classes)
DEFAULT_VOCABULARY = 128256  # Llama 3's: measured by default for the kernels language models call most ...
VOCABULARY_KERNELS = ("torch", "torch-log")  # ... (under a second each), in the dtypes their logits are computed
#                                              in (NARROW); any kernel at any size: --kernel-classes
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


def _progress(items, desc: str, on: bool):
    """A progress bar on stderr when asked for (the command line asks; a library call stays quiet)."""
    return tqdm(items, desc=desc, unit="config", file=sys.stderr, leave=False, disable=not on or None)


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
    """The kernels measured at `vocabulary` classes besides `classes`: those of `VOCABULARY_KERNELS` among
    `kernels` (none when the vocabulary is None or already one of `classes`)."""
    if vocabulary is None or vocabulary in classes:
        return []
    return [k for k in kernels if k.name in VOCABULARY_KERNELS]


def compute_kernels(kernels: list[Kernel], classes, device: str = "cpu", progress: bool = False,
                    vocabulary: int | None = None) -> dict:
    """Measured thresholds of every kernel × dtype × classes (one rival and all equal), the kernels of
    `vocabulary_kernels` at `vocabulary` classes (all rivals equal, dtypes of `NARROW`), and agreement with
    emulation, as one JSON-ready dict."""
    configs = [(k, d, m, r) for k in kernels for d in k.dtypes for m in classes
               for r in (("equal", "one") if m > 2 else ("equal",))]
    at_vocabulary = vocabulary_kernels(kernels, vocabulary, classes)
    configs += [(k, d, vocabulary, "equal") for k in at_vocabulary for d in k.dtypes if d in NARROW]
    classes = list(classes) + ([vocabulary] if at_vocabulary else [])
    table = [kernel_thresholds(k, d, m, r, device) for k, d, m, r in _progress(configs, "kernels", progress)]
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
            vocabulary: int | None = DEFAULT_VOCABULARY, rounding_modes: bool = False) -> dict:
    """All the numbers of the report, as one JSON-ready dict: real kernels first, then emulated arithmetic.

    `vocabulary`: the torch kernels also measured at this many classes (None: not); `cpu_paths`: torch measured
    again under each CPU code path this processor supports (a subprocess each, tens of seconds);
    `language_models`: log-probability kernels, cross-entropy, attention and soft-capping at `vocabulary` classes
    (32,000 if None; about 45 s at 128,256).
    """
    start = time.perf_counter()
    measured = compute_kernels(list(kernels), kernel_classes, device, progress, vocabulary) if kernels else None
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
    extra: dict = {"coq": proved}  # the per-format facts a prove certificate's Coq records prove (None: none read)
    if cpu_paths:
        from precision.report.dispatch import compare_paths
        extra["cpu_paths"] = compare_paths()
    if rounding_modes:  # every rounding mode (precision.report.rounding_modes)
        from precision.report.rounding_modes import rounding_mode_rows, stochastic_rows
        extra["rounding_modes"] = rounding_mode_rows(formats)
        extra["stochastic"] = stochastic_rows()
    if language_models:
        from precision.kernels.language_models import language_model_rows
        extra["language_models"] = language_model_rows(dtypes=NARROW, vocabs=(vocabulary or 32000,),
                                                       seq_lens=(128,))
    return extra | {"kernels": measured, "settings": {"formats": list(formats), "algorithms": list(algorithms),
                         "classes": list(classes) if classes else {"carrier": list(DEFAULT_CLASSES),
                                                                   "pure_python": list(OBJECT_FORMAT_CLASSES)},
                         "rivals": ["equal", "one"], "exp": "correctly rounded", "order": "sequential"},
            "versions": _versions(),
            "thresholds": [t.as_dict() for t in table], "orders": [t.as_dict() for t in orders],
            "accumulation": [t.as_dict() for t in accumulation], "measures": measures,
            "seconds": round(time.perf_counter() - start, 2)}


# --- Markdown ---------------------------------------------------------------------------------------
def _fmt_gap(v) -> str:
    if v is None:
        return "never"
    x = float(Fraction(v)) if isinstance(v, str) else v
    return f"{x:.6g}"


def _kernel_cell(row: dict | None) -> str:
    return "—" if row is None else _fmt_gap(row["top_is_one_from_gap"])


def kernel_markdown(data: dict, figures: list[str]) -> list[str]:
    """The real-kernel section: headline table, every measured threshold, agreement with emulation."""
    k, kernels, dtypes = data["kernels"], measured(data), measured_dtypes(data)
    T = k["thresholds"]
    versions = ", ".join(f"{p} {v}" for p, v in k["versions"].items() if p not in ("platform", "processor"))
    md = ["## The kernels on this machine", "",
          f"Each kernel is called as it is ({k['device_name']}; {versions}). "
          "The top logit sits `gap` above its rivals; the gaps are the dtype's own values, every one of them for "
          "16- and 8-bit dtypes (up to 2²⁷ logits in all), otherwise a bracket search followed by every gap "
          "within ±4096 grid steps of each threshold (±523 at 128,256 classes: the method column says which). "
          "'log' kernels return log-probabilities: there, 'exactly 1' means a log-probability of exactly 0.", ""]
    for m in k["classes"]:
        names = [name for name in k["kernels"] if any(kernels.get(name, d, m, "equal") for d in dtypes)]
        md += [f"**Gap from which the top output is exactly 1 — {m:,} classes, all rivals equal**", "",
               _table(["kernel"] + dtypes, [[name] + [_kernel_cell(kernels.get(name, d, m, "equal")) for d in dtypes]
                                            for name in names]), ""]
    if "kernels.png" in figures:
        md += ["![first gap with top output exactly 1, per kernel and dtype](kernels.png)", ""]
    md += ["**Every measured threshold**", "",
           _table(["kernel", "dtype", "classes", "rivals", "top = 1 from gap", "others = 0 from gap",
                   "outputs sum > 1 for gaps in", "NaN from gap", "intervals after the first 1 where it is not 1",
                   "method"],
                  [[r["kernel"], r["dtype"], r["classes"], r["rivals"], _fmt_gap(r["top_is_one_from_gap"]),
                    _fmt_gap(r["others_zero_from_gap"]),
                    "—" if not r["sum_exceeds_one"] else
                    f"[{_fmt_gap(r['sum_exceeds_one'][0])}, {_fmt_gap(r['sum_exceeds_one'][1])})",
                    _fmt_gap(r["nan_from_gap"]), len(r["top_not_one_after_first"]), r["method"]] for r in T]), ""]
    if k["agreement"]:
        md += ["**Does the emulation explain the kernel?** Each kernel against its emulated model (the algorithm, "
               "the precision it computes in, the order of its sum) on the same inputs, output by output:", "",
               _table(["kernel", "dtype", "emulated model", "rows", "rows differing", "largest difference (ulps)",
                       "why"],
                      [[a["kernel"], a["dtype"], a["model"], f"{a['rows']} ({a['compared']})",
                        "none: bit for bit" if a["bit_for_bit"] else a["differing"], a["max_ulps"],
                        k["kernels"][a["kernel"]]["model"][a["dtype"]]["why"]] for a in k["agreement"]]), ""]
    md += exp_error_markdown(k.get("exp_error", []))
    return md


def markdown(data: dict, figures: list[str]) -> str:
    T = data["thresholds"]
    formats = data["settings"]["formats"]
    algorithms = data["settings"]["algorithms"]
    md = ["# Precision-saturation report", ""]
    if data["kernels"]:
        md += kernel_markdown(data, figures)
    if "cpu_paths" in data:
        from precision.report.dispatch import dispatch_markdown
        md += [dispatch_markdown(data["cpu_paths"]), ""]
    if "rounding_modes" in data:
        from precision.report.rounding_modes import rounding_mode_markdown, stochastic_markdown
        md += [rounding_mode_markdown(data["rounding_modes"]), "", stochastic_markdown(data["stochastic"]), ""]
    if "language_models" in data:
        from precision.kernels.language_models import language_model_markdown
        md += [language_model_markdown(data["language_models"]), ""]
    md += ["## Emulated arithmetic: why the kernels do what they do", "",
          "The top logit sits `gap` above its rivals (all at 0). For each number format and softmax algorithm: "
          "from which gap the top output is **exactly 1**, from which gap the other outputs are exactly 0, and "
          "the window in between where the outputs **sum to more than 1**. Every gap is a value of the format "
          "itself, found exactly on its grid (the gap one step below does not saturate). exp is correctly "
          "rounded; sums run in index order with the top class first unless said otherwise.", ""]
    if "top_output.png" in figures:
        md += ["![top output against gap](top_output.png)", ""]

    by_config = emulated(data)
    two = [r for f in formats if (r := by_config.get(f, "shifted", 2, "equal"))]
    if two:
        proved = data.get("coq")
        coq = ("Coq: not read (run `softmax-sat prove`, or give --proofs CERTIFICATE)" if proved is None else
               "checked by Coq: both thresholds are theorems of the `softmax-sat prove` certificate read "
               "(exp correctly rounded; proofs/coq)")
        md += ["## Two classes, max-shifted softmax", "", coq, "",
               _table(["format", "top output = 1 from gap", "others = 0 from gap", "outputs sum > 1 for gaps in",
                       "p·ln 2 (sum absorbs)", "exact softmax rounded once", "distinct top outputs", "method",
                       "checked by Coq"],
                      [[r["format"], _fmt_gap(r["top_is_one_from_gap"]), _fmt_gap(r["others_zero_from_gap"]),
                        "—" if not r["sum_exceeds_one"] else
                        f"[{_fmt_gap(r['sum_exceeds_one'][0])}, {_fmt_gap(r['sum_exceeds_one'][1])})",
                        _fmt_gap(r['closed_form'].get('shifted_sum_absorbs', float('nan'))),
                        _fmt_gap(r['closed_form'].get('exact_rounded_once', float('nan'))),
                        r["distinct_top_outputs"] if r["distinct_top_outputs"] is not None else "—", r["method"],
                        "—" if proved is None else ("yes" if checked_by_coq(r, proved) else "no")]
                       for r in two]), ""]
        f32 = by_config.get("float32", "shifted", 2, "equal")
        if f32:
            md += [f"In float32, the max-shifted softmax of two classes returns exactly 1.0 from a logit gap of "
                   f"{_fmt_gap(f32['top_is_one_from_gap'])} on: the sum 1 + e^−gap rounds to 1 there, which is "
                   f"p·ln 2 = 24·ln 2 = {f32['closed_form']['shifted_sum_absorbs']:.4f} rounded onto the grid — "
                   f"earlier than the exact softmax rounded once "
                   f"({f32['closed_form']['exact_rounded_once']:.4f}). The other output stays non-zero until "
                   f"{_fmt_gap(f32['others_zero_from_gap'])}, so for every gap in between the two outputs are "
                   "1.0 and a positive number: they sum to more than 1.", ""]
        md += ["Where the closed forms and the measured gaps differ, the computation is to blame: the max-shifted "
               "algorithm saturates when its *sum* absorbs e^−gap (p·ln 2), before the exact softmax would round "
               "to 1. Low-precision formats (float8, bfloat16) saturate at single-digit gaps. The formats with an "
               "unbounded exponent (mp, decimal) never round the other outputs to 0.", ""]
    if "thresholds.png" in figures:
        md += ["![thresholds per format and algorithm](thresholds.png)", ""]

    for m in sorted({r["classes"] for r in T}):
        rows = []
        for f in formats:
            cells = [by_config.get(f, a, m, "equal") for a in algorithms]
            if any(cells):
                rows.append([f] + [_fmt_gap(c["top_is_one_from_gap"]) if c else "—" for c in cells])
        if rows:
            md += [f"## Gap from which the top output is exactly 1 — {m} classes, all rivals equal", "",
                   _table(["format"] + list(algorithms), rows), ""]

    naive = [r for r in T if r["algorithm"] == "naive" and r["nan_from_gap"] and r["rivals"] == "equal"
             and r["classes"] == 2]
    if naive:
        md += ["## The naive algorithm overflows", "",
               "exp(u)/Σexp(u) returns NaN once e^u overflows; before that its top output is not even monotone: "
               "it reaches 1, leaves it, and comes back (the exceptions below).", "",
               _table(["format", "top = 1 first at gap", "NaN from gap",
                       "intervals after the first 1 where it is not 1"],
                      [[r["format"], _fmt_gap(r["top_is_one_from_gap"]), _fmt_gap(r["nan_from_gap"]),
                        len(r["top_not_one_after_first"])] for r in naive]), ""]

    if data["orders"]:
        md += ["## 1000 classes and the order of summation", "",
               "With 999 equal rivals, the top-first sequential sum absorbs each tiny term one at a time, so the "
               "threshold does not move with M; summing the rivals first (max last) or pairwise lets them add up "
               "to something 1 cannot absorb, and the threshold moves by about ln(M − 1).", "",
               _table(["format", "order", "top = 1 from gap", "others = 0 from gap", "exact softmax rounded once"],
                      [[r["format"], r["order"], _fmt_gap(r["top_is_one_from_gap"]),
                        _fmt_gap(r["others_zero_from_gap"]), f"{r['closed_form']['exact_rounded_once']:.6g}"]
                       for r in data["orders"]]), ""]
    if data["accumulation"]:
        md += ["## Wider accumulation (inputs and outputs in the narrow format)", "",
               _table(["format", "accumulate", "classes", "top = 1 from gap", "others = 0 from gap"],
                      [[r["format"], r["accumulate"], r["classes"], _fmt_gap(r["top_is_one_from_gap"]),
                        _fmt_gap(r["others_zero_from_gap"])] for r in data["accumulation"]]), "",
               "Accumulating in a wider format does not help the top output: it is rounded to the narrow output "
               "format at the end, and that rounding alone reaches 1 at the exact-rounded-once gap.", ""]
    if data["measures"]:
        md += ["## Measures that do not saturate", "",
               "From which gap each measure stops changing (two classes; 'never' = it keeps distinguishing gaps up "
               "to the largest one the format holds):", "",
               _table(["format"] + list(MEASURES),
                      [[r["format"]] + [r[m] if str(r[m]).startswith("undefined") else _fmt_gap(r[m])
                                        for m in MEASURES] for r in data["measures"]]), "",
               "The logit margin and the log-sum-exp log-odds never saturate; log-softmax in its log1p form holds "
               "on until e^−gap underflows; the log-odds computed from a rounded probability saturate (to ∞) "
               "exactly where the probability does.", ""]
    for name, caption in (("sum_window.png", "window where the outputs sum to more than 1"),
                          ("measures.png", "saturating against non-saturating measures")):
        if name in figures:
            md += [f"![{caption}]({name})", ""]
    md += [f"Computed in {data['seconds']} s. Every number above is in `report.json`.", ""]
    return "\n".join(md)
