"""The Markdown of the report's real-kernel sections, one function each: the kernels on this machine (with the
exp-error verdicts), torch's CPU code paths, and language models."""
from __future__ import annotations

from fractions import Fraction

from precision.common.markdown import table
from precision.emulated.exp_error import PROVED_FORMATS
from precision.kernels.settings import VOCABULARIES
from precision.report.lookup import gap_cell, measured, measured_dtypes


def _kernel_cell(row: dict | None) -> str:
    return "—" if row is None else gap_cell(row["top_is_one_from_gap"])


def kernels_markdown(data: dict, figures: list[str]) -> list[str]:
    """The real-kernel section: headline table, every measured threshold, agreement with emulation, exp errors."""
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
               table(["kernel"] + dtypes, [[name] + [_kernel_cell(kernels.get(name, d, m, "equal")) for d in dtypes]
                                           for name in names]), ""]
    if "kernels.png" in figures:
        md += ["![first gap with top output exactly 1, per kernel and dtype](kernels.png)", ""]
    md += ["**Every measured threshold**", "",
           table(["kernel", "dtype", "classes", "rivals", "top = 1 from gap", "others = 0 from gap",
                  "outputs sum > 1 for gaps in", "NaN from gap", "intervals after the first 1 where it is not 1",
                  "method"],
                 [[r["kernel"], r["dtype"], r["classes"], r["rivals"], gap_cell(r["top_is_one_from_gap"]),
                   gap_cell(r["others_zero_from_gap"]),
                   "—" if not r["sum_exceeds_one"] else
                   f"[{gap_cell(r['sum_exceeds_one'][0])}, {gap_cell(r['sum_exceeds_one'][1])})",
                   gap_cell(r["nan_from_gap"]), len(r["top_not_one_after_first"]), r["method"]] for r in T]), ""]
    if k["agreement"]:
        md += ["**Does the emulation explain the kernel?** Each kernel against its emulated model (the algorithm, "
               "the precision it computes in, the order of its sum) on the same inputs, output by output:", "",
               table(["kernel", "dtype", "emulated model", "rows", "rows differing", "largest difference (ulps)",
                      "why"],
                     [[a["kernel"], a["dtype"], a["model"], f"{a['rows']} ({a['compared']})",
                       "none: bit for bit" if a["bit_for_bit"] else a["differing"], a["max_ulps"],
                       k["kernels"][a["kernel"]]["model"][a["dtype"]]["why"]] for a in k["agreement"]]), ""]
    return md + exp_error_markdown(k.get("exp_error", []))


def exp_error_markdown(rows: list[dict]) -> list[str]:
    """The exp-error verdicts (`precision.kernels.exp_error.exp_error_rows`) as a short Markdown table (lines)."""
    if not rows:
        return []

    def cell_k(r):
        if r["k"] is None:
            return "—"
        return f"{r['k']} ({'Coq' if r['proved_in_coq'] else 'computed, not proved'})"

    def cell_iv(r):
        return "—" if r["interval"] is None else f"[{float(Fraction(r['interval'][0]))!r}, " \
            f"{float(Fraction(r['interval'][1]))!r}]"

    def cell_in(r):
        return "—" if r["inside"] is None else ("yes" if r["inside"] else "**no**")

    head = ["kernel", "dtype", "exp error (ulps)", "k covering it", "proved interval [T_lo, T_hi]",
            "measured threshold", "inside", "note"]
    cells = []
    for r in rows:
        err = "not measurable" if r["exp_error_ulps"] is None else f"{r['exp_error_ulps']:.6g}"
        meas = "—" if r["measured"] is None else f"{float(Fraction(str(r['measured'])))!r}"
        cells.append([r["kernel"], r["dtype"], err, cell_k(r), cell_iv(r), meas, cell_in(r), r.get("note", "")])
    lines = table(head, cells).split("\n")
    outside = sorted({f"{r['kernel']} ({r['dtype']})" for r in rows if r["inside"] is False})
    intro = ["**Is a kernel's threshold explained by its exp error?** Each kernel's own exp, called in the dtype on "
             "the gaps that matter, against the exact exp (max error in ulps); the two-class threshold of any "
             "kernel whose exp is within k ulps lies in [T_lo(k), T_hi(k)] (proved in Coq for k = 1/2, 1, 2 in "
             f"{', '.join(PROVED_FORMATS)}; computed, not proved, for larger k). The model: every operation "
             "rounded in the dtype, the top class's 1 plus the rival's exp; a kernel that computes in a wider "
             "precision falls outside.", ""]
    tail = ["", "Not explained by their exp error alone: " + ", ".join(outside) + "." if outside else
            "Every measured threshold with a verdict lies in its interval."]
    return intro + lines + tail + [""]


def _paths_gap(v) -> str:
    return "never" if v is None else f"{v:.9g}"


