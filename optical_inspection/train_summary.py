"""The end of a training run, told about the checkpoint people will use.

``tao-skill`` chains evaluate, inference and export from a train job's *best* checkpoint unless told otherwise: of
the checkpoints in the results folder, the one whose epoch has the highest ``val_roc_auc``, equal values ranked by
the lower ``val_far_at_target``, then the later one (the ranking the skill's contract declares). The SUCCESS status
line therefore names that checkpoint, its epoch's KPIs and its calibrated threshold, and the final checkpoint
beside it when it is another one. Everything is read from status.json (one RUNNING line per epoch with its KPIs and
threshold) and the files present, so a resumed run's earlier epochs count as they do for the runtime.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optical_inspection.checkpoint import CHECKPOINT_PATTERN
from optical_inspection.console import number
from optical_inspection.status import RUNNING, read_status
from optical_inspection.topk_checkpoint import DEFAULT_MONITOR, INDEX_NAME, TIE_BREAKER

__all__ = ["CheckpointFacts", "checkpoint_facts", "best_checkpoint", "describe"]


@dataclass
class CheckpointFacts:
    """A checkpoint file with the KPIs and the calibrated threshold of its epoch (0-based, as in its name)."""

    path: Path
    epoch: int
    step: int
    kpi: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None
    calibration: dict[str, Any] | None = None


def _epoch_lines(results: Path) -> dict[int, dict[str, Any]]:
    """The last RUNNING status line of every epoch."""
    path = results / "status.json"
    lines = read_status(path) if path.is_file() else []
    return {r["epoch"]: r for r in lines if r.get("status") == RUNNING and isinstance(r.get("epoch"), int)}


def _files(results: Path) -> dict[tuple[int, int], Path]:
    found: dict[tuple[int, int], Path] = {}
    for path in results.glob("model_epoch_*_step_*.pth"):
        match = CHECKPOINT_PATTERN.match(path.name)
        if match and path.is_file():
            found[(int(match.group(1)), int(match.group(2)))] = path
    try:
        entries = json.loads((results / INDEX_NAME).read_text(encoding="utf-8"))["checkpoints"]
    except (OSError, ValueError, KeyError, TypeError):
        entries = []
    for entry in entries if isinstance(entries, list) else []:
        path = Path(str(entry.get("path", ""))) if isinstance(entry, dict) else Path()
        epoch, step = (entry.get("epoch"), entry.get("step")) if isinstance(entry, dict) else (None, None)
        if isinstance(epoch, int) and isinstance(step, int) and (epoch, step) not in found and path.is_file():
            found[(epoch, step)] = path
    return found


def checkpoint_facts(results: str | Path) -> list[CheckpointFacts]:
    """Every checkpoint of a train results folder with its epoch's KPIs and threshold, by (epoch, step)."""
    results = Path(results)
    lines = _epoch_lines(results)
    facts = []
    for (epoch, step), path in sorted(_files(results).items()):
        line = lines.get(epoch, {})
        threshold = line.get("threshold")
        calibration = line.get("calibration")
        facts.append(
            CheckpointFacts(
                path=path,
                epoch=epoch,
                step=step,
                kpi=dict(line.get("kpi") or {}),
                threshold=float(threshold) if isinstance(threshold, (int, float)) else None,
                calibration=calibration if isinstance(calibration, dict) else None,
            )
        )
    return facts


def _value(facts: CheckpointFacts, key: str) -> float | None:
    value = facts.kpi.get(key)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def best_checkpoint(facts: list[CheckpointFacts]) -> CheckpointFacts | None:
    """The checkpoint 'best' picks: highest ``val_roc_auc``, then lowest ``val_far_at_target``, then the later one;
    the latest checkpoint when no epoch was validated; None without checkpoints."""
    scored = [f for f in facts if _value(f, DEFAULT_MONITOR) is not None]
    if not scored:
        return facts[-1] if facts else None

    def rank(f: CheckpointFacts) -> tuple[float, float, int, int]:
        tie = _value(f, TIE_BREAKER)
        return (_value(f, DEFAULT_MONITOR) or 0.0, -tie if tie is not None else -math.inf, f.epoch, f.step)

    return max(scored, key=rank)


def _kpi_text(facts: CheckpointFacts) -> str:
    shown = [k for k in (DEFAULT_MONITOR, TIE_BREAKER, "val_loss") if k in facts.kpi]
    return ", ".join(f"{k} {number(facts.kpi[k], k)}" for k in shown)


def describe(best: CheckpointFacts, final: CheckpointFacts | None, max_epochs: int | None) -> str:
    """One paragraph: the best checkpoint (what chained jobs use), its KPIs and threshold; the final one if other.
    Epochs are counted from 1 here (the file names keep TAO's 0-based numbers)."""
    total = f"/{max_epochs}" if max_epochs else ""
    text = (
        f"best checkpoint (what evaluate, inference and export use by default): {best.path.name}, epoch "
        f"{best.epoch + 1}{total}"
    )
    kpis = _kpi_text(best)
    text += f" ({kpis})" if kpis else ""
    if best.threshold is not None:
        text += f", decision threshold {number(best.threshold)} calibrated on the validation set"
        cal = best.calibration or {}
        if isinstance(cal.get("recall"), (int, float)) and isinstance(cal.get("false_alarm_rate"), (int, float)):
            text += (
                f" (there: defect recall {cal['recall']:.1%}, false alarms {cal['false_alarm_rate']:.1%} of PASS pairs)"
            )
    if final is not None and final.path != best.path:
        text += f". Final checkpoint: {final.path.name}, epoch {final.epoch + 1}{total}"
        kpis = _kpi_text(final)
        text += f" ({kpis}); use --checkpoint latest for it" if kpis else "; use --checkpoint latest for it"
    return text
