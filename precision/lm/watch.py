"""`watch_generation(model)`: every token a causal LM produces, watched through `generate` and plain forwards.

A forward hook takes the logits (batch, sequence, vocabulary) out of the model's output object (or a tuple, or a
tensor) and keeps every row — one row per position the model returned logits for — on the CPU in the model's dtype,
with the token that row produced (its *chosen* token): the next input token of a plain forward; in generation,
the token the next forward is fed (same cache object), and for the last one the token `Watch.generate` returns.
The rows are analysed when read (`tokens()`, `summary()`, `table()`), in blocks, by `precision.lm.tokens` with the
distance found exactly on the kernel (as `softmax-sat logits` does; torch-log1p's only when asked: its bisection costs
~60 ms a token). The hook itself only copies a row (`hook_seconds` adds up its time), so watching costs generation a
copy per token, and the analysis is a separate, stated cost.

    with watch_generation(lm.model, dtypes=("float32", "bfloat16")) as w:
        out = w.generate(**inputs, do_sample=True, temperature=0.7, max_new_tokens=32)
    print(w.table())        # per dtype and kernel: tokens with log p exactly 0, top p exactly 1, chosen p exactly 0
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from precision.common.errors import InputError
from precision.common.markdown import table
from precision.kernels.registry import get_kernel
from precision.kernels.scan import CELLS
from precision.lm.tokens import (
    DISTANCE_KERNELS,
    FLAGS,
    LM_KERNELS,
    NO_TOKEN,
    TokenSaturation,
    chosen_rank_and_log_prob,
    token_saturation,
)
from precision.logits.rows import saturation_of
from precision.logits.watch import over_ranks


def logits_of(output) -> Any:
    """The logits tensor of a model's output: its `.logits`, the first item of a tuple, or the tensor itself,
    as rows (N, V): (batch, sequence, V) is flattened batch-major."""
    import torch
    logits = getattr(output, "logits", None)
    if logits is None:
        logits = output[0] if isinstance(output, (tuple, list)) and output else output
    if not isinstance(logits, torch.Tensor) or logits.ndim not in (2, 3) or logits.shape[-1] < 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise InputError("model", f"output logits must be (batch, sequence, V) or (N, V) with V ≥ 2, got {shape}")
    return logits


@dataclass
class Rows:
    """The watched rows so far: logits (model dtype, CPU) and, per row, where it came from and its chosen token."""

    logits: list = field(default_factory=list)  # tensors (n, V)
    forward: list[int] = field(default_factory=list)
    sequence: list[int] = field(default_factory=list)  # the batch index in its forward
    position: list[int] = field(default_factory=list)  # the position in the sequence whose next token it scores
    chosen: list[int] = field(default_factory=list)
    generated: list[bool] = field(default_factory=list)  # produced inside `Watch.generate`
    temperature: list[float] = field(default_factory=list)  # the sampler's (0: greedy; NaN: not generated)

    def __len__(self) -> int:
        return len(self.chosen)


class Watch:
    """Context manager: a forward hook on a causal LM keeping each row of logits and its chosen token (see the
    module docstring); `generate` runs the model's own `generate` and resolves every generated token."""

    def __init__(self, model, dtypes=("float32", "bfloat16"), kernels=LM_KERNELS, device: str = "cpu",
                 exact_for: tuple[str, ...] = DISTANCE_KERNELS, all_ranks: bool = True):
        import torch
        if not isinstance(model, torch.nn.Module):
            raise InputError("model", f"expected a torch.nn.Module, got {type(model).__name__}")
        self.model, self.dtypes, self.device, self.all_ranks = model, tuple(dtypes), device, all_ranks
        self.kernels = tuple(get_kernel(k).name for k in kernels)
        for k in self.kernels:
            saturation_of(np.zeros((1, 2)), self.dtypes, k)  # unknown kernel or dtype: refuse now
        self.exact_for = tuple(k for k in self.kernels if k in exact_for)
        self.rows = Rows()
        self.hook_seconds = 0.0  # spent in the forward hook: what watching adds to generation
        self._pending: list[int] = []  # rows whose chosen token the next forward of the same cache gives
        self._cache: Any = None
        self._generating: float | None = None  # the temperature of the `generate` call in progress
        self._handle: Any = None
        self._analysed: tuple[int, list[TokenSaturation], np.ndarray, np.ndarray] | None = None

    def __enter__(self) -> "Watch":
        self._handle = self.model.register_forward_hook(self._record, with_kwargs=True)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()
        self._pending = []  # the last position of a plain forward: no next token

    def _record(self, module, args, kwargs, output) -> None:
        started = time.perf_counter()
        try:
            self._keep(output, args, kwargs)
        finally:
            self.hook_seconds += time.perf_counter() - started

    def _keep(self, output, args, kwargs) -> None:
        logits = logits_of(output).detach()
        ids = kwargs.get("input_ids", args[0] if args else None)
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        if logits.ndim == 2:
            logits = logits[:, None, :]
        batch, kept, vocab = logits.shape
        if self._pending and cache is not None and cache is self._cache and ids is not None:
            for b, row in enumerate(self._pending):  # the tokens this forward is fed continue those rows
                self.rows.chosen[row] = int(ids[b, 0])
        self._pending = []
        self._cache = cache
        fed = ids.shape[1] if ids is not None and ids.ndim == 2 else kept
        where = kwargs.get("position_ids")  # absolute positions (generation feeds one token at a time)
        start = len(self.rows)
        r = self.rows
        r.logits.append(logits.reshape(batch * kept, vocab).to("cpu", copy=True))
        forward = (r.forward[-1] + 1) if r.forward else 0
        for b in range(batch):
            for j in range(kept):
                t = fed - kept + j  # logits_to_keep: the last `kept` positions of the input
                nxt = int(ids[b, t + 1]) if ids is not None and ids.ndim == 2 and t + 1 < fed else NO_TOKEN
                r.forward.append(forward)
                r.sequence.append(b)
                r.position.append(int(where[min(b, len(where) - 1), t]) if where is not None and t >= 0 else t)
                r.chosen.append(nxt)
                r.generated.append(self._generating is not None)
                r.temperature.append(np.nan if self._generating is None else self._generating)
        self._pending = [start + b * kept + kept - 1 for b in range(batch)]
        self._analysed = None

    def generate(self, *args, **kwargs):
        """`model.generate(*args, **kwargs)` watched: every generated token's row and chosen token kept; rows of a
        sequence after its end-of-sequence token (padding in a batch) are dropped."""
        config = getattr(self.model, "generation_config", None)
        sample = kwargs.get("do_sample", getattr(config, "do_sample", False))
        self._generating = float(kwargs.get("temperature", getattr(config, "temperature", 1.0)) or 1.0) \
            if sample else 0.0
        first = len(self.rows)
        try:
            out = self.model.generate(*args, **kwargs)
        finally:
            self._generating = None
        sequences = getattr(out, "sequences", out)
        for b, row in enumerate(self._pending):
            self.rows.chosen[row] = int(sequences[b, -1])
        self._pending = []
        self._drop_finished(first, sequences, getattr(config, "eos_token_id", None))
        return out

    def _drop_finished(self, first: int, sequences, eos) -> None:
        """Remove the rows of this `generate` call that follow their sequence's end-of-sequence token."""
        eos = set([eos] if isinstance(eos, int) else (eos or []))
        r = self.rows
        done: set[int] = set()
        keep = np.ones(len(r), dtype=bool)
        for i in range(first, len(r)):
            b = r.sequence[i]
            if b in done:
                keep[i] = False
            elif r.chosen[i] in eos:
                done.add(b)
        if keep.all():
            return
        import torch
        r.logits = [torch.cat(r.logits)[torch.from_numpy(keep)]]
        for name in ("forward", "sequence", "position", "chosen", "generated", "temperature"):
            setattr(r, name, [v for v, k in zip(getattr(r, name), keep) if k])

    # --- reading the rows back ----------------------------------------------------------------------------
    def logits(self):
        """Every watched row, (N, V), a CPU tensor in the model's dtype."""
        import torch
        if len(self.rows.logits) > 1:
            self.rows.logits = [torch.cat(self.rows.logits)]
        return self.rows.logits[0] if self.rows.logits else torch.zeros((0, 2))

    def tokens(self) -> tuple[list[TokenSaturation], np.ndarray, np.ndarray]:
        """The per-token analysis of every row (`precision.lm.tokens`, distances exact on the kernel), and the
        chosen tokens' ranks and float64 log-probabilities; computed once per set of rows, in blocks."""
        n = len(self.rows)
        if self._analysed is None or self._analysed[0] != n:
            self._analysed = (n, *analyse(self.logits(), np.asarray(self.rows.chosen), self.dtypes, self.kernels,
                                          self.device, self.exact_for))
        return self._analysed[1], self._analysed[2], self._analysed[3]

    def summary(self) -> list[dict]:
        """Per dtype and kernel: tokens, and how many of them carry each flag (`precision.lm.tokens.FLAGS`); under
        torch.distributed (more than one rank; every rank calls it) the counts are summed over the ranks, the
        medians and maxima stay the rank's own (`all_ranks=False`: this rank's counts)."""
        found, rank, _ = self.tokens()
        out = [summarize(s, rank) for s in found]
        keys = ("tokens", *FLAGS, "not_top_tokens", "not_top_chosen_zero")
        counts, ranks = over_ranks([s[k] for s in out for k in keys]) if self.all_ranks else ([], 1)
        for i, s in enumerate(out):
            if ranks > 1:
                s.update(zip(keys, counts[i * len(keys):(i + 1) * len(keys)]))
            s["ranks"] = ranks
        return out

    def table(self) -> str:
        """The summary as a Markdown table."""
        rows = [[s["dtype"], s["kernel"], s["tokens"], *(s[f] for f in FLAGS), _num(s["median_past_threshold"])]
                for s in self.summary()]
        return table(["dtype", "kernel", "tokens", "top output exactly 1", "log p exactly 0", "chosen p exactly 0",
                      "chosen log p = −inf", "NaN", "overflow", "NaN/inf outputs", "median past threshold"], rows)


