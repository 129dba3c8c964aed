"""The language-model study (`softmax-sat lm generate`): a causal LM run over a prompt file, greedy and sampled at
given temperatures, in each model dtype, every generated token watched (`precision.lm.watch`).

A *part* is one (model dtype, mode) pair. Each part is written, as it finishes, into `<out>/parts/` (what a killed
run resumes from; a part already there is not generated again):
- `<part>.logits.npy`: the rows of logits, (tokens, vocabulary), in the model's dtype (bfloat16 as NumPy's `<V2`):
  a logits dump that `softmax-sat logits <out>/parts/*.logits.npy` reads;
- `<part>.tokens.npz`: per token its prompt, position, chosen token, the sampler's temperature, the chosen token's
  rank and float64 log-probability, the tokens of its context, and per scoring dtype and kernel the analysis of
  `precision.lm.tokens` (distances exact on the kernel); and the part's seconds of generation and analysis;
- `<part>.rescored-<dtype>.logits.npy` (the parts of the modes in `rescore`, each dtype of `rescore_dtypes`): the
  same tokens scored again as a trainer does — one plain forward over each prompt and its generated tokens, the
  model in `dtype` — row for row
  the part's rows (`softmax-sat lm compare --trainer <that> --sampler <part>.logits.npy --tokens <part>.tokens.npz`).
`precision.lm.study_files` turns the parts into the table, the summary and the figures.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from precision.common.errors import InputError
from precision.common.files import write_bytes_atomic
from precision.lm.models import CausalLM
from precision.lm.tokens import DISTANCE_KERNELS, FLAGS
from precision.lm.watch import analyse, watch_generation

PROMPTS = Path(__file__).with_name("prompts.txt")  # shipped with the project (see its header)
CONTEXT = 8  # tokens of context kept per generated token (the token it follows included)


@dataclass(frozen=True)
class Mode:
    """Greedy (temperature 0) or sampling at a temperature."""

    temperature: float

    @property
    def name(self) -> str:
        return "greedy" if self.temperature == 0 else f"T{self.temperature:g}"


def parse_mode(text: str) -> Mode:
    """`greedy`, or a temperature > 0 (sampling)."""
    if text == "greedy":
        return Mode(0.0)
    try:
        t = float(text)
    except ValueError:
        raise InputError("modes", f"{text!r} is neither greedy nor a temperature") from None
    if not 0 < t <= 100:
        raise InputError("modes", f"a temperature must lie in (0, 100], got {text}")
    return Mode(t)


@dataclass(frozen=True)
class StudyPlan:
    """What decides a study's numbers."""

    model_dtypes: tuple[str, ...] = ("float32", "bfloat16")
    modes: tuple[Mode, ...] = (Mode(0.0), Mode(0.7), Mode(1.0))
    max_new_tokens: int = 16
    batch: int = 32  # prompts per `generate` call: all 32 shipped prompts at once (left-padded)
    seed: int = 0
    dtypes: tuple[str, ...] = ("float32", "bfloat16")  # scoring dtypes
    kernels: tuple[str, ...] = ("torch", "torch-log", "torch-log1p")
    distance_kernels: tuple[str, ...] = DISTANCE_KERNELS  # distances bisected (log1p: ~60 ms a token)
    rescore: tuple[Mode, ...] = (Mode(1.0),)  # these modes' tokens scored again by a plain forward …
    rescore_dtypes: tuple[str, ...] = ("float32",)  # … of the model in these dtypes (each costs about a generation)

    def parts(self) -> list[tuple[str, Mode]]:
        return [(d, m) for d in self.model_dtypes for m in self.modes]

    def as_dict(self) -> dict:
        return asdict(self) | {"modes": [m.name for m in self.modes], "rescore": [m.name for m in self.rescore]}


def part_name(model_dtype: str, mode: Mode) -> str:
    return f"{model_dtype}-{mode.name}"


def read_prompts(path: Path) -> list[str]:
    """The prompts of a file: one a line; blank lines and lines starting with '#' skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError("prompts", f"cannot read {path}: {e}") from None
    prompts = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise InputError("prompts", f"{path} holds no prompt (one a line; '#' starts a comment)")
    return prompts


def encode(lm: CausalLM, prompts: list[str]):
    """A left-padded batch of prompts, in the tokenizer's chat template where it has one."""
    tok = lm.tokenizer
    if tok is None:
        raise InputError("model", "the study needs the model's tokenizer (give it with the model object)")
    if getattr(tok, "chat_template", None):
        prompts = [tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                           tokenize=False) for p in prompts]
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return dict(tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False))


