"""The language-model section of the report: log-probability kernels, the fused cross-entropy, the log1p gain,
attention one-hot gaps and soft-capping, as JSON-ready rows and one Markdown fragment."""
from __future__ import annotations

import warnings

from precision.common.markdown import table
from precision.formats.dtypes import NARROW
from precision.kernels.attention import REFERENCE, attention_thresholds, available_backends
from precision.kernels.log_probabilities import (
    LOG_PROBABILITY_KERNELS,
    cross_entropy_thresholds,
    log1p_gain,
    log_thresholds,
)
from precision.kernels.registry import get_kernel
from precision.kernels.settings import VOCABULARIES, setting, top_one_gap

DTYPES_16_32 = NARROW


def language_model_rows(dtypes=DTYPES_16_32, vocabs=(32000, 128256), seq_lens=(128, 1024), tokens: int = 8192,
                        softcap: float = 30.0) -> dict:
    """Every measurement of the section, as rows of plain values (gaps are values of the dtype)."""
    logs = [log_thresholds(k, d, m).as_dict() for k in LOG_PROBABILITY_KERNELS if get_kernel(k).available()
            for d in dtypes if d in get_kernel(k).dtypes for m in (2, *vocabs)]
    ce = [cross_entropy_thresholds(d, m, tokens=t).as_dict() for d in dtypes for m in (2, *vocabs)
          for t in ((1,) if m == 2 else (1, tokens))]
    gain = [log1p_gain(d, 2).as_dict() for d in dtypes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attention = [attention_thresholds(b, d, n).as_dict() for d in dtypes
                     for b in (REFERENCE, *available_backends(d)) for n in seq_lens]
    caps = [setting("torch", d, m, softcap=softcap, kernel_gap=top_one_gap("torch", d, m)).as_dict()
            for d in dtypes for m in vocabs]
    return {"log_probabilities": logs, "cross_entropy": ce, "log1p_gain": gain, "attention": attention,
            "softcap": caps}


def _g(v) -> str:
    return "never" if v is None else f"{v:.6g}"


def language_model_markdown(rows: dict) -> str:
    """The section as Markdown: one table per measurement."""
    out = ["## Language models: log-probabilities, cross-entropy, attention, soft-capping", "",
           "All rivals equal; gaps are values of the dtype; synthetic logits.", "",
           "### Log-probabilities", "",
           table(["kernel", "dtype", "classes", "top log p exactly 0 from", "other log p −inf from",
                  "other exp(log p) 0 from"],
                 [[r["kernel"], r["dtype"], f"{r['classes']:,}", _g(r["top_log_zero_from_gap"]),
                   _g(r["other_log_inf_from_gap"]), _g(r["other_probability_zero_from_gap"])]
                  for r in rows["log_probabilities"]]),
           "", "### torch.nn.functional.cross_entropy (target: the top token)", "",
           table(["dtype", "classes", "tokens averaged", "loss exactly 0 from", "top gradient 0 from",
                  "row gradient 0 from"],
                 [[r["dtype"], f"{r['classes']:,}", f"{r['tokens']:,}", _g(r["loss_zero_from_gap"]),
                   _g(r["top_gradient_zero_from_gap"]), _g(r["gradient_zero_from_gap"])]
                  for r in rows["cross_entropy"]]),
           "", "### The log1p log-softmax against torch.log_softmax (two classes, against mpmath)", "",
           table(["dtype", "torch reads 0 from", "log1p reads 0 from", "gaps compared", "torch's error (ulps)",
                  "log1p's (ulps)"],
                 [[r["dtype"], _g(r["torch_top_log_zero_from_gap"]), _g(r["log1p_top_log_zero_from_gap"]),
                   f"{r['gaps_compared']:,}", f"{r['torch_ulps'][0]:,}–{r['torch_ulps'][1]:,}",
                   f"≤ {r['log1p_max_ulps']}"] for r in rows["log1p_gain"]]),
           "", "### scaled_dot_product_attention: rows exactly one-hot", "",
           table(["backend", "dtype", "keys", "top weight 1 from", "others 0 from", "one-hot from"],
                 [[r["backend"], r["dtype"], f"{r['seq_len']:,}", _g(r["top_one_from_gap"]),
                   _g(r["others_zero_from_gap"]), _g(r["one_hot_from_gap"])] for r in rows["attention"]]),
           "", "### Soft-capping (torch.softmax)", "",
           table(["dtype", "vocabulary", "top output 1 from gap", "cap", "prevents it", "largest cap that does"],
                 [[r["dtype"], f"{r['vocab']:,} ({VOCABULARIES.get(r['vocab'], '')})", _g(r["kernel_gap"]),
                   _g(r["softcap"]), "yes" if r["cap_prevents_top_one"] else "no", _g(r["largest_safe_cap"])]
                  for r in rows["softcap"]])]
    return "\n".join(out) + "\n"
