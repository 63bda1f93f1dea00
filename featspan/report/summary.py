"""Flatten per-cohort result files (span or probe JSON) into one CSV table per experiment."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Sequence

from ..io import atomic_path

HEADER_KEYS = ("experiment", "arch", "state", "alpha", "replicate", "m_feat", "m_param")


def flatten(result: dict) -> list[dict]:
    head = {k: result[k] for k in HEADER_KEYS if k in result}
    rows = []
    for record in result["records"]:
        row = dict(head)
        for key, value in record.items():
            row[key] = json.dumps(value) if isinstance(value, (dict, list)) else value
        rows.append(row)
    return rows


def summarize(paths: Sequence[str | Path], out_path: str | Path) -> None:
    rows = [row for p in paths for row in flatten(json.loads(Path(p).read_text()))]
    fields = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(out_path) as tmp:
        tmp.write_text(buffer.getvalue())


def read_table(path: str | Path) -> list[dict]:
    """Rows of a summary CSV with numbers parsed."""
    with open(path, newline="") as f:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _number(value: str):
    for cast in (int, float):
        try:
            return cast(value)
        except (TypeError, ValueError):
            pass
    return value
