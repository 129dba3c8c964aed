"""The study's files, from its parts (`precision.lm.study`): `lm_tokens.csv` (a row per generated token),
`lm.json` (the summary), `lm.md`, and two figures: the share of generated tokens whose log-probability is exactly
0 per scoring dtype and kernel (`lm_log_prob_zero.png`), and the distribution of the distance past the threshold
(`lm_past_threshold.png`)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from precision.common.files import write_json_atomic, write_text_atomic
from precision.common.markdown import table
from precision.lm.tokens import FLAGS
from precision.logits.summary import PAST_BINS, past_edges, past_histogram

OUTPUTS = ("lm.json", "lm.md", "lm_tokens.csv", "lm_log_prob_zero.png", "lm_past_threshold.png")


def setups(arrays: dict[str, np.ndarray]) -> list[str]:
    """The scoring setups `dtype/kernel` of a part, in the order they were computed."""
    return list(dict.fromkeys(k.rsplit("/", 1)[0] for k in arrays if k.count("/") == 2))


def _share(count: int, total: int) -> float:
    return round(100 * count / total, 3) if total else 0.0


def summarize_part(arrays: dict[str, np.ndarray]) -> list[dict]:
    """Per scoring setup of one part: tokens, each flag's count and share, the tokens that were not the top
    token and how many of them the setup gives probability exactly 0, the distance past the threshold."""
    n = len(arrays["chosen"])
    not_top = arrays["rank"] > 0
    out = []
    for key in setups(arrays):
        dtype, kernel = key.split("/")
        past = arrays[f"{key}/past_threshold"]
        past = past[np.isfinite(past)]
        counts = {f: int(arrays[f"{key}/{f}"].sum()) for f in FLAGS}
        out.append({"dtype": dtype, "kernel": kernel, "tokens": n, **counts,
                    **{f"{f}_percent": _share(counts[f], n) for f in ("top_is_one", "log_prob_zero", "chosen_zero")},
                    "not_top_tokens": int(not_top.sum()),
                    "not_top_chosen_zero": int((arrays[f"{key}/chosen_zero"] & not_top).sum()),
                    "past_threshold": {"measured": len(past),
                                       "median": float(np.median(past)) if len(past) else None,
                                       "max": float(past.max()) if len(past) else None,
                                       "past_zero_or_more": int((past >= 0).sum())}})
    return out


def summary(parts: dict[str, dict[str, np.ndarray]], model: dict, prompts: dict, plan: dict) -> dict:
    """The study's summary: the model, the prompts, the plan, and per part (model dtype, mode) its tokens,
    seconds and per scoring setup its counts; per model dtype, every mode pooled."""
    by_part: list[dict] = []
    for name, arrays in parts.items():
        model_dtype, mode = name.split("-", 1)
        by_part.append({"part": name, "model_dtype": model_dtype, "mode": mode, "tokens": len(arrays["chosen"]),
                        "top_token_chosen": int((arrays["rank"] == 0).sum()),
                        "generation_seconds": round(float(arrays["seconds"][0]), 2),
                        "analysis_seconds": round(float(arrays["seconds"][1]), 2),
                        "setups": summarize_part(arrays)})
    pooled = {}
    for model_dtype in dict.fromkeys(str(p["model_dtype"]) for p in by_part):
        joined = _pool([parts[p["part"]] for p in by_part if p["model_dtype"] == model_dtype])
        pooled[model_dtype] = summarize_part(joined)
    return {"model": model, "prompts": prompts, "plan": plan, "parts": by_part, "by_model_dtype": pooled,
            "flags": {"top_is_one": "the kernel's top output is exactly 1 (log-space kernels: log p exactly 0)",
                      "log_prob_zero": "the top token's log-probability is exactly 0 (a softmax: its library's "
                                       "log-softmax)",
                      "chosen_zero": "the chosen token's probability as a sampler sees it is exactly 0",
                      "chosen_log_inf": "the chosen token's log-probability is exactly −inf",
                      "past_threshold": "the token's top-logit gap minus the gap from which its top output is "
                                        "exactly 1 (log p exactly 0) with this kernel, found on the kernel"}}


def _pool(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    keys = [k for k in parts[0] if k not in ("seconds", "context", "token_text", "context_text")]
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def tokens_csv(parts: dict[str, dict[str, np.ndarray]]) -> str:
    """A row per generated token: where it came from, its text and context, its rank and float64 log-probability,
    and per scoring setup its flags (0/1), distance past the threshold and log-probability of the chosen token."""
    first = next(iter(parts.values()))
    keys = setups(first)
    buffer = io.StringIO()
    w = csv.writer(buffer, lineterminator="\n")
    w.writerow(["part", "prompt", "position", "token_id", "token", "context", "rank", "log_prob_float64",
                *(f"{k}/{f}" for k in keys for f in (*FLAGS, "past_threshold", "chosen_log_prob"))])
    g = lambda v: "" if not np.isfinite(v) else f"{v:.6g}"
    for name, a in parts.items():
        for i in range(len(a["chosen"])):
            w.writerow([name, int(a["prompt"][i]), int(a["position"][i]), int(a["chosen"][i]),
                        str(a["token_text"][i]), str(a["context_text"][i]), int(a["rank"][i]), g(a["log_prob"][i]),
                        *(v for k in keys for v in (*(int(a[f"{k}/{f}"][i]) for f in FLAGS),
                                                    g(a[f"{k}/past_threshold"][i]), g(a[f"{k}/chosen_log_prob"][i])))])
    return buffer.getvalue()


def markdown(data: dict, figures: bool) -> str:
    """lm.md: the model, the prompts, and per model dtype (modes pooled) and scoring setup the shares."""
    m = data["model"]
    lines = [f"# Softmax saturation of {m['model']}'s generated tokens", "",
             f"{m['model']} ({m['architecture']}, vocabulary {m['vocabulary']:,}) from `{m['source']}`, "
             f"{len(data['parts'])} runs (model dtype × mode) over {data['prompts']['count']} prompts of "
             f"`{data['prompts']['file']}`, at most {data['plan']['max_new_tokens']} new tokens each. Every "
             "generated token is scored in each dtype by each kernel on the model's own logits (the sampler drew "
             "from them in float32).", ""]
    rows = []
    for model_dtype, found in data["by_model_dtype"].items():
        for s in found:
            rows.append([model_dtype, s["dtype"], s["kernel"], s["tokens"],
                         f"{s['log_prob_zero']} ({s['log_prob_zero_percent']} %)",
                         f"{s['top_is_one']} ({s['top_is_one_percent']} %)", s["chosen_zero"], s["chosen_log_inf"],
                         s["nan"], f"{s['not_top_chosen_zero']} / {s['not_top_tokens']}",
                         _num(s["past_threshold"]["median"]), _num(s["past_threshold"]["max"])])
    lines.append(table(["model dtype", "scored in", "kernel", "tokens", "log p exactly 0", "top output exactly 1",
                        "chosen p exactly 0", "chosen log p = −inf", "NaN", "not-top tokens with p exactly 0",
                        "median past threshold", "max past threshold"], rows))
    lines += ["", table(["run", "tokens", "top token chosen", "generation s", "analysis s"],
                        [[p["part"], p["tokens"], p["top_token_chosen"], p["generation_seconds"],
                          p["analysis_seconds"]] for p in data["parts"]])]
    if figures:
        lines += ["", "![log p exactly 0](lm_log_prob_zero.png)", "",
                  "![distance past the threshold](lm_past_threshold.png)"]
    return "\n".join(lines) + "\n"


def _num(v) -> str:
    return "—" if v is None else f"{v:.4g}"


def log_prob_zero_figure(data: dict, path: Path) -> Path:
    """Per scoring setup, bars per model dtype: the share of generated tokens whose top log p is exactly 0."""
    from precision.common.plotting import save_figure, subplots
    fig, ax = subplots(figsize=(8, 3.8))
    groups = data["by_model_dtype"]
    labels = [f"{s['dtype']}\n{s['kernel']}" for s in next(iter(groups.values()))]
    width = 0.8 / len(groups)
    for i, (model_dtype, found) in enumerate(groups.items()):
        x = np.arange(len(found)) + (i - (len(groups) - 1) / 2) * width
        shares = [s["log_prob_zero_percent"] for s in found]
        bars = ax.bar(x, shares, width, label=f"model run in {model_dtype}")
        ax.bar_label(bars, labels=[f"{v:.1f}" for v in shares], fontsize=7)
    ax.set_xticks(np.arange(len(labels)), labels, fontsize=8)
    ax.set_ylabel("% of generated tokens")
    ax.set_title(f"{data['model']['model']}: generated tokens whose log-probability is exactly 0 (scored in dtype, "
                 "kernel)", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, path)


def past_threshold_figure(parts: dict[str, dict[str, np.ndarray]], path: Path, title: str) -> Path:
    """Per scoring dtype (a panel), per model dtype and kernel (a line): the distribution of the distance past the
    threshold (the fixed bins of `precision.logits.summary`)."""
    from precision.common.plotting import save_figure, subplots
    models = list(dict.fromkeys(n.split("-", 1)[0] for n in parts))
    pooled = {m: _pool([a for n, a in parts.items() if n.split("-", 1)[0] == m]) for m in models}
    keys = [k for k in setups(next(iter(pooled.values()))) if not k.endswith("log1p")]  # log1p: far below
    dtypes = list(dict.fromkeys(k.split("/")[0] for k in keys))
    fig, axes = subplots(1, len(dtypes), figsize=(5 * len(dtypes), 3.6), squeeze=False)
    edges = past_edges()
    centers = (edges[:-1] + edges[1:]) / 2
    for ax, dtype in zip(axes[0], dtypes):
        for m in models:
            for k in (k for k in keys if k.startswith(dtype + "/")):
                past = pooled[m][f"{k}/past_threshold"]
                h = past_histogram(past[np.isfinite(past)])[1:PAST_BINS + 1]
                ax.step(centers, h, where="mid", label=f"model {m}, {k.split('/')[1]}", lw=1)
        ax.axvline(0, color="k", lw=0.8, ls="--")
        ax.set_xlim(-30, 15)
        ax.set_xlabel("top-logit gap − threshold (logits); > 0: log p exactly 0")
        ax.set_ylabel("generated tokens")
        ax.set_title(f"scored in {dtype}", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def write_study_files(parts, staging: Path, model: dict, prompts: dict, plan: dict, figures: bool = True) -> dict:
    """Every output of the study into `staging`; the summary."""
    data = summary(parts, model, prompts, plan)
    write_json_atomic(staging / "lm.json", data, indent=1)
    write_text_atomic(staging / "lm_tokens.csv", tokens_csv(parts))
    write_text_atomic(staging / "lm.md", markdown(data, figures))
    if figures:
        log_prob_zero_figure(data, staging / "lm_log_prob_zero.png")
        past_threshold_figure(parts, staging / "lm_past_threshold.png",
                              f"{model['model']}: distance past the threshold per generated token")
    return data
