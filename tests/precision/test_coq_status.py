"""The report marks a threshold "checked by Coq" only where a prove certificate's Coq theorem states that value."""
import json

from precision import thresholds
from precision.report.coq_status import checked_by_coq, coq_checked
from softmax_sat import main


def _certificate(path, fmt, top, zero, status="checked"):
    evidence = [{"kind": "coq", "status": status, "inputs": {"coq_name": f"SoftmaxSat.T.{fmt}_{fact}",
                                                           "proves": {"format": fmt, fact: gap}}}
                for fact, gap in (("top_is_one_from_gap", top), ("others_zero_from_gap", zero))]
    path.write_text(json.dumps([{"lemma": "2.1", "evidence": evidence}]))
    return path


def test_a_row_is_checked_by_coq_only_at_the_proved_values(tmp_path):
    row = thresholds("float32", "shifted", 2).as_dict()
    proved = coq_checked(_certificate(tmp_path / "c.json", "float32", row["top_is_one_from_gap"],
                                      row["others_zero_from_gap"]))
    assert checked_by_coq(row, proved)
    assert not checked_by_coq(thresholds("bfloat16", "shifted", 2).as_dict(), proved)  # another format
    assert not checked_by_coq(thresholds("float32", "shifted", 1000).as_dict(), proved)  # not the theorem's M
    one_step_below = "16.6355304718017578125"  # the float32 predecessor of the threshold
    moved = coq_checked(_certificate(tmp_path / "m.json", "float32", one_step_below, row["others_zero_from_gap"]))
    assert not checked_by_coq(row, moved)
    failed = coq_checked(_certificate(tmp_path / "f.json", "float32", row["top_is_one_from_gap"],
                                      row["others_zero_from_gap"], status="failed"))
    assert not checked_by_coq(row, failed)


def test_the_report_says_which_rows_coq_checked(tmp_path, capsys):
    row = thresholds("float32", "shifted", 2).as_dict()
    cert = _certificate(tmp_path / "c.json", "float32", row["top_is_one_from_gap"], row["others_zero_from_gap"])
    out = tmp_path / "out"
    argv = ["report", "--kernels", "none", "--formats", "float32,bfloat16", "--classes", "2", "--algorithms",
            "shifted", "--no-figures", "--out", str(out)]
    assert main(argv + ["--proofs", str(cert)]) == 0
    md = (out / "report.md").read_text()
    assert "| float32 | 16.6355 |" in md and md.split("| float32 | 16.6355 |")[1].split("\n")[0].endswith("| yes |")
    assert md.split("| bfloat16 | 5.5625 |")[1].split("\n")[0].endswith("| no |")
    assert main(argv + ["--proofs", str(tmp_path / "none.json")]) == 2
    assert "--proofs: cannot read" in capsys.readouterr().err
