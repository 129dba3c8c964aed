"""`softmax-sat lm generate` end to end on a tiny random Llama saved with a word-level tokenizer in a folder
(built here: no file shipped, no download): its parts, table, summary and figures, resuming, the logits dump read
by `softmax-sat logits`, and `lm compare` on two of its runs."""
import csv
import json

import numpy as np
import pytest

from precision.lm.study import PROMPTS, Mode, parse_mode, read_prompts
from softmax_sat import main

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from tests.precision.test_lm_watch import tiny_llama  # noqa: E402


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-llama")
    vocab = {f"w{i}": i for i in range(63)} | {"[UNK]": 63}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="w0")
    fast.save_pretrained(folder)
    tiny_llama(scale=300.0).save_pretrained(folder)  # a large head: bfloat16 saturates
    (folder / "prompts.txt").write_text("# two prompts\nw3 w4 w5\n\nw7 w8\nw9\n")
    return folder


def test_prompts_and_modes_are_read_as_documented(tmp_path):
    assert len(read_prompts(PROMPTS)) == 32  # the shipped prompts: comment lines skipped
    assert [parse_mode(t).name for t in ("greedy", "0.7", "1")] == ["greedy", "T0.7", "T1"]
    assert parse_mode("greedy") == Mode(0.0)
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    from precision.common.errors import InputError
    with pytest.raises(InputError, match="no prompt"):
        read_prompts(tmp_path / "empty.txt")
    with pytest.raises(InputError, match="temperature"):
        parse_mode("-1")


