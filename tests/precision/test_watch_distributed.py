"""`watch` under torch.distributed: two gloo ranks on the CPU (spawned, tcp://127.0.0.1), each watching its own
batches; every rank's counts, and so rank 0's table and plot, cover both ranks' rows."""
import json
import socket
import time
from datetime import timedelta

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, port: int, folder: str) -> None:
    from precision.logits.watch import watch
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
                            timeout=timedelta(seconds=30))
    try:
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 10)
        g = torch.Generator().manual_seed(100 + rank)  # each rank its own data, as a DistributedSampler gives
        with watch(model, dtypes=("float32", "bfloat16"), gradients=True) as every, \
                watch(model, dtypes=("float32", "bfloat16"), gradients=True, all_ranks=False) as mine:
            for step in range(3):
                model(torch.randn(6 + rank, 4, generator=g) * (1 + 10 * step * (rank + 1)))
        result = {"every": [s.__dict__ for s in every.steps], "mine": [s.__dict__ for s in mine.steps],
                  "summary": every.summary(), "table": every.table()}
        if rank == 0:
            every.plot(f"{folder}/saturation.png")
        with open(f"{folder}/rank{rank}.json", "w") as f:
            json.dump(result, f)
    finally:
        dist.destroy_process_group()


def test_every_rank_counts_every_ranks_rows(tmp_path):
    context = mp.spawn(_rank, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=False)
    deadline = time.monotonic() + 90
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for p in context.processes:
                p.kill()
            pytest.fail("the two gloo ranks did not finish in 90 s")
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD))
    counts = ("rows", "saturated", "sum_exceeds_one", "log_prob_zero", "zero_gradients", "nan_rows", "overflow_rows",
              "nonfinite_output_rows", "ranks")
    assert [{k: s[k] for k in counts} for s in r0["every"]] == [{k: s[k] for k in counts} for s in r1["every"]]
    assert r0["every"][0]["median_margin"] == r0["mine"][0]["median_margin"]  # medians: the rank's own rows
    for step, a, b in zip(r0["every"], r0["mine"], r1["mine"]):
        assert step["ranks"] == 2 and a["ranks"] == b["ranks"] == 1
        assert step["rows"] == a["rows"] + b["rows"] == 13
        assert step["nan_rows"] == a["nan_rows"] + b["nan_rows"]
        assert step["zero_gradients"] == a["zero_gradients"] + b["zero_gradients"]
        for key in ("saturated", "sum_exceeds_one", "log_prob_zero", "overflow_rows", "nonfinite_output_rows"):
            assert step[key] == {d: a[key][d] + b[key][d] for d in a[key]}, key
    mine = sum(s["saturated"]["bfloat16"] for s in r0["mine"] + r1["mine"])
    assert mine > 0 and r0["summary"][1]["saturated_rows"] == mine and r0["summary"][1]["rows"] == 39
    assert r0["summary"][0]["ranks"] == 2 and "| bfloat16 | 3 | 39 |" in r0["table"]
    assert (tmp_path / "saturation.png").stat().st_size > 0
