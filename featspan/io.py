"""Writing outputs atomically: a reader (or a resumed job) never sees a half-written file."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def strict(obj):
    """``obj`` with every non-finite float replaced by None, so ``json.dumps`` writes strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:  # numpy scalars
        return strict(obj.item())
    if hasattr(obj, "tolist"):
        return strict(obj.tolist())
    return obj


def dumps(obj, indent: int | None = None) -> str:
    """Strict JSON (NaN and infinities become null; json.loads accepts it with them refused)."""
    return json.dumps(strict(obj), indent=indent, allow_nan=False)


def write_json(obj, path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(dumps(obj, indent=2))


def write_text(text: str, path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_rows_csv(rows: list[dict], path) -> None:
    """A list of records as CSV (header: every key, in first-seen order; fields quoted where needed)."""
    buffer = io.StringIO()
    fields = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(buffer.getvalue(), path)
