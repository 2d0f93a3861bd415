"""``status.json``: one JSON object per line, as TAO's status logger writes it (TAO-COMPAT section 4).

Fields: ``date`` (m/d/Y), ``time`` (H:M:S), ``status`` (STARTED | RUNNING | SUCCESS | FAILURE), ``verbosity``,
``message`` and, when given, ``kpi``, ``epoch``, ``max_epoch``, ``eta`` and any extra keys. Lines are appended
with one ``write`` each so that a reader never sees half a line.
"""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["StatusLogger", "STARTED", "RUNNING", "SUCCESS", "FAILURE", "read_status"]

STARTED, RUNNING, SUCCESS, FAILURE = "STARTED", "RUNNING", "SUCCESS", "FAILURE"


def _plain(value: Any) -> Any:
    """JSON-safe value: numpy/torch scalars to float, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class StatusLogger:
    """Appends status lines to ``<results_dir>/status.json`` (only on rank 0 when ``enabled`` is False elsewhere)."""

    def __init__(self, results_dir: str | os.PathLike[str], *, enabled: bool = True) -> None:
        self.path = Path(results_dir) / "status.json"
        self.enabled = enabled

    def write(self, status: str, message: str, *, verbosity: str = "INFO", **fields: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        record: dict[str, Any] = {
            "date": now.strftime("%m/%d/%Y"),
            "time": now.strftime("%H:%M:%S"),
            "status": status,
            "verbosity": verbosity,
            "message": message,
        }
        record.update({k: _plain(v) for k, v in fields.items() if v is not None})
        if self.enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            line = json.dumps(record) + "\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        return record


def read_status(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All status lines of a status.json (skips a torn last line)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
