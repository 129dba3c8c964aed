"""The opt-in report section `--rounding-modes`: every threshold of the max-shifted softmax under every rounding
mode, next to its closed form (precision.emulated.mode_forms)."""
from __future__ import annotations

from pathlib import Path

from precision.common.markdown import table
from precision.common.plotting import save_figure, subplots
from precision.emulated.mode_forms import mode_closed_forms
from precision.emulated.stochastic import first_reaching, stochastic_curve
from precision.emulated.thresholds import gap_text, thresholds
from precision.formats.binary import BinaryFormat
from precision.formats.named_formats import get_format
from precision.formats.rounding import ROUNDING_MODES

MODE_FORMATS = ("float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2")
MODE_CLASSES = {"float8_e4m3fn": (2, 1000), "float8_e5m2": (2, 1000)}  # others: 2 (1000: `thresholds --classes`)


def rounding_mode_rows(formats) -> list[dict]:
    """Thresholds of the max-shifted softmax (equal rivals, top-first sum) for each binary format of `formats`
    among `MODE_FORMATS` under each mode: two classes, and 1000 for the float8 formats."""
    rows = []
    for f in formats:
        if f not in MODE_FORMATS or not isinstance(get_format(f), BinaryFormat):
            continue
        for mode in ROUNDING_MODES:
            for m in MODE_CLASSES.get(f, (2,)):
                fmt = get_format(f).with_rounding(mode)
                rows.append(thresholds(fmt, "shifted", m).as_dict() | {"forms": mode_closed_forms(fmt, m - 1)})
    return rows


def _gap(v) -> str:
    return "never" if v is None else f"{float(v):.6g}"


def rounding_mode_markdown(rows: list[dict]) -> str:
    """The section: one row per format × mode × classes."""
    lines = ["## Rounding modes (max-shifted softmax, equal rivals, top-first sum)", "",
             "Every operation rounded under the mode. Closed forms: nearest modes about p·ln 2; toward zero and "
             "toward −∞ (the outputs are positive) (p − 1)·ln 2, ln 2 earlier, as the sum 1 + e^−g keeps 1 until "
             "e^−g reaches a whole step of 1; toward +∞ and round-to-odd never: e^−g > 0 rounds up (to odd), so "
             "the sum exceeds 1 and no rival output is ever 0. Rounding up also biases a long sum: in float8_e5m2 "
             "toward +∞, 999 additions of e^−g each round up by a whole step until the sum overflows to ∞, and "
             "every output is 0.", "",
             table(["format", "classes", "top = 1 from gap", "closed form", "others = 0 from gap", "closed form",
                    "NaN from gap", "method"],
                   [[r["format"], r["classes"], _gap(r["top_is_one_from_gap"]),
                     _gap(r["forms"]["shifted_sum_absorbs"]), _gap(r["others_zero_from_gap"]),
                     _gap(r["forms"]["others_zero"]), _gap(r["nan_from_gap"]), r["method"]]
                    for r in rows])]
    return "\n".join(lines)


STOCHASTIC_FORMATS = ("float8_e4m3fn", "float8_e5m2")  # whole curves in hundredths of a second (bfloat16: ~2 s)


def stochastic_rows(formats=STOCHASTIC_FORMATS) -> list[dict]:
    """Per format, two classes: the first gaps where P(top output = 1) under stochastic rounding reaches 1/2,
    0.99 and 1, enumerated exactly over every gap up to `curve_reach`, and the curve itself."""
    rows = []
    for f in formats:
        curve = stochastic_curve(f)
        rows.append({"format": f, "classes": 2, "first_reaching": {k: gap_text(v) for k, v in
                                                                    first_reaching(curve).items()},
                     "gaps": [gap_text(c.gap) for c in curve], "p_top_one": [float(c.p_top_one) for c in curve],
                     "expected_top": [float(c.expected_top) for c in curve]})
    return rows


def stochastic_markdown(rows: list[dict]) -> str:
    """The stochastic-rounding table."""
    return "\n".join(["## Stochastic rounding (max-shifted softmax, two classes, exact enumeration)", "",
                      "Every operation stochastically rounded; the probability that the top output is exactly 1, "
                      "enumerated over both outcomes of each rounding, never reaches 1: e^−g > 0 rounds up to the "
                      "smallest subnormal with a positive probability.", "",
                      table(["format", "P(top = 1) ≥ 1/2 from gap", "≥ 0.99 from gap", "= 1 from gap"],
                            [[r["format"], *(_gap(r["first_reaching"][k]) for k in ("1/2", "99/100", "1"))]
                             for r in rows])])


def stochastic_figure(rows: list[dict], out: Path) -> Path:
    """P(top output = 1) and E[top output] against the gap, one panel per format."""
    fig, axes = subplots(1, len(rows), figsize=(5 * len(rows), 3.6), squeeze=False)
    for ax, r in zip(axes[0], rows):
        g = [float(x) for x in r["gaps"]]
        ax.plot(g, r["p_top_one"], label="P(top output = 1)")
        ax.plot(g, r["expected_top"], "--", label="E[top output]")
        for level, value in r["first_reaching"].items():
            if value is not None:
                ax.axvline(float(value), color="grey", lw=0.6)
        ax.set(title=f"{r['format']}, 2 classes, stochastic rounding", xlabel="logit gap (linear to 1, then log)",
               xscale="symlog", xlim=(0, max(g)), ylim=(-0.02, 1.02))
        ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, out / "stochastic.png")
