"""The precision-saturation report behind `softmax-sat report` (and `softmax-sat thresholds`)."""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .formats import get_format
from .measures import MEASURES, saturation_gap
from .saturation import ORDERS, Thresholds, thresholds
from .softmax import ALGORITHMS

DEFAULT_FORMATS = ("float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2",
                   "mp113", "decimal7", "delta0.01", "delta0.01-paper")
DEFAULT_CLASSES = (2, 10, 1000)
OBJECT_FORMAT_CLASSES = (2, 10)  # mp/decimal/δ arithmetic is pure Python: M = 1000 only when asked for
ORDER_STUDY = ("float16", "float32", "float64")
ACCUMULATION_STUDY = (("float16", "float32"), ("bfloat16", "float32"), ("float8_e4m3fn", "float16"))


def _csv(kind, choices=None, cast=str):
    def parse(text):
        items = [cast(x.strip()) for x in text.split(",") if x.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"{kind}: give a comma-separated list")
        for x in items:
            if choices is not None and x not in choices:
                raise argparse.ArgumentTypeError(f"{kind}: unknown {x!r}; expected some of {', '.join(choices)}")
            if kind == "formats":
                try:
                    get_format(x)
                except ValueError as e:
                    raise argparse.ArgumentTypeError(str(e)) from None
            if kind == "classes" and x < 2:
                raise argparse.ArgumentTypeError(f"classes must be integers ≥ 2, got {x}")
        return tuple(items)
    return parse


def configure_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--formats", type=_csv("formats"), default=DEFAULT_FORMATS,
                        help="comma-separated format names (float16, bfloat16, float32, float64, float8_e4m3fn, "
                             "float8_e5m2, mpBITS, decimalDIGITS, deltaSTEP[-paper])")
    parser.add_argument("--algorithms", type=_csv("algorithms", tuple(ALGORITHMS)), default=tuple(ALGORITHMS))
    parser.add_argument("--classes", type=_csv("classes", cast=int), default=None,
                        help=f"numbers of classes (default {DEFAULT_CLASSES}; {OBJECT_FORMAT_CLASSES} for the "
                             "pure-Python formats mp/decimal/δ)")
    parser.add_argument("--out", type=Path, default=Path("reports/saturation"))
    parser.add_argument("--logits", type=Path, default=None,
                        help="analyse your own logits: .npy, .csv or .pt file of shape (N, C)")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")


def configure_thresholds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", default="float32")
    parser.add_argument("--algorithm", default="shifted", choices=sorted(ALGORITHMS))
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--rivals", default="equal", choices=("one", "equal"))
    parser.add_argument("--accumulate", default=None)
    parser.add_argument("--order", default="sequential", choices=ORDERS)


def run_thresholds(args) -> int:
    t = thresholds(args.format, args.algorithm, args.classes, args.rivals, args.accumulate, args.order)
    print(json.dumps(t.as_dict(), indent=2))
    return 0


def configurations(formats, algorithms, classes) -> list[tuple]:
    """Every (format, algorithm, classes, rivals) of the table; 'one' rival only where it differs from 'equal'."""
    out = []
    for f in formats:
        ms = classes or (DEFAULT_CLASSES if get_format(f).carrier else OBJECT_FORMAT_CLASSES)
        for a in algorithms:
            for m in ms:
                out += [(f, a, m, "equal")] + ([(f, a, m, "one")] if m > 2 else [])
    return out


def _progress(items, desc):
    return tqdm(items, desc=desc, unit="config", file=sys.stderr, leave=False, disable=None)


def _versions() -> dict:
    import matplotlib
    import mpmath
    return {"python": platform.python_version(), "numpy": np.__version__, "mpmath": mpmath.__version__,
            "matplotlib": matplotlib.__version__, "platform": platform.platform()}


def _gap(t: Thresholds, key="top_is_one_from_gap") -> float | None:
    v = getattr(t, key)
    return None if v is None else float(Fraction(v))


