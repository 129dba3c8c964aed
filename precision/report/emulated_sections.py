"""The Markdown of the report's emulated-arithmetic sections, one function each (lines of Markdown)."""
from __future__ import annotations

from precision.common.markdown import table
from precision.emulated.measures import MEASURES
from precision.report.coq_status import checked_by_coq
from precision.report.lookup import emulated, gap_cell


def _window(r: dict) -> str:
    w = r["sum_exceeds_one"]
    return "—" if not w else f"[{gap_cell(w[0])}, {gap_cell(w[1])})"


def introduction_markdown(data: dict, figures: list[str]) -> list[str]:
    """What the emulated tables measure, and the top-output figure."""
    md = ["## Emulated arithmetic: why the kernels do what they do", "",
          "The top logit sits `gap` above its rivals (all at 0). For each number format and softmax algorithm: "
          "from which gap the top output is **exactly 1**, from which gap the other outputs are exactly 0, and "
          "the window in between where the outputs **sum to more than 1**. Every gap is a value of the format "
          "itself, found exactly on its grid (the gap one step below does not saturate). exp is correctly "
          "rounded; sums run in index order with the top class first unless said otherwise.", ""]
    return md + (["![top output against gap](top_output.png)", ""] if "top_output.png" in figures else [])


def two_classes_markdown(data: dict) -> list[str]:
    """Two classes, max-shifted: every format's thresholds against the closed forms, and what Coq checked."""
    by_config = emulated(data)
    two = [r for f in data["settings"]["formats"] if (r := by_config.get(f, "shifted", 2, "equal"))]
    if not two:
        return []
    proved = data.get("coq")
    coq = ("Coq: not read (run `softmax-sat prove`, or give --proofs CERTIFICATE)" if proved is None else
           "checked by Coq: both thresholds are theorems of the `softmax-sat prove` certificate read "
           "(exp correctly rounded; proofs/coq)")
    md = ["## Two classes, max-shifted softmax", "", coq, "",
          table(["format", "top output = 1 from gap", "others = 0 from gap", "outputs sum > 1 for gaps in",
                 "p·ln 2 (sum absorbs)", "exact softmax rounded once", "distinct top outputs", "method",
                 "checked by Coq"],
                [[r["format"], gap_cell(r["top_is_one_from_gap"]), gap_cell(r["others_zero_from_gap"]), _window(r),
                  f"{r['closed_form'].get('shifted_sum_absorbs', float('nan')):.6g}",
                  f"{r['closed_form'].get('exact_rounded_once', float('nan')):.6g}",
                  r["distinct_top_outputs"] if r["distinct_top_outputs"] is not None else "—", r["method"],
                  "—" if proved is None else ("yes" if checked_by_coq(r, proved) else "no")]
                 for r in two]), ""]
    f32 = by_config.get("float32", "shifted", 2, "equal")
    if f32:
        md += [f"In float32, the max-shifted softmax of two classes returns exactly 1.0 from a logit gap of "
               f"{gap_cell(f32['top_is_one_from_gap'])} on: the sum 1 + e^−gap rounds to 1 there, which is "
               f"p·ln 2 = 24·ln 2 = {f32['closed_form']['shifted_sum_absorbs']:.4f} rounded onto the grid — "
               f"earlier than the exact softmax rounded once "
               f"({f32['closed_form']['exact_rounded_once']:.4f}). The other output stays non-zero until "
               f"{gap_cell(f32['others_zero_from_gap'])}, so for every gap in between the two outputs are "
               "1.0 and a positive number: they sum to more than 1.", ""]
    return md + ["Where the closed forms and the measured gaps differ, the computation is to blame: the max-shifted "
                 "algorithm saturates when its *sum* absorbs e^−gap (p·ln 2), before the exact softmax would round "
                 "to 1. Low-precision formats (float8, bfloat16) saturate at single-digit gaps. The formats with an "
                 "unbounded exponent (mp, decimal) never round the other outputs to 0.", ""]


