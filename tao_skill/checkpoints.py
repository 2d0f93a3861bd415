"""Pick a checkpoint from a train job's results folder: best (by the monitoring metric), latest, epoch=N or step=N.

Works on folders written by the embedded trainer and by TAO's container (same file names and status.json lines).
Every answer says which file and why.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tao_skill.errors import UserError
from tao_skill.models import Candidate, Selection

__all__ = ["resolve", "find_checkpoints", "read_epoch_metrics", "checkpoint_dir", "parse_selector"]

_CKPT = re.compile(r"^model_epoch_(\d+)_step_(\d+)\.pth$")
LATEST_NAME = "oi_model_latest.pth"
BEST_INDEX_NAME = "best_checkpoints.json"


def parse_selector(select: str) -> tuple[str, int | None]:
    """``best``/``latest``/``epoch=N``/``step=N`` -> (kind, number)."""
    text = str(select).strip().lower()
    if text in ("best", "latest"):
        return text, None
    match = re.fullmatch(r"(epoch|step)\s*[=:]\s*(\d+)", text)
    if match:
        return match.group(1), int(match.group(2))
    raise UserError.single(
        "checkpoint",
        f"checkpoint selector '{select}' is not best, latest, epoch=N or step=N",
        rule="checkpoint_selector",
        value=select,
        hint="e.g. --checkpoint best, --checkpoint latest, --checkpoint epoch=3",
    )


def checkpoint_dir(results_dir: str | Path, action: str = "train") -> Path:
    """The folder holding checkpoints: ``<results_dir>/<action>`` when the trainer used it, else ``results_dir``."""
    root = Path(results_dir)
    sub = root / action
    if sub.is_dir() and (any(sub.glob("model_epoch_*.pth")) or (sub / LATEST_NAME).exists()):
        return sub
    return root


def find_checkpoints(folder: str | Path) -> list[Candidate]:
    """Every ``model_epoch_<E>_step_<S>.pth`` in ``folder`` plus the best checkpoints listed in its
    ``best_checkpoints.json`` (``train.checkpointer``), ordered by (epoch, step)."""
    found = []
    for path in Path(folder).glob("model_epoch_*_step_*.pth"):
        match = _CKPT.match(path.name)
        if match and path.is_file():
            found.append(Candidate(path=str(path), epoch=int(match.group(1)), step=int(match.group(2))))
    found += _listed_best(Path(folder), {(c.epoch, c.step) for c in found})
    return sorted(found, key=lambda c: (c.epoch or 0, c.step or 0))


def _listed_best(folder: Path, have: set[tuple[int | None, int | None]]) -> list[Candidate]:
    """Best checkpoints named in ``best_checkpoints.json`` that exist and are not already found by name."""
    try:
        data = json.loads((folder / BEST_INDEX_NAME).read_text(encoding="utf-8"))
        entries = data["checkpoints"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            continue
        path = Path(entry["path"])
        path = path if path.is_absolute() else folder / path
        epoch, step = entry.get("epoch"), entry.get("step")
        if not (isinstance(epoch, int) and isinstance(step, int)) or (epoch, step) in have or not path.is_file():
            continue
        found.append(Candidate(path=str(path), epoch=epoch, step=step))
    return found


def read_epoch_metrics(folder: str | Path, metric: str) -> dict[int, float]:
    """``{epoch: value}`` of ``metric`` from status.json lines (last value per epoch wins); bad lines skipped."""
    path = Path(folder) / "status.json"
    values: dict[int, float] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict):
            continue
        kpi = record.get("kpi")
        epoch = record.get("epoch")
        if not isinstance(kpi, dict) or metric not in kpi or not isinstance(epoch, int):
            continue
        try:
            values[epoch] = float(kpi[metric])
        except (TypeError, ValueError):
            continue
    return values


def _latest(folder: Path, candidates: list[Candidate]) -> tuple[Candidate | None, str]:
    link = folder / LATEST_NAME
    if link.exists():
        target = link.resolve()
        match = next((c for c in candidates if Path(c.path).resolve() == target), None)
        if match is not None:
            return match, f"{LATEST_NAME} points to it"
        return Candidate(path=str(link)), f"{LATEST_NAME} (no numbered checkpoint matches it)"
    if candidates:
        return candidates[-1], "highest epoch and step"
    return None, ""


def resolve(results_dir: str | Path, select: str = "best", metric: str = "val_acc", mode: str = "max") -> Selection:
    """Choose a checkpoint. ``best`` falls back to latest (and says so) when no epoch has ``metric``."""
    kind, number = parse_selector(select)
    folder = checkpoint_dir(results_dir)
    candidates = find_checkpoints(folder)
    metrics = read_epoch_metrics(folder, metric)
    for cand in candidates:
        if cand.epoch is not None and cand.epoch in metrics:
            cand.metric = metrics[cand.epoch]
    if not candidates and not (folder / LATEST_NAME).exists():
        raise UserError.single(
            "parent",
            f"no checkpoint in {folder}",
            rule="checkpoint_missing",
            value=str(folder),
            hint="the train job wrote no model_epoch_*_step_*.pth; check its state and logs (tao-skill logs JOB)",
        )
    if kind == "latest":
        chosen, why = _latest(folder, candidates)
        assert chosen is not None
        return Selection(
            path=chosen.path, epoch=chosen.epoch, step=chosen.step, reason=f"latest: {why}", candidates=candidates
        )
    if kind in ("epoch", "step"):
        matches = [c for c in candidates if (c.epoch if kind == "epoch" else c.step) == number]
        if not matches:
            have = sorted({(c.epoch if kind == "epoch" else c.step) for c in candidates})
            raise UserError.single(
                "checkpoint",
                f"no checkpoint for {kind}={number} in {folder}",
                rule="checkpoint_missing",
                value=select,
                hint=f"available {kind}s: {', '.join(map(str, have)) or 'none'}",
            )
        chosen = matches[-1]
        extra = " (last step of that epoch)" if kind == "epoch" and len(matches) > 1 else ""
        return Selection(
            path=chosen.path,
            epoch=chosen.epoch,
            step=chosen.step,
            reason=f"{kind}={number} requested{extra}",
            candidates=candidates,
        )
    scored = [c for c in candidates if c.metric is not None]
    if not scored:
        chosen, why = _latest(folder, candidates)
        assert chosen is not None
        return Selection(
            path=chosen.path,
            epoch=chosen.epoch,
            step=chosen.step,
            reason=f"best: no checkpointed epoch has '{metric}' in status.json, fell back to latest ({why})",
            candidates=candidates,
        )
    sign = 1.0 if mode == "max" else -1.0
    # Best value wins; among equal values the later checkpoint (more training) wins.
    chosen = max(scored, key=lambda c: (sign * (c.metric or 0.0), c.epoch or 0, c.step or 0))
    return Selection(
        path=chosen.path,
        epoch=chosen.epoch,
        step=chosen.step,
        reason=f"best: {metric}={chosen.metric:g} at epoch {chosen.epoch} ({mode} over {len(scored)} checkpointed "
        f"epoch(s))",
        candidates=candidates,
    )