def cpu_paths_markdown(data: dict) -> str:
    """The section on torch's CPU paths (`precision.report.dispatch.compare_paths`): the rows where the paths
    disagree first."""
    caps, machine = data["capabilities"], data["machine"]
    ran = ", ".join(f"`{c}` → {data['ran'][c]}" for c in caps)
    here = machine.get("torch_cpu_capability", "unknown")
    lines = ["## torch's CPU code paths", "",
             f"PyTorch picks its CPU code path at run time from the processor. This one ({machine['processor']}; "
             f"flags {machine['cpu_flags'] or 'unknown'}) runs **{here}** unless told otherwise; every path it "
             f"supports was measured in its own process with `ATEN_CPU_CAPABILITY` ({ran}). On another processor, "
             "read the column of `torch.backends.cpu.get_cpu_capability()`: AVX512 needs avx512f/bw/vl/dq and fma, "
             "AVX2 needs avx2 and fma, older x86 and most ARM machines run DEFAULT.", ""]
    disagree = [r for r in data["rows"] if not r["agree"]]
    lines += [f"The paths disagree on {len(disagree)} of {len(data['rows'])} configurations." if disagree else
              f"The paths agree on all {len(data['rows'])} configurations.", ""]
    header = ["kernel", "dtype", "M", "rivals"] + [f"top = 1 from ({c})" for c in caps] + \
        [f"others 0 from ({c})" for c in caps] + ["agree", "emulated model of each path"]
    cells = []
    for r in sorted(data["rows"], key=lambda r: r["agree"]):
        models = "; ".join(f"{c}: {', '.join(ms) or 'none found'}" for c, ms in r.get("models", {}).items())
        cells.append([r["kernel"], r["dtype"], r["classes"], r["rivals"]] +
                     [_paths_gap(r["paths"][c]["top_is_one_from_gap"]) for c in caps] +
                     [_paths_gap(r["paths"][c]["others_zero_from_gap"]) for c in caps] +
                     ["yes" if r["agree"] else "**no**", models or "—"])
    return "\n".join(lines + [table(header, cells)]) + "\n"


def language_models_markdown(rows: dict) -> str:
    """The language-model section (`precision.report.language_models.language_model_rows`): one table per
    measurement."""
    g = gap_cell
    out = ["## Language models: log-probabilities, cross-entropy, attention, soft-capping", "",
           "All rivals equal; gaps are values of the dtype; synthetic logits.", "",
           "### Log-probabilities", "",
           table(["kernel", "dtype", "classes", "top log p exactly 0 from", "other log p −inf from",
                  "other exp(log p) 0 from"],
                 [[r["kernel"], r["dtype"], f"{r['classes']:,}", g(r["top_log_zero_from_gap"]),
                   g(r["other_log_inf_from_gap"]), g(r["other_probability_zero_from_gap"])]
                  for r in rows["log_probabilities"]]),
           "", "### torch.nn.functional.cross_entropy (target: the top token)", "",
           table(["dtype", "classes", "tokens averaged", "loss exactly 0 from", "top gradient 0 from",
                  "row gradient 0 from"],
                 [[r["dtype"], f"{r['classes']:,}", f"{r['tokens']:,}", g(r["loss_zero_from_gap"]),
                   g(r["top_gradient_zero_from_gap"]), g(r["gradient_zero_from_gap"])]
                  for r in rows["cross_entropy"]]),
           "", "### The log1p log-softmax against torch.log_softmax (two classes, against mpmath)", "",
           table(["dtype", "torch reads 0 from", "log1p reads 0 from", "gaps compared", "torch's error (ulps)",
                  "log1p's (ulps)"],
                 [[r["dtype"], g(r["torch_top_log_zero_from_gap"]), g(r["log1p_top_log_zero_from_gap"]),
                   f"{r['gaps_compared']:,}", f"{r['torch_ulps'][0]:,}–{r['torch_ulps'][1]:,}",
                   f"≤ {r['log1p_max_ulps']}"] for r in rows["log1p_gain"]]),
           "", "### scaled_dot_product_attention: rows exactly one-hot", "",
           table(["backend", "dtype", "keys", "top weight 1 from", "others 0 from", "one-hot from"],
                 [[r["backend"], r["dtype"], f"{r['seq_len']:,}", g(r["top_one_from_gap"]),
                   g(r["others_zero_from_gap"]), g(r["one_hot_from_gap"])] for r in rows["attention"]]),
           "", "### Soft-capping (torch.softmax)", "",
           table(["dtype", "vocabulary", "top output 1 from gap", "cap", "prevents it", "largest cap that does"],
                 [[r["dtype"], f"{r['vocab']:,} ({VOCABULARIES.get(r['vocab'], '')})", g(r["kernel_gap"]),
                   g(r["softcap"]), "yes" if r["cap_prevents_top_one"] else "no", g(r["largest_safe_cap"])]
                  for r in rows["softcap"]])]
    return "\n".join(out) + "\n"