def compute(formats, algorithms, classes) -> dict:
    """All the numbers of the report, as one JSON-ready dict."""
    start = time.perf_counter()
    table = [thresholds(*c) for c in _progress(configurations(formats, algorithms, classes), "thresholds")]
    orders = [thresholds(f, "shifted", 1000, "equal", order=o)
              for f in _progress([f for f in ORDER_STUDY if f in formats], "summation orders") for o in ORDERS]
    accumulation = [thresholds(f, "shifted", m, "equal", accumulate=acc)
                    for f, acc in ACCUMULATION_STUDY if f in formats for m in (2, 1000)]
    measures = []
    for f in _progress(formats, "measures"):
        row = {"format": f}
        for name in MEASURES:
            try:
                g = saturation_gap(f, name, 2)
                row[name] = None if g is None else str(g)
            except ValueError as e:  # e.g. log(0) on the δ-grid, which has no infinity
                row[name] = f"undefined: {e}"
        measures.append(row)
    return {"settings": {"formats": list(formats), "algorithms": list(algorithms),
                         "classes": list(classes) if classes else {"carrier": list(DEFAULT_CLASSES),
                                                                   "pure_python": list(OBJECT_FORMAT_CLASSES)},
                         "rivals": ["equal", "one"], "exp": "correctly rounded", "order": "sequential"},
            "versions": _versions(),
            "thresholds": [t.as_dict() for t in table], "orders": [t.as_dict() for t in orders],
            "accumulation": [t.as_dict() for t in accumulation], "measures": measures,
            "seconds": round(time.perf_counter() - start, 2)}


def run_report(args) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.logits is not None:
        from .logits_report import LOGIT_FORMATS, analyse_logits
        formats = LOGIT_FORMATS if args.formats == DEFAULT_FORMATS else args.formats
        analyse_logits(args.logits, out, formats, args.algorithms[0] if len(args.algorithms) == 1 else "shifted",
                       figures=not args.no_figures)
        print(f"wrote {out / 'logits.md'}, {out / 'logits.json'}")
        return 0
    data = compute(args.formats, args.algorithms, args.classes)
    (out / "report.json").write_text(json.dumps(data, indent=1))
    figures = []
    if not args.no_figures:
        from .report_figures import draw_all
        figures = draw_all(data, out)
    (out / "report.md").write_text(markdown(data, [p.name for p in figures]))
    print(f"wrote {out / 'report.md'}, {out / 'report.json'} and {len(figures)} figures in {data['seconds']} s")
    return 0


# --- Markdown ---------------------------------------------------------------------------------------
def _fmt_gap(v) -> str:
    if v is None:
        return "never"
    x = float(Fraction(v)) if isinstance(v, str) else v
    return f"{x:.6g}"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def _find(records, **kw):
    return next((r for r in records if all(r.get(k) == v for k, v in kw.items())), None)


def markdown(data: dict, figures: list[str]) -> str:
    T = data["thresholds"]
    formats = data["settings"]["formats"]
    algorithms = data["settings"]["algorithms"]
    md = ["# Precision-saturation report", "",
          "The top logit sits `gap` above its rivals (all at 0). For each number format and softmax algorithm: "
          "from which gap the top output is **exactly 1**, from which gap the other outputs are exactly 0, and "
          "the window in between where the outputs **sum to more than 1**. Every gap is a value of the format "
          "itself, found exactly on its grid (the gap one step below does not saturate). exp is correctly "
          "rounded; sums run in index order with the top class first unless said otherwise.", ""]
    if "top_output.png" in figures:
        md += ["![top output against gap](top_output.png)", ""]

    two = [r for f in formats if (r := _find(T, format=f, algorithm="shifted", classes=2, rivals="equal"))]
    if two:
        md += ["## Two classes, max-shifted softmax", "",
               _table(["format", "top output = 1 from gap", "others = 0 from gap", "outputs sum > 1 for gaps in",
                       "p·ln 2 (sum absorbs)", "exact softmax rounded once", "distinct top outputs", "method"],
                      [[r["format"], _fmt_gap(r["top_is_one_from_gap"]), _fmt_gap(r["others_zero_from_gap"]),
                        "—" if not r["sum_exceeds_one"] else
                        f"[{_fmt_gap(r['sum_exceeds_one'][0])}, {_fmt_gap(r['sum_exceeds_one'][1])})",
                        f"{r['closed_form'].get('shifted_sum_absorbs', float('nan')):.6g}",
                        f"{r['closed_form'].get('exact_rounded_once', float('nan')):.6g}",
                        r["distinct_top_outputs"] if r["distinct_top_outputs"] is not None else "—", r["method"]]
                       for r in two]), ""]
        f32 = _find(two, format="float32")
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
            cells = [_find(T, format=f, algorithm=a, classes=m, rivals="equal") for a in algorithms]
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
               _table(["format", "top = 1 first at gap", "NaN from gap", "intervals after the first 1 where it is not 1"],
                      [[r["format"], _fmt_gap(r["top_is_one_from_gap"]), _fmt_gap(r["nan_from_gap"]),
                        len(r["top_is_one_exceptions"])] for r in naive]), ""]

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
