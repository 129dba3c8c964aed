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
    if not isinstance(records, list):
        raise InputError("proofs", f"{path} is not a softmax-sat prove certificate (a list of records)")
    out = []
    for record in records:
        for step in record.get("evidence", []) if isinstance(record, dict) else []:
            proves = (step.get("inputs") or {}).get("proves") if isinstance(step, dict) else None
            if step.get("kind") == "coq" and step.get("status") == "checked" and isinstance(proves, dict):
                out += [{"format": proves.get("format"), "fact": fact, "gap": gap,
                         "theorem": step["inputs"].get("coq_name")} for fact, gap in proves.items() if fact != "format"]
    return out


def checked_by_coq(row: dict, proved: list[dict]) -> bool:
    """Whether Coq proved this row's two-class thresholds (the top output's, and the others' where there is one)."""
    if (row.get("algorithm"), row.get("classes"), row.get("rivals"), row.get("accumulate")) != \
            ("shifted", 2, "equal", None):
        return False
    facts = {(p["format"], p["fact"], p["gap"]) for p in proved}
    need = [f for f in ("top_is_one_from_gap", "others_zero_from_gap") if row.get(f) is not None]
    return bool(need) and all((row["format"], f, row[f]) in facts for f in need)
