"""The numbers of the report's language-model section: the log-probability kernels (every kernel registered in the
"log-probabilities" section), the fused cross-entropy, the log1p gain, attention one-hot gaps and soft-capping."""
from __future__ import annotations

import warnings

from precision.formats.dtypes import NARROW
from precision.kernels.attention import REFERENCE, attention_thresholds, available_backends
from precision.kernels.log_probabilities import cross_entropy_thresholds, log1p_gain, log_thresholds
from precision.kernels.registry import in_section
from precision.kernels.settings import setting, top_one_gap


def language_model_rows(dtypes=NARROW, vocabs=(32000, 128256), seq_lens=(128, 1024), tokens: int = 8192,
                        softcap: float = 30.0) -> dict:
    """Every measurement of the section, as rows of plain values (gaps are values of the dtype)."""
    logs = [log_thresholds(k, d, m).as_dict() for k in in_section("log-probabilities")
            for d in dtypes if d in k.dtypes for m in (2, *vocabs)]
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