def test_generate_writes_parts_table_summary_figures_and_resumes(model_folder, tmp_path, capsys):
    out = tmp_path / "study"
    args = ["lm", "generate", "--model", str(model_folder), "--prompts", str(model_folder / "prompts.txt"),
            "--modes", "greedy,1.0", "--max-new-tokens", "3", "--batch", "2", "--out", str(out)]
    assert main(args) == 0
    data = json.loads((out / "lm.json").read_text())
    assert [p["part"] for p in data["parts"]] == ["float32-greedy", "float32-T1", "bfloat16-greedy", "bfloat16-T1"]
    assert all(p["tokens"] == 9 for p in data["parts"])  # 3 prompts × 3 tokens, no end-of-sequence token
    greedy = data["parts"][0]
    assert greedy["top_token_chosen"] == 9
    setups = {(s["dtype"], s["kernel"]): s for s in data["by_model_dtype"]["float32"]}
    assert setups["bfloat16", "torch-log"]["log_prob_zero"] > 0  # the scaled head saturates bfloat16
    assert setups["bfloat16", "torch-log1p"]["past_threshold"]["measured"] == 0  # not bisected by default
    assert setups["bfloat16", "torch-log"]["past_threshold"]["measured"] > 0
    with open(out / "lm_tokens.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 36 and rows[0]["part"] == "float32-greedy"
    assert rows[0]["context"].startswith("w3 w4 w5") and rows[0]["token"].startswith("w")
    zero = sum(int(r["bfloat16/torch-log/log_prob_zero"]) for r in rows if r["part"].startswith("float32"))
    assert zero == setups["bfloat16", "torch-log"]["log_prob_zero"]
    for name in ("lm_log_prob_zero.png", "lm_past_threshold.png", "lm.md"):
        assert (out / name).stat().st_size > 0
    logits = np.load(out / "parts" / "bfloat16-greedy.logits.npy")
    assert logits.shape == (9, 64) and logits.dtype.itemsize == 2  # the bfloat16 run's logits as it produced them
    # the sampled runs' tokens scored again by one plain forward, as a trainer does: the same rows, up to the
    # rounding of another code path (a full forward against the cached one); in bfloat16 the rows are coarser
    again = np.load(out / "parts" / "float32-T1.rescored-float32.logits.npy")
    np.testing.assert_allclose(again, np.load(out / "parts" / "float32-T1.logits.npy"), rtol=1e-4, atol=1e-3)
    assert (out / "parts" / "bfloat16-T1.rescored-float32.logits.npy").is_file()
    assert not (out / "parts" / "float32-T1.rescored-bfloat16.logits.npy").exists()  # --rescore-dtypes float32
    capsys.readouterr()
    assert main(args) == 0  # resumed: every part read back, nothing generated
    assert capsys.readouterr().out.count("read back") == 4
    (out / "parts" / "float32-T1.tokens.npz").unlink()  # a run killed before this part finished
    assert main(args) == 0
    said = capsys.readouterr().out
    assert said.count("read back") == 3 and "float32-T1: 9 tokens, generated" in said
    assert json.loads((out / "lm.json").read_text())["by_model_dtype"] == data["by_model_dtype"]  # same seed
    with np.load(out / "parts" / "float32-T1.tokens.npz") as z:  # a part tampered with is refused in one line
        np.savez(out / "parts" / "float32-T1.tokens.npz", **{k: z[k] for k in z.files if k != "rank"})
    assert main(args) == 2
    assert "lacks rank: not a part this program wrote" in capsys.readouterr().err
    (out / "parts" / "float32-T1.tokens.npz").unlink()
    assert main(args) == 0
    # the dump is one `softmax-sat logits` reads, and `lm compare` compares two of its runs
    assert main(["logits", str(out / "parts" / "*.logits.npy"), "--kernel", "torch-log",
                 "--dtypes", "bfloat16", "--no-figures", "--out", str(tmp_path / "report")]) == 0
    assert main(["lm", "compare", "--trainer", str(out / "parts" / "bfloat16-T1.rescored-float32.logits.npy"),
                 "--sampler", str(out / "parts" / "bfloat16-T1.logits.npy"), "--tokens",
                 str(out / "parts" / "bfloat16-T1.tokens.npz"), "--out", str(tmp_path / "compare")]) == 0
    compared = json.loads((tmp_path / "compare" / "compare.json").read_text())
    assert compared["tokens"] == 9 and compared["worst"][0]["context"].startswith("w")


def test_the_study_casts_the_model_back_to_float32_bit_for_bit():
    """The float32 re-scoring after the bfloat16 runs: the weights as loaded, and the rotary frequencies too (a
    buffer a state dict leaves out; restored from a state dict alone they stay rounded to bfloat16)."""
    from precision.lm.study import model_tensors
    model = tiny_llama(scale=300.0)
    ids = torch.tensor([[3, 4, 5, 6, 7, 8, 9, 10, 11, 12]])
    with torch.no_grad():
        before = model(ids).logits
        kept = {k: v.detach().clone() for k, v in model_tensors(model).items()}
        assert any("inv_freq" in k for k in kept) and not any("inv_freq" in k for k in model.state_dict())
        model.to(torch.bfloat16).to(torch.float32)
        model.load_state_dict({k: kept[k] for k in model.state_dict()})
        assert not torch.equal(model(ids).logits, before)  # the state dict alone: the frequencies stayed rounded
        for k, v in model_tensors(model).items():
            v.copy_(kept[k])
        assert torch.equal(model(ids).logits, before)


def test_generate_refuses_bad_options_in_one_line(model_folder, tmp_path, capsys):
    base = ["lm", "generate", "--model", str(model_folder), "--out", str(tmp_path / "r")]
    for extra, option in ((["--model-dtypes", "float8"], "--model-dtypes"), (["--kernels", "nope"], "--kernels"),
                          (["--modes", "hot"], "--modes"), (["--distance-kernels", "numpy"], "--distance-kernels"),
                          (["--modes", "greedy"], "--rescore"), (["--rescore-dtypes", "int8"], "--rescore-dtypes")):
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{option}:" in err[0], err
    assert main(["lm", "generate", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "r")]) == 2
    assert "--model: no such folder" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_the_readme_quotes_the_study_it_ships():
    """The real-model numbers of the README's *A real model, end to end* are those of docs/lm_study/lm.json."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    data = json.loads((root / "docs" / "lm_study" / "lm.json").read_text())
    readme = (root / "README.md").read_text()
    pooled = {m: {(s["dtype"], s["kernel"]): s for s in v} for m, v in data["by_model_dtype"].items()}
    tokens = [{s["tokens"] for s in pooled[m].values()} for m in ("float32", "bfloat16")]
    assert all(len(t) == 1 for t in tokens)
    assert f"{tokens[0].pop():,} and {tokens[1].pop():,} generated tokens per model dtype" in readme
    for model in ("float32", "bfloat16"):
        s = pooled[model]["bfloat16", "torch-log"]
        assert f"| {model} | bfloat16 | torch-log | {s['log_prob_zero']} ({s['log_prob_zero_percent']:.2f} %)" in readme
    s = pooled["float32"]["bfloat16", "torch"]
    assert f"| {s['top_is_one']} ({s['top_is_one_percent']:.2f} %)" in readme
    assert all(s["log_prob_zero"] == 0 for m in pooled for (d, k), s in pooled[m].items() if d == "float32")
    assert all(s["log_prob_zero"] == 0 for m in pooled for (d, k), s in pooled[m].items() if k == "torch-log1p")
    assert all(s["chosen_zero"] == 0 for m in pooled for s in pooled[m].values())


def test_the_readme_quotes_the_comparisons_it_ships():
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    for name, line in (("bf16-sampler-f32-trainer", "| the bfloat16 run's own logits (scored in float32) |"),
                       ("f32-sampler-f32-trainer", "| the float32 run's own logits |"),
                       ("one-dump-f32-vs-bf16-log-softmax", "| the float32 run's logits in bfloat16 |")):
        d = json.loads((root / "docs" / "lm_study" / f"compare-{name}" / "compare.json").read_text())
        row = next(r for r in readme.splitlines() if r.startswith(line)).split(" | ")
        assert int(row[2]) == d["log_ratio_exactly_0"]
        assert float(row[3]) == pytest.approx(d["mean_abs_log_ratio"], rel=0.05)
        assert float(row[4]) == pytest.approx(d["max_abs_log_ratio"], rel=0.05)
        assert [int(row[i].split()[0]) for i in (5, 6)] == [o["tokens"] for o in d["outside_clip_band"]]
        assert float(row[7]) == pytest.approx(d["kl_sampler_trainer"]["k3"], rel=0.05)
        zero = d["log_p_exactly_0"]
        assert int(row[8].split()[0]) == zero["trainer_only"] + zero["sampler_only"]
