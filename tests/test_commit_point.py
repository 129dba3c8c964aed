"""Every command that writes a results folder goes through one protocol (`precision.common.publishing`): killed at
its commit point (or at any step of its publish), the folder is whole — the old complete set or the new one — and the
next run settles it with one line. The kills are real: the command runs in a subprocess that `os._exit`s at the step
named in SOFTMAX_SAT_TEST_EXIT_AT, leaving whatever it left."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from precision.common.publishing import EXIT_AT, JOURNAL, locked

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], exit_at: str | None = None) -> subprocess.CompletedProcess:
    """`softmax-sat ARGS` in a subprocess (this checkout's code), killed at the publish step `exit_at`."""
    env = {k: v for k, v in os.environ.items() if k != EXIT_AT}
    if exit_at is not None:
        env[EXIT_AT] = exit_at
    return subprocess.run([sys.executable, "-m", "softmax_sat", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def published(out: Path, kind: str) -> dict[str, bytes]:
    """The files the kind's manifest lists, read whole; the manifest lists exactly the files there (whole)."""
    names = json.loads((out / f"{kind}.manifest.json").read_text())
    assert all((out / n).is_file() for n in names), names
    return {n: (out / n).read_bytes() for n in names if not n.endswith(".manifest.json")}


def settle(out: Path) -> list[str]:
    """What the next run says when it takes the folder: one line per thing it settled."""
    lines: list[str] = []
    with locked(out, say=lines.append):
        pass
    assert not (out / JOURNAL).exists() and not list(out.glob(".staging-*"))
    return lines


@pytest.fixture(scope="module")
def logits_file(tmp_path_factory) -> Path:
    f = tmp_path_factory.mktemp("logits") / "x.npy"
    np.save(f, np.array([[30.0, 0.0, 1.0], [3.0, 0.0, 1.0], [9.0, 1.0, 0.0]], dtype=np.float32))
    return f


@pytest.mark.parametrize("step", ["staged", "moved-2", pytest.param("committed", marks=pytest.mark.slow),
                                  pytest.param("removed", marks=pytest.mark.slow),
                                  pytest.param("moved-3", marks=pytest.mark.slow)])
def test_report_logits_killed_at_any_step_of_a_publish_leaves_the_old_or_the_new_set(tmp_path, logits_file, step):
    out = tmp_path / "r"
    base = ["logits", str(logits_file), "--dtypes", "float16", "--kernel", "numpy", "--out", str(out)]
    assert run(base).returncode == 0  # the old set: four files and the figure
    old = published(out, "logits")
    assert "logits_past_threshold.png" in old
    killed = run(base + ["--no-figures"], exit_at=step)  # the new set has no figure: the old one must go
    assert killed.returncode == 70, killed.stderr
    lines = settle(out)
    assert len(lines) == 1, lines
    now = published(out, "logits")
    if step == "staged":  # before the commit point: the old set, and the staging folder removed
        assert now == old and "left by a killed run" in lines[0]
    else:  # committed: the next run finishes the publish
        assert "finished publishing" in lines[0] and "logits_past_threshold.png" not in now
        assert not (out / "logits_past_threshold.png").exists()
        assert now["logits.json"] == old["logits.json"]
    again = run(base)  # and the folder is never refused afterwards (issue 24: refused for ever after moved-2)
    assert again.returncode == 0, again.stderr
    assert published(out, "logits") == old


@pytest.mark.parametrize("command, kind, step, reruns", [
    pytest.param(["report", "--kernels", "none", "--formats", "float16", "--classes", "2", "--algorithms", "naive",
                  "--vocabulary", "none", "--no-figures"], "report", "committed", True, marks=pytest.mark.slow),
    (["verify", "--kernel", "numpy", "--dtype", "float16"], "verify-numpy-float16-M2-equal", "moved-1", True),
    (["prove", "--no-coq"], "proofs", "committed", False),  # its checks take ~20 s a run: the kill only
    pytest.param(["prove", "--no-coq"], "proofs", "committed", True, marks=pytest.mark.slow),
])
def test_each_command_killed_at_its_commit_point_is_finished_by_the_next_run(tmp_path, command, kind, step, reruns):
    out = tmp_path / "out"
    killed = run([*command, "--out", str(out)], exit_at=step)
    assert killed.returncode == 70, killed.stderr
    assert (out / JOURNAL).exists()  # committed, not yet finished
    lines = settle(out)
    assert len(lines) == 1 and "finished publishing" in lines[0], lines
    files = published(out, kind)
    assert files and all(v for v in files.values())
    if not reruns:
        return
    killed = run([*command, "--out", str(out)], exit_at="staged")  # a kill before the commit: the set stays
    assert killed.returncode == 70
    assert published(out, kind) == files
    assert run([*command, "--out", str(out)]).returncode == 0