def by_classes_markdown(data: dict, figures: list[str]) -> list[str]:
    """One table per number of classes: each format × algorithm's first gap with a top output of exactly 1."""
    by_config, formats, algorithms = emulated(data), data["settings"]["formats"], data["settings"]["algorithms"]
    md = ["![thresholds per format and algorithm](thresholds.png)", ""] if "thresholds.png" in figures else []
    for m in sorted({r["classes"] for r in data["thresholds"]}):
        rows = []
        for f in formats:
            cells = [by_config.get(f, a, m, "equal") for a in algorithms]
            if any(cells):
                rows.append([f] + [gap_cell(c["top_is_one_from_gap"]) if c else "—" for c in cells])
        if rows:
            md += [f"## Gap from which the top output is exactly 1 — {m} classes, all rivals equal", "",
                   table(["format"] + list(algorithms), rows), ""]
    return md


def naive_markdown(data: dict) -> list[str]:
    """Where the naive algorithm overflows, and how often its top output leaves 1 before."""
    naive = [r for r in data["thresholds"] if r["algorithm"] == "naive" and r["nan_from_gap"]
             and r["rivals"] == "equal" and r["classes"] == 2]
    if not naive:
        return []
    return ["## The naive algorithm overflows", "",
            "exp(u)/Σexp(u) returns NaN once e^u overflows; before that its top output is not even monotone: "
            "it reaches 1, leaves it, and comes back (the exceptions below).", "",
            table(["format", "top = 1 first at gap", "NaN from gap", "intervals after the first 1 where it is not 1"],
                  [[r["format"], gap_cell(r["top_is_one_from_gap"]), gap_cell(r["nan_from_gap"]),
                    len(r["top_not_one_after_first"])] for r in naive]), ""]


def orders_markdown(data: dict) -> list[str]:
    """1000 classes under each summation order."""
    if not data["orders"]:
        return []
    return ["## 1000 classes and the order of summation", "",
            "With 999 equal rivals, the top-first sequential sum absorbs each tiny term one at a time, so the "
            "threshold does not move with M; summing the rivals first (max last) or pairwise lets them add up "
            "to something 1 cannot absorb, and the threshold moves by about ln(M − 1).", "",
            table(["format", "order", "top = 1 from gap", "others = 0 from gap", "exact softmax rounded once"],
                  [[r["format"], r["order"], gap_cell(r["top_is_one_from_gap"]), gap_cell(r["others_zero_from_gap"]),
                    f"{r['closed_form']['exact_rounded_once']:.6g}"] for r in data["orders"]]), ""]


def accumulation_markdown(data: dict) -> list[str]:
    """Narrow formats accumulated in a wider one."""
    if not data["accumulation"]:
        return []
    return ["## Wider accumulation (inputs and outputs in the narrow format)", "",
            table(["format", "accumulate", "classes", "top = 1 from gap", "others = 0 from gap"],
                  [[r["format"], r["accumulate"], r["classes"], gap_cell(r["top_is_one_from_gap"]),
                    gap_cell(r["others_zero_from_gap"])] for r in data["accumulation"]]), "",
            "Accumulating in a wider format does not help the top output: it is rounded to the narrow output "
            "format at the end, and that rounding alone reaches 1 at the exact-rounded-once gap.", ""]


def measures_markdown(data: dict, figures: list[str]) -> list[str]:
    """From which gap each measure stops changing, and the figures of the sum window and the measures."""
    md = []
    if data["measures"]:
        md += ["## Measures that do not saturate", "",
               "From which gap each measure stops changing (two classes; 'never' = it keeps distinguishing gaps up "
               "to the largest one the format holds):", "",
               table(["format"] + list(MEASURES),
                     [[r["format"]] + [r[m] if str(r[m]).startswith("undefined") else gap_cell(r[m])
                                       for m in MEASURES] for r in data["measures"]]), "",
               "The logit margin and the log-sum-exp log-odds never saturate; log-softmax in its log1p form holds "
               "on until e^−gap underflows; the log-odds computed from a rounded probability saturate (to ∞) "
               "exactly where the probability does.", ""]
    for name, caption in (("sum_window.png", "window where the outputs sum to more than 1"),
                          ("measures.png", "saturating against non-saturating measures")):
        if name in figures:
            md += [f"![{caption}]({name})", ""]
    return md
