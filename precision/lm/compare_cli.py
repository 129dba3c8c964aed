"""`softmax-sat lm compare`: the same tokens scored by two setups (`precision.lm.compare`), on one process or a
Dask cluster (the same tasks, merged in the same order: the same numbers), written to a results folder:
compare.json, compare.md and compare_log_ratio.png."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from precision.common.errors import InputError, under
from precision.common.files import check_writable, output_folder, write_json_atomic, write_text_atomic
from precision.common.markdown import table
from precision.common.publishing import publishing
from precision.lm.compare import (
    BINS_PER_DECADE,
    LOW_DECADE,
    SIZE,
    Comparison,
    Setup,
    Task,
    plan_tasks,
    run_task,
    setup,
)

OUTPUTS = ("compare.json", "compare.md", "compare_log_ratio.png")


def _epsilons(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give numbers in (0, 1), comma-separated") from None
    if not values or not all(0 < v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every ε must lie in (0, 1)")
    return values


def configure_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trainer", nargs="+", required=True, help="setup A's logits dump (files, globs, folders)")
    p.add_argument("--sampler", nargs="+", default=None, help="setup B's dump, of the same shape (default: A's)")
    p.add_argument("--trainer-kernel", default="torch-log")
    p.add_argument("--sampler-kernel", default="torch-log")
    p.add_argument("--trainer-dtype", default="float32")
    p.add_argument("--sampler-dtype", default=None, help="default: bfloat16 on A's dump, float32 on another")
    p.add_argument("--tokens", type=Path, default=None,
                   help="the chosen tokens: an .npy of token ids, or a study's parts/*.tokens.npz (default: A's "
                        "top tokens)")
    p.add_argument("--epsilons", type=_epsilons, default=(0.2, 0.1), help="clip bands [1−ε, 1+ε] (default 0.2,0.1)")
    p.add_argument("--tasks", type=int, default=4, help="row ranges per shard (default 4; part of the numbers' "
                                                        "merge order, so of the config)")
    p.add_argument("--scheduler", default=None, help="dask (a local cluster) or tcp://HOST:PORT")
    p.add_argument("--workers", type=int, default=None, help="local Dask workers (default: one per core)")
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--out", type=output_folder, default=Path("reports/lm-compare"))


def read_tokens(path: Path, rows: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Chosen tokens (and, from a study's tokens file, each token's text and context) for `rows` rows."""
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                chosen = z["chosen"]
                texts = (z["token_text"], z["context_text"]) if "context_text" in z.files else (None, None)
        else:
            chosen, texts = np.load(path, allow_pickle=False), (None, None)
    except (OSError, ValueError, KeyError) as e:
        raise InputError("tokens", f"cannot read token ids from {path}: {e}") from None
    if chosen.shape != (rows,) or chosen.dtype.kind not in "iu" or (chosen < 0).any():
        raise InputError("tokens", f"{path}: expected {rows} token ids (one per row), got {chosen.shape} "
                                   f"{chosen.dtype}{' with a negative id' if chosen.size and chosen.min() < 0 else ''}")
    return chosen.astype(np.int64), texts[0], texts[1]


def _run(task: Task, a: tuple, b: tuple, chosen, epsilons, first_row: int) -> Comparison:
    """A task on a Dask worker (setups travel as shards and kernel names)."""
    from precision.logits.dask_scan import with_worker_threads
    sa, sb = setup(list(a[0]), a[1], a[2]), setup(list(b[0]), b[1], b[2])
    return with_worker_threads("torch" in (sa.kernel.package, sb.kernel.package),
                               lambda: run_task(task, sa, sb, chosen, epsilons, first_row))


def compare_setups(a: Setup, b: Setup, chosen: np.ndarray | None, epsilons=(0.2, 0.1), tasks_per_shard: int = 4,
                   scheduler: str | None = None, workers: int | None = None) -> Comparison:
    """Every task of the two setups, merged in task order (see `precision.lm.compare`)."""
    tasks = plan_tasks(a, b, tasks_per_shard)
    offsets = np.cumsum([0] + [s.rows for s in a.shards])
    firsts = [int(offsets[t.index]) + t.start for t in tasks]
    pick = lambda t, f: None if chosen is None else chosen[f:f + t.stop - t.start]
    if scheduler is None:
        results = [run_task(t, a, b, pick(t, f), epsilons, f) for t, f in zip(tasks, firsts)]
    else:
        from precision.logits.dask_scan import dask_client
        spec = lambda s: (s.shards, s.kernel.name, s.dtype)
        with dask_client(scheduler, workers or (min(len(tasks), os.cpu_count() or 1) if scheduler == "dask"
                                                else None)) as client:
            futures = [client.submit(_run, t, spec(a), spec(b), pick(t, f), epsilons, f, pure=False)
                       for t, f in zip(tasks, firsts)]
            results = client.gather(futures)
    total = results[0]
    for r in results[1:]:
        total = total.merge(r)
    return total


