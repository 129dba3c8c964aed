"""The Coq check's scheduler (proofs.checkers.coq_jobs), on shell commands: dependencies respected, the longest
chain first, a failure stops what has not started, and each command's CPU time is recorded."""
import pytest

from proofs.checkers.coq_jobs import Job, requires, run


def _sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def test_dependencies_order_and_longest_chain_first(tmp_path):
    jobs = [Job("a", _sh("echo a >> order"), cost=1), Job("b", _sh("echo b >> order"), {"a"}, cost=1),
            Job("c", _sh("echo c >> order"), cost=1), Job("d", _sh("echo d >> order"), {"b"}, cost=5)]
    done = run(jobs, tmp_path, workers=1)
    assert all(d.ok for d in done.values()) and set(done) == {"a", "b", "c", "d"}
    assert (tmp_path / "order").read_text().split() == ["a", "b", "d", "c"]  # a's chain (7) before c (1)


def test_a_gate_and_what_it_waits_on_go_first(tmp_path):
    """The pins are a gate: a long run ready before them waits, so that a rejected statement stops the check
    before the run starts (here: c, the longest chain, after the gate g and its dependency a)."""
    jobs = [Job("a", _sh("echo a >> order"), cost=1), Job("g", _sh("echo g >> order; exit 1"), {"a"}, gate=True),
            Job("c", _sh("echo c >> order"), cost=50)]
    done = run(jobs, tmp_path, workers=1)
    assert (tmp_path / "order").read_text().split() == ["a", "g"] and not done["g"].ok and "c" not in done


def test_a_failure_stops_the_rest(tmp_path):
    jobs = [Job("bad", _sh("echo broken; exit 3"), cost=10), Job("after", _sh("touch ran"), {"bad"}),
            Job("refused", _sh("touch ran2"), refused="forbidden: Admitted", cost=1)]
    done = run(jobs, tmp_path, workers=1)
    assert not done["bad"].ok and done["bad"].output == "broken"
    assert "after" not in done and "refused" not in done and not (tmp_path / "ran").exists()
    done = run(jobs[2:], tmp_path)
    assert done["refused"].output == "forbidden: Admitted" and not (tmp_path / "ran2").exists()


def test_cpu_is_measured_and_timeouts_fail(tmp_path):
    done = run([Job("spin", ["python3", "-c", "sum(range(3_000_000))"])], tmp_path)
    assert done["spin"].ok and done["spin"].cpu > 0.01
    done = run([Job("slow", _sh("sleep 5"))], tmp_path, timeout=0.5)
    assert not done["slow"].ok and "longer than 0.5 s" in done["slow"].output
    with pytest.raises(ValueError, match="unknown jobs"):
        run([Job("x", _sh("true"), {"nope"})], tmp_path)


def test_requires_reads_the_project_modules():
    text = "From Coq Require Import Reals.\nFrom SoftmaxSat Require Import RoundOnePlus\n  TopOutputTwoClass.\n" \
           "From SoftmaxSat Require Thresholds.\n"
    assert requires(text, "SoftmaxSat") == {"RoundOnePlus", "TopOutputTwoClass", "Thresholds"}