def generate_part(lm: CausalLM, prompts: list[str], mode: Mode, plan: StudyPlan) -> dict[str, np.ndarray]:
    """Every prompt through `generate` (batches of `plan.batch`), watched; the part's arrays (see the module
    docstring)."""
    import torch
    torch.manual_seed(plan.seed)
    sample = mode.temperature > 0
    options: dict = {"do_sample": sample, "max_new_tokens": plan.max_new_tokens}
    if sample:  # pure temperature sampling: no top-k, no nucleus
        options |= {"temperature": mode.temperature, "top_k": 0, "top_p": 1.0}
    prompt_of, context = [], []
    started = time.perf_counter()
    with watch_generation(lm.model, plan.dtypes, plan.kernels) as w, torch.inference_mode():
        for first in range(0, len(prompts), plan.batch):
            enc = encode(lm, prompts[first:first + plan.batch])
            before = len(w.rows)
            out = w.generate(**enc, **options)
            pads = (enc["attention_mask"] == 0).sum(dim=1)  # left padding: where each sequence starts
            for i in range(before, len(w.rows)):
                b, t = w.rows.sequence[i], w.rows.position[i]
                prompt_of.append(first + b)
                seq = out[b, int(pads[b]):].tolist()
                ids = seq[max(0, t + 1 - CONTEXT):t + 1]
                context.append([-1] * (CONTEXT - len(ids)) + ids)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    chosen = np.asarray(w.rows.chosen)
    found, rank, log_p = analyse(w.logits(), chosen, plan.dtypes, plan.kernels,
                                 exact_for=tuple(k for k in plan.kernels if k in plan.distance_kernels))
    arrays = {"prompt": np.asarray(prompt_of), "position": np.asarray(w.rows.position), "chosen": chosen,
              "temperature": np.asarray(w.rows.temperature), "rank": rank, "log_prob": log_p,
              "context": np.asarray(context, dtype=np.int64).reshape(-1, CONTEXT)}
    for s in found:
        for f in (*FLAGS, "past_threshold", "chosen_log_prob"):
            arrays[f"{s.key}/{f}"] = getattr(s, f)
    decode = lm.tokenizer.decode
    arrays["token_text"] = np.array([decode([int(t)]) for t in chosen], dtype=str)
    arrays["context_text"] = np.array([decode([int(t) for t in c if t >= 0]) for c in arrays["context"]], dtype=str)
    arrays["seconds"] = np.array([generated, time.perf_counter() - started])
    arrays["logits"] = logits_storage(w.logits())
    return arrays


def logits_storage(rows) -> np.ndarray:
    """A CPU tensor of rows as a NumPy array of the same dtype (bfloat16: ml_dtypes')."""
    import ml_dtypes
    import torch
    if rows.dtype == torch.bfloat16:
        return rows.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return rows.numpy()


def part_paths(out: Path, name: str) -> tuple[Path, Path]:
    folder = Path(out) / "parts"
    return folder / f"{name}.logits.npy", folder / f"{name}.tokens.npz"


def write_part(out: Path, name: str, arrays: dict[str, np.ndarray]) -> None:
    """The part's logits dump and its tokens, each file swapped in whole (the tokens last: they mark it done)."""
    import io
    logits_path, tokens_path = part_paths(out, name)
    logits_path.parent.mkdir(parents=True, exist_ok=True)
    write_npy(logits_path, arrays.pop("logits"))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub types the first keyword
    write_bytes_atomic(tokens_path, buffer.getvalue())


def write_npy(path: Path, array: np.ndarray) -> None:
    """An array as an .npy file, swapped in whole."""
    import io
    buffer = io.BytesIO()
    np.save(buffer, array)
    write_bytes_atomic(path, buffer.getvalue())


PER_TOKEN = ("prompt", "position", "chosen", "temperature", "rank", "log_prob", "context", "token_text",
             "context_text")