def _num(v) -> str:
    return "—" if v is None else f"{v:.4g}"


def summarize(s: TokenSaturation, rank: np.ndarray) -> dict:
    """Counts of one (dtype, kernel) over its tokens, the sampled ones apart (rank > 0: not the top token)."""
    past = s.past_threshold[np.isfinite(s.past_threshold)]
    sampled = rank > 0
    return {"dtype": s.dtype, "kernel": s.kernel, "tokens": len(s.top_is_one),
            **{f: int(getattr(s, f).sum()) for f in FLAGS},
            "not_top_tokens": int(sampled.sum()), "not_top_chosen_zero": int((s.chosen_zero & sampled).sum()),
            "median_past_threshold": float(np.median(past)) if len(past) else None,
            "max_past_threshold": float(past.max()) if len(past) else None}


FIELDS = (*FLAGS, "past_threshold", "chosen_log_prob")


def analyse(rows, chosen: np.ndarray, dtypes, kernels, device: str = "cpu", exact_for: tuple[str, ...] | None = None
            ) -> tuple[list[TokenSaturation], np.ndarray, np.ndarray]:
    """`token_saturation` and `chosen_rank_and_log_prob` of N rows (an array, or a torch tensor in the model's
    dtype), in blocks of about CELLS logits (converted to float64 block by block), joined; distances bisected on
    the kernels `exact_for` (None: every kernel), the others' not measured."""
    if not len(rows):
        raise InputError("model", "no rows were watched: run the model inside the `with` block")
    step = max(1, CELLS // (4 * rows.shape[1]))
    parts, ranks, logs = [], [], []
    for i in range(0, len(rows), step):
        block, ch = rows[i:i + step], chosen[i:i + step]
        block = np.asarray(block, dtype=np.float64) if isinstance(block, np.ndarray) else \
            block.double().numpy()
        parts.append(token_saturation(block, ch, dtypes, kernels, device,
                                      tuple(kernels) if exact_for is None else exact_for))
        rank, log_p = chosen_rank_and_log_prob(block, ch)
        ranks.append(rank)
        logs.append(log_p)
    joined = [TokenSaturation(first.dtype, first.kernel,
                              *(np.concatenate([p[j].__dict__[f] for p in parts]) for f in FIELDS))
              for j, first in enumerate(parts[0])]
    return joined, np.concatenate(ranks), np.concatenate(logs)


def watch_generation(model, dtypes=("float32", "bfloat16"), kernels=LM_KERNELS, device: str = "cpu",
                     exact_for: tuple[str, ...] = DISTANCE_KERNELS, all_ranks: bool = True) -> Watch:
    """A `Watch` on a causal LM (see the module docstring); distances bisected on the kernels `exact_for` (the
    others' are not measured: NaN); `all_ranks`: counts summed over torch.distributed's ranks in `summary`."""
    return Watch(model, dtypes, kernels, device, exact_for, all_ranks)
