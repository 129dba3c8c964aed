"""Writing results files so that an interrupted run leaves the old complete file or the new one, never half."""
from __future__ import annotations

import json
import os
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write to a temporary name beside `path`, then rename over it (atomic on one file system)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def write_json_atomic(path: Path, data, indent: int | None = None) -> Path:
    """Strict JSON (no NaN or Infinity tokens: a float that is not finite is a bug here) written atomically."""
    return write_text_atomic(path, json.dumps(data, indent=indent, allow_nan=False))