def read_part(out: Path, name: str, plan: StudyPlan | None = None) -> dict[str, np.ndarray] | None:
    """A finished part's token arrays (None: not finished), checked to be what `generate_part` writes (for `plan`'s
    setups): one length, every key there; anything else refused in one line naming the file."""
    logits_path, tokens_path = part_paths(out, name)
    if not (logits_path.is_file() and tokens_path.is_file()):
        return None
    try:
        with np.load(tokens_path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise InputError("out", f"{tokens_path} is not a part this program wrote ({e}); remove it to run it "
                                "again") from None
    keys = list(PER_TOKEN)
    if plan is not None:
        keys += [f"{d}/{k}/{f}" for k in plan.kernels for d in plan.dtypes
                 for f in (*FLAGS, "past_threshold", "chosen_log_prob")]
    missing = [k for k in (*keys, "seconds") if k not in arrays]
    lengths = {len(arrays[k]) for k in keys if k in arrays}
    if missing or len(lengths) != 1 or arrays["seconds"].shape != (2,):
        why = f"lacks {missing[0]}" if missing else "holds arrays of different lengths"
        raise InputError("out", f"{tokens_path} {why}: not a part this program wrote; remove it to run it again")
    return arrays


def run_parts(lm: CausalLM, prompts: list[str], plan: StudyPlan, out: Path, say=print, threads: int | None = None
              ) -> dict[str, dict]:
    """Every part of the plan, generated or read back (a finished part is not generated again); the model is cast
    to each model dtype in turn from the weights as loaded (a narrower dtype never feeds a wider one); torch's
    threads set to `threads` meanwhile (where given), then set back."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        return _run_parts(lm, prompts, plan, out, say)
    finally:
        torch.set_num_threads(before)


def model_tensors(model) -> dict:
    """Every parameter and buffer of a model by name, the non-persistent buffers a state dict leaves out included
    (a Llama's rotary frequencies: cast to bfloat16 and back they would stay rounded)."""
    return dict(model.named_parameters()) | dict(model.named_buffers())


def _run_parts(lm: CausalLM, prompts: list[str], plan: StudyPlan, out: Path, say) -> dict[str, dict]:
    import torch
    parts = {}
    loaded = lm.dtype
    weights: dict = {}

    def cast(dtype: str) -> None:
        if lm.dtype != dtype:
            if not weights:  # a copy of the weights as loaded, before the first cast
                weights.update({k: v.detach().clone() for k, v in model_tensors(lm.model).items()})
            lm.to(loaded)
            with torch.no_grad():
                for k, v in model_tensors(lm.model).items():
                    v.copy_(weights[k])
            lm.to(dtype)
    for model_dtype, mode in plan.parts():
        name = part_name(model_dtype, mode)
        arrays = read_part(out, name, plan)
        if arrays is None:
            cast(model_dtype)
            arrays = generate_part(lm, prompts, mode, plan)
            write_part(out, name, arrays)
            arrays = read_part(out, name, plan)
            assert arrays is not None
            say(f"{name}: {len(arrays['chosen'])} tokens, generated in {arrays['seconds'][0]:.1f} s, analysed in "
                f"{arrays['seconds'][1]:.1f} s")
        else:
            say(f"{name}: {len(arrays['chosen'])} tokens, read back from {part_paths(out, name)[1]}")
        parts[name] = arrays
    for name, model_dtype in ((part_name(d, m), s) for d in plan.model_dtypes for m in plan.rescore
                              for s in plan.rescore_dtypes):
        path = rescored_path(out, name, model_dtype)
        if not path.is_file():
            cast(model_dtype)
            started = time.perf_counter()
            write_npy(path, logits_storage(rescore(lm, prompts, parts[name])))
            say(f"{name}: its {len(parts[name]['chosen'])} tokens scored again by the model in {model_dtype} in "
                f"{time.perf_counter() - started:.1f} s")
    return parts


def rescored_path(out: Path, name: str, model_dtype: str) -> Path:
    return Path(out) / "parts" / f"{name}.rescored-{model_dtype}.logits.npy"


def rescore(lm: CausalLM, prompts: list[str], arrays: dict[str, np.ndarray]):
    """The part's rows again, from one plain forward over each prompt and its generated tokens (the model as it
    is now): row i is the logits at the position of row i; a CPU tensor in the model's dtype."""
    import torch
    n = len(arrays["chosen"])
    rows = None
    with torch.inference_mode():
        for p in np.unique(arrays["prompt"]):
            idx = np.flatnonzero(arrays["prompt"] == p)
            idx = idx[np.argsort(arrays["position"][idx], kind="stable")]
            ids = encode(lm, [prompts[p]])["input_ids"][0].tolist()
            sequence = ids + arrays["chosen"][idx][:-1].tolist()
            logits = lm.model(torch.tensor([sequence])).logits[0]
            if rows is None:
                rows = torch.empty((n, logits.shape[-1]), dtype=logits.dtype)
            rows[idx] = logits[torch.from_numpy(arrays["position"][idx])]
    return rows
