"""The one results-folder protocol (`precision.common.publishing.publishing`) against folders received from someone
else: nothing in a folder is followed out of it, a folder in the way of an output is refused before any computing,
a lock of process 0 is stale like any other dead one, and a refusal names the command's own option."""
import json
import os
import socket
from pathlib import Path

import pytest

from precision.common.errors import InputError
from precision.common.locks import lock_is_stale
from precision.common.publishing import JOURNAL, locked, publishing
from softmax_sat import main


def test_a_received_journal_whose_staging_folder_links_out_of_the_folder_moves_nothing(tmp_path):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    out = tmp_path / "results"
    out.mkdir()
    (out / ".staging-12345").symlink_to(mine)
    (out / JOURNAL).write_text(json.dumps({"staging": ".staging-12345", "move": ["thesis.tex"], "remove": []}))
    lines: list[str] = []
    with locked(out, say=lines.append):
        pass
    assert (mine / "thesis.tex").read_text() == "years of work" and not (out / "thesis.tex").exists()
    assert not (out / ".staging-12345").exists() and not (out / JOURNAL).exists()  # the link went, not its target
    assert len(lines) == 2 and "not a journal of this tool's" in lines[0]


def test_a_symlinked_journal_is_never_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"staging": ".staging-1", "move": [], "remove": []}))
    out = tmp_path / "out"
    out.mkdir()
    (out / JOURNAL).symlink_to(elsewhere)
    with locked(out, say=lambda line: None):
        pass
    assert elsewhere.exists() and not (out / JOURNAL).is_symlink()


def test_a_folder_at_an_output_name_is_refused_before_anything_is_computed(tmp_path, capsys):
    (tmp_path / "certificate.json").mkdir()
    assert main(["prove", "--no-coq", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr()
    assert "--out:" in err.err and "certificate.json is a folder" in err.err and err.err.count("\n") == 1
    assert "lemma" not in err.out  # refused before the first proof
    assert sorted(p.name for p in tmp_path.iterdir()) == ["certificate.json"]  # no journal, claim or staging left


def test_a_refusal_inside_the_block_gives_the_claim_back_and_publishes_nothing(tmp_path):
    with pytest.raises(InputError, match="results: bad row"):
        with publishing(tmp_path, "demo", {"a": 1}, ("demo.txt",), option="results") as staging:
            (staging / "demo.txt").write_text("half")
            raise InputError("out", "bad row")
    assert list(tmp_path.iterdir()) == []
    with publishing(tmp_path, "demo", {"a": 2}, ("demo.txt",)) as staging:  # another config may take it now
        (staging / "demo.txt").write_text("whole")
    assert (tmp_path / "demo.txt").read_text() == "whole"
    with pytest.raises(InputError, match="results: .* another config"):
        with publishing(tmp_path, "demo", {"a": 3}, ("demo.txt",), option="results"):
            pass


def test_a_lock_of_process_0_is_not_a_live_lock(tmp_path):
    host = socket.gethostname()
    assert lock_is_stale(f"{host} 0", 1e6) and lock_is_stale("0 0", 1e6)
    assert not lock_is_stale(f"{host} {os.getpid()}", 1e6)
    (tmp_path / ".lock").write_text(f"{host} 0")
    os.utime(tmp_path / ".lock", (0, 0))
    with locked(tmp_path, say=lambda line: None):
        assert Path(tmp_path / ".lock").read_text() == f"{host} {os.getpid()}"
