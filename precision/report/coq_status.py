"""Which of the report's thresholds Coq has checked: read from a `softmax-sat prove` certificate (JSON, data only),
matched by format and exact gap, so a threshold computed anew is marked only where a proof states that very value."""
from __future__ import annotations

import json
from pathlib import Path

from precision.common.errors import InputError

DEFAULT_CERTIFICATE = Path("reports/proofs/certificate.json")


def coq_checked(path: Path) -> list[dict]:
    """The per-format facts a certificate's Coq records prove ([{format, fact, gap, theorem}]); none when the
    certificate has no checked Coq evidence."""
    try:
        records = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise InputError("proofs", f"cannot read {path} as a softmax-sat prove certificate: {e}") from None
    def bad(what: str) -> InputError:
        return InputError("proofs", f"{path} is not a softmax-sat prove certificate ({what})")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise bad("a list of records")
    out = []
    for record in records:
        steps = record.get("evidence", [])
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            raise bad("a record's evidence is not a list of steps")
        for step in steps:
            inputs = step.get("inputs") or {}
            proves = inputs.get("proves") if isinstance(inputs, dict) else None
            if step.get("kind") != "coq" or step.get("status") != "checked" or proves is None:
                continue
            if not isinstance(proves, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                       for k, v in proves.items()):
                raise bad("what a Coq step proves is not a table of names and gaps")
            out += [{"format": proves.get("format"), "fact": fact, "gap": gap, "theorem": inputs.get("coq_name")}
                    for fact, gap in proves.items() if fact != "format"]
    return out


def checked_by_coq(row: dict, proved: list[dict]) -> bool:
    """Whether Coq proved this row's two-class thresholds (the top output's, and the others' where there is one)."""
    if (row.get("algorithm"), row.get("classes"), row.get("rivals"), row.get("accumulate")) != \
            ("shifted", 2, "equal", None):
        return False
    facts = {(p["format"], p["fact"], p["gap"]) for p in proved}
    need = [f for f in ("top_is_one_from_gap", "others_zero_from_gap") if row.get(f) is not None]
    return bool(need) and all((row["format"], f, row[f]) in facts for f in need)
