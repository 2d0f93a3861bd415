"""The one reader of a job's ``status.json``: TAO's status lines (one JSON object a line: status, message, epoch,
max_epoch, eta, kpi), as the embedded trainer and TAO's container write them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tao_skill.models import Progress
from tao_skill.s3_path import S3Path, as_path

__all__ = ["STATUS_NAME", "find", "records", "progress", "epoch_metrics"]

STATUS_NAME = "status.json"


def find(results_dir: str | Path | S3Path, action: str) -> Path | S3Path | None:
    """The status.json of an action's results (``<results>/<action>`` when the trainer used it, else
    ``<results>``; a local folder or ``s3://`` results), or None when there is none yet."""
    root = as_path(results_dir)
    for folder in (root / action, root):
        if (folder / STATUS_NAME).is_file():
            return folder / STATUS_NAME
    return None


def records(path: str | Path | S3Path | None) -> list[dict[str, Any]]:
    """Every status line of ``path`` that is a JSON object (bad or partial lines skipped)."""
    if path is None:
        return []
    path = as_path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            found.append(record)
    return found


def progress(lines: list[dict[str, Any]]) -> Progress | None:
    """The job's progress: its last status line, with the last KPIs any line reported."""
    if not lines:
        return None
    last = lines[-1]
    fields = {k: last.get(k) for k in ("status", "message", "epoch", "max_epoch", "eta") if k in last}
    kpis = [r["kpi"] for r in lines if isinstance(r.get("kpi"), dict)]
    if kpis:
        fields["kpi"] = kpis[-1]
    return Progress.model_validate(fields) if fields else None


def epoch_metrics(lines: list[dict[str, Any]], metric: str, *, skip_final: bool = False) -> dict[int, float]:
    """``{epoch: value}`` of ``metric`` from the KPI lines (the last value of an epoch wins). ``skip_final`` leaves
    out a SUCCESS line's KPIs for an epoch already reported (the trainer repeats the last epoch's KPIs there)."""
    values: dict[int, float] = {}
    for record in lines:
        kpi, epoch = record.get("kpi"), record.get("epoch")
        if not isinstance(kpi, dict) or metric not in kpi or not isinstance(epoch, int) or isinstance(epoch, bool):
            continue
        if skip_final and record.get("status") == "SUCCESS" and epoch in values:
            continue
        try:
            values[epoch] = float(kpi[metric])
        except (TypeError, ValueError):
            continue
    return values