def comparison_data(c: Comparison, a: Setup, b: Setup, texts) -> dict:
    """compare.json: the setups, the counts, the means, the clip bands, the histogram and the worst tokens."""
    n = max(c.finite, 1)
    token_text, context_text = texts
    worst = []
    for mag, neg_row, la, lb, token in c.worst:
        row = -neg_row
        entry = {"row": row, "token": token, "log_p_trainer": _finite(la), "log_p_sampler": _finite(lb),
                 "log_ratio": _finite(la - lb) if np.isfinite(la - lb) else ("+inf" if lb < la else "-inf")}
        if token_text is not None:
            entry |= {"text": str(token_text[row]), "context": str(context_text[row])}
        worst.append(entry)
    disagreements = []
    for row, token, la, lb in c.disagreements:
        entry = {"row": row, "token": token, "log_p_trainer": _finite(la), "log_p_sampler": _finite(lb)}
        if token_text is not None:
            entry |= {"text": str(token_text[row]), "context": str(context_text[row])}
        disagreements.append(entry)
    nonzero = {str(i - SIZE // 2): int(v) for i, v in enumerate(c.histogram) if v}
    return {"trainer": a.describe(), "sampler": b.describe(), "tokens": c.tokens, "finite_log_ratio": c.finite,
            "log_ratio_exactly_0": c.equal, "nan": c.nan,
            "log_p_exactly_0": {"trainer_only": c.a_zero_only, "sampler_only": c.b_zero_only, "both": c.both_zero},
            "log_p_minus_inf": {"trainer_only": c.a_inf_only, "sampler_only": c.b_inf_only, "both": c.both_inf},
            "outside_clip_band": [{"epsilon": e, "tokens": o, "percent": round(100 * o / max(c.tokens, 1), 4)}
                                  for e, o in zip(c.epsilons, c.outside)],
            "mean_log_ratio": c.sums["r"] / n, "mean_abs_log_ratio": c.sums["abs_r"] / n,
            "max_abs_log_ratio": c.max_abs_r,
            "kl_sampler_trainer": {k: c.sums[k] / n for k in ("k1", "k2", "k3")},
            "histogram": {"bins": f"0: r = 0; ±b (b ≥ 1): |r| in [10^({LOW_DECADE} + (b−1)/{BINS_PER_DECADE}), "
                                  f"10^({LOW_DECADE} + b/{BINS_PER_DECADE})), the sign of r (ends clipped)",
                          "counts": nonzero},
            "worst": worst, "exactly_0_or_minus_inf_under_one_only": disagreements}


def _finite(v: float):
    return float(v) if np.isfinite(v) else str(v)


def markdown(d: dict, figures: bool) -> str:
    a, b = d["trainer"], d["sampler"]
    lines = ["# Trainer versus sampler: the same tokens scored by two setups", "",
             f"Trainer: {a['kernel']} in {a['dtype']} on {', '.join(a['shards'])}; sampler: {b['kernel']} in "
             f"{b['dtype']} on {', '.join(b['shards'])}. r = log p_trainer − log p_sampler of each chosen token.", "",
             table(["tokens", "r exactly 0", "mean |r|", "max |r|", "k1", "k2", "k3",
                    "log p = 0 trainer only", "log p = 0 sampler only", "−inf trainer only", "−inf sampler only"],
                   [[d["tokens"], d["log_ratio_exactly_0"], f"{d['mean_abs_log_ratio']:.3g}",
                     f"{d['max_abs_log_ratio']:.3g}",
                     *(f"{d['kl_sampler_trainer'][k]:.3g}" for k in ("k1", "k2", "k3")),
                     d["log_p_exactly_0"]["trainer_only"], d["log_p_exactly_0"]["sampler_only"],
                     d["log_p_minus_inf"]["trainer_only"], d["log_p_minus_inf"]["sampler_only"]]]), "",
             table(["clip band", "tokens outside", "%"],
                   [[f"[{1 - o['epsilon']:g}, {1 + o['epsilon']:g}]", o["tokens"], o["percent"]]
                    for o in d["outside_clip_band"]]), "", "Worst tokens (largest |r|):", "",
             table(["row", "token", "text", "context", "log p trainer", "log p sampler", "r"],
                   [[w["row"], w["token"], repr(w.get("text", "")), repr(w.get("context", "")), w["log_p_trainer"],
                     w["log_p_sampler"], w["log_ratio"]] for w in d["worst"][:10]])]
    if d["exactly_0_or_minus_inf_under_one_only"]:
        lines += ["", "Tokens whose log p is exactly 0 or −inf under one setup only (the first):", "",
                  table(["row", "token", "text", "context", "log p trainer", "log p sampler"],
                        [[w["row"], w["token"], repr(w.get("text", "")), repr(w.get("context", "")),
                          w["log_p_trainer"], w["log_p_sampler"]] for w in d["exactly_0_or_minus_inf_under_one_only"]])]
    if figures:
        lines += ["", "![log-ratio distribution](compare_log_ratio.png)"]
    return "\n".join(lines) + "\n"


def log_ratio_figure(c: Comparison, path: Path) -> Path:
    """The distribution of |r| on a log axis, r > 0 and r < 0 apart; r = 0 and infinite r in the title."""
    from precision.common.plotting import save_figure, subplots
    fig, ax = subplots(figsize=(7, 3.6))
    half = SIZE // 2
    edges = 10.0 ** (LOW_DECADE + np.arange(half + 1) / BINS_PER_DECADE)
    ax.stairs(c.histogram[half + 1:], edges, label="r > 0 (trainer above sampler)")
    ax.stairs(c.histogram[:half][::-1], edges, label="r < 0")
    ax.set_xscale("log")
    ax.set_xlabel("|log p_trainer − log p_sampler| of the chosen token")
    ax.set_ylabel("tokens")
    ax.set_title(f"{c.tokens} tokens: r exactly 0 for {c.equal}; infinite for "
                 f"{c.a_inf_only + c.b_inf_only}", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def run_compare(args) -> int:
    from precision.logits.dask_scan import check_scheduler
    from precision.logits.shards import find_shards
    scheduler = check_scheduler(args.scheduler)
    if args.tasks < 1:
        raise InputError("tasks", f"must be at least 1, got {args.tasks}")
    with under("trainer"):
        shards_a = find_shards(args.trainer)
    with under("sampler"):
        shards_b = shards_a if args.sampler is None else find_shards(args.sampler)
    sampler_dtype = args.sampler_dtype or ("bfloat16" if args.sampler is None else "float32")
    with under("trainer_kernel"):
        a = setup(shards_a, args.trainer_kernel, args.trainer_dtype)
    with under("sampler_kernel"):
        b = setup(shards_b, args.sampler_kernel, sampler_dtype)
    rows = sum(s.rows for s in shards_a)
    plan_tasks(a, b)  # shapes checked before any folder is claimed
    chosen, token_text, context_text = (None, None, None) if args.tokens is None else read_tokens(args.tokens, rows)
    check_writable(args.out)
    stat = lambda s: [[x.path, *os.stat(x.path)[6:7], os.stat(x.path).st_mtime_ns] for x in s]
    config = {"trainer": a.describe() | {"files": stat(shards_a)}, "sampler": b.describe() | {"files": stat(shards_b)},
              "tokens": None if args.tokens is None else str(args.tokens.resolve()), "epsilons": list(args.epsilons),
              "tasks": args.tasks}
    outputs = OUTPUTS if not args.no_figures else OUTPUTS[:2]
    with publishing(args.out, "compare", config, outputs) as staging:
        c = compare_setups(a, b, chosen, args.epsilons, args.tasks, scheduler, args.workers)
        data = comparison_data(c, a, b, (token_text, context_text))
        data["scheduler"] = "this process" if scheduler is None else scheduler
        write_json_atomic(staging / "compare.json", data, indent=1)
        write_text_atomic(staging / "compare.md", markdown(data, not args.no_figures))
        if not args.no_figures:
            log_ratio_figure(c, staging / "compare_log_ratio.png")
    print(f"{c.tokens} tokens; outside [1±{args.epsilons[0]:g}]: {c.outside[0]}; log p exactly 0 under one setup "
          f"only: {c.a_zero_only + c.b_zero_only}; wrote {args.out / 'compare.md'}, compare.json")
    return 0
