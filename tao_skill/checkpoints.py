"""Pick a checkpoint from a train job's results folder: best (by the skill's ranking metric), latest, epoch=N or
step=N.

Works on folders written by the embedded trainer and by TAO's container (same file names and status.json lines);
file names come from the skill's :class:`~tao_skill.skill.CheckpointLayout` (TAO's ``model_epoch_<E>_step_<S>.pth``
when none is given). The folder may be local or a job's ``s3://`` results (read through :mod:`tao_skill.s3_path`).
Every answer says which file and why.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tao_skill import s3_files, status_file
from tao_skill.contract import CheckpointLayout, RuntimeExtras, TieBreaker
from tao_skill.errors import UserError
from tao_skill.models import Candidate, Selection
from tao_skill.s3_path import S3Path, as_path

__all__ = ["resolve", "resolve_by_contract", "find_checkpoints", "checkpoint_dir", "latest_link", "parse_selector"]

_DEFAULT_LAYOUT = CheckpointLayout()


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


def _pattern(layout: CheckpointLayout) -> tuple[re.Pattern[str], str]:
    """(regex matching numbered checkpoints, glob finding them) of the layout's ``pattern``."""
    parts = re.split(r"(\{epoch\}|\{step\})", layout.pattern)
    regex = "".join({"{epoch}": r"(?P<epoch>\d+)", "{step}": r"(?P<step>\d+)"}.get(p, re.escape(p)) for p in parts)
    return re.compile(f"^{regex}$"), "".join("*" if p in ("{epoch}", "{step}") else p for p in parts)


def _latest_in(folder: Path | S3Path, layout: CheckpointLayout) -> Path | S3Path | None:
    if layout.latest is not None:
        link = folder / layout.latest
        return link if link.exists() else None
    links = sorted(p for p in folder.glob("*_latest.pth") if p.exists())
    return links[0] if len(links) == 1 else None


def checkpoint_dir(results_dir: str | Path | S3Path, layout: CheckpointLayout = _DEFAULT_LAYOUT) -> Path | S3Path:
    """The folder holding checkpoints: ``<results_dir>/<layout.folder>`` when the trainer used it, else
    ``results_dir``."""
    root = as_path(results_dir)
    sub = root / layout.folder
    if sub.is_dir() and (
        any(sub.glob(_pattern(layout)[1]))
        or _latest_in(sub, layout) is not None
        or (layout.index is not None and (sub / layout.index).is_file())
    ):
        return sub
    return root


def latest_link(results_dir: str | Path | S3Path, layout: CheckpointLayout = _DEFAULT_LAYOUT) -> Path | S3Path | None:
    """The link to a train job's newest checkpoint (what a resume starts from), or None. On S3 the link is the
    results syncer's pointer object; ``resolve()`` follows either to the checkpoint."""
    root = as_path(results_dir)
    for folder in (root / layout.folder, root):
        link = _latest_in(folder, layout)
        if link is not None:
            return link
    return None


def find_checkpoints(folder: str | Path | S3Path, layout: CheckpointLayout = _DEFAULT_LAYOUT) -> list[Candidate]:
    """Every numbered checkpoint in ``folder`` plus the best checkpoints listed in its index (the trainer's top-k
    checkpointing), ordered by (epoch, step)."""
    regex, glob = _pattern(layout)
    found = []
    for path in as_path(folder).glob(glob):
        match = regex.match(path.name)
        if match and path.is_file():
            groups = match.groupdict()
            epoch = int(groups["epoch"]) if groups.get("epoch") is not None else None
            step = int(groups["step"]) if groups.get("step") is not None else None
            found.append(Candidate(path=str(path), epoch=epoch, step=step))
    if layout.index:
        found += _listed_best(as_path(folder) / layout.index, {(c.epoch, c.step) for c in found})
    return sorted(found, key=lambda c: (c.epoch or 0, c.step or 0))


def _listed_best(index: Path | S3Path, have: set[tuple[int | None, int | None]]) -> list[Candidate]:
    """Best checkpoints named in the index that exist and are not already found by name."""
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))["checkpoints"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            continue
        path = as_path(entry["path"]) if os.path.isabs(entry["path"]) else index.parent / entry["path"]
        epoch, step = entry.get("epoch"), entry.get("step")
        if not (isinstance(epoch, int) and isinstance(step, int)) or (epoch, step) in have or not path.is_file():
            continue
        found.append(Candidate(path=str(path), epoch=epoch, step=step))
    return found


def _latest(
    folder: Path | S3Path, candidates: list[Candidate], layout: CheckpointLayout
) -> tuple[Candidate | None, str]:
    link = _latest_in(folder, layout)
    if link is not None:
        target = link.resolve()
        match = next((c for c in candidates if _resolved(c.path) == str(target)), None)
        if match is not None:
            return match, f"{link.name} points to it"
        return Candidate(path=str(link)), f"{link.name} (no numbered checkpoint matches it)"
    if candidates:
        return candidates[-1], "highest epoch and step"
    return None, ""


def _resolved(path: str) -> str:
    """A checkpoint path with symlinks followed (S3 checkpoints are plain objects)."""
    return path if s3_files.is_s3(path) else str(Path(path).resolve())


def _ordinal(epoch: int | None) -> str:
    """'the 3rd' for TAO's 0-based epoch 2 (people count epochs from 1; file names and selectors from 0)."""
    if epoch is None:
        return "an unknown"
    n = epoch + 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"the {n}{suffix}"


def _selection(chosen: Candidate, reason: str, candidates: list[Candidate]) -> Selection:
    return Selection(path=chosen.path, epoch=chosen.epoch, step=chosen.step, reason=reason, candidates=candidates)


def resolve(
    results_dir: str | Path,
    select: str = "best",
    metric: str | None = None,
    mode: str = "max",
    *,
    tie_breaker: TieBreaker | None = None,
    layout: CheckpointLayout = _DEFAULT_LAYOUT,
) -> Selection:
    """Choose a checkpoint. ``best`` ranks by ``metric`` (``mode``), equal values by ``tie_breaker``, then the later
    checkpoint; it falls back to latest (and says so) when no checkpointed epoch has the metric."""
    kind, number = parse_selector(select)
    folder = checkpoint_dir(results_dir, layout)
    candidates = find_checkpoints(folder, layout)
    if not candidates and _latest_in(folder, layout) is None:
        raise UserError.single(
            "parent",
            f"no checkpoint in {folder}",
            rule="checkpoint_missing",
            value=str(folder),
            hint="the train job wrote no checkpoint; check its state and logs (tao-skill logs JOB)",
        )
    lines = status_file.records(folder / status_file.STATUS_NAME)
    metrics = status_file.epoch_metrics(lines, metric) if metric else {}
    ties = status_file.epoch_metrics(lines, tie_breaker.metric) if tie_breaker else {}
    for cand in candidates:
        if cand.epoch is not None and cand.epoch in metrics:
            cand.metric = metrics[cand.epoch]
    if kind == "latest":
        chosen, why = _latest(folder, candidates, layout)
        assert chosen is not None
        return _selection(chosen, f"latest: {why}", candidates)
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
        extra = " (last step of that epoch)" if kind == "epoch" and len(matches) > 1 else ""
        return _selection(matches[-1], f"{kind}={number} requested{extra}", candidates)
    scored = [c for c in candidates if c.metric is not None]
    if not scored:
        chosen, why = _latest(folder, candidates, layout)
        assert chosen is not None
        missing = f"'{metric}' in status.json" if metric else "a ranking metric (the skill names none)"
        return _selection(chosen, f"best: no checkpointed epoch has {missing}, fell back to latest ({why})", candidates)
    sign = 1.0 if mode == "max" else -1.0
    tie_sign = 1.0 if tie_breaker is None or tie_breaker.mode == "max" else -1.0

    def rank(c: Candidate) -> tuple[float, float, int, int]:
        tie = ties.get(c.epoch) if c.epoch is not None else None
        return (
            sign * (c.metric or 0.0),
            tie_sign * tie if tie is not None else float("-inf"),
            c.epoch or 0,
            c.step or 0,
        )

    # Best value wins; among equal values the tie-breaker, then the later checkpoint (more training).
    chosen = max(scored, key=rank)
    tied = [c for c in scored if c.metric == chosen.metric]
    by_tie = ""
    if tie_breaker is not None and len(tied) > 1 and chosen.epoch in ties:
        by_tie = f"; {len(tied)} tied, {tie_breaker.metric}={ties[chosen.epoch]:.4g} ({tie_breaker.mode}) decided"
    return _selection(
        chosen,
        f"best: {metric}={chosen.metric:.4g} at epoch={chosen.epoch} ({_ordinal(chosen.epoch)} epoch; {mode} over "
        f"{len(scored)} checkpointed "
        f"epoch(s){by_tie})",
        candidates,
    )


def resolve_by_contract(results_dir: str | Path, select: str, runtime: RuntimeExtras) -> Selection:
    """:func:`resolve` with the ranking (metric, mode, tie-breaker) and checkpoint layout of a skill's contract."""
    ranking = runtime.ranking
    return resolve(
        results_dir,
        select,
        ranking.metric if ranking else None,
        ranking.mode if ranking else "max",
        tie_breaker=ranking.tie_breaker if ranking else None,
        layout=runtime.checkpoints,
    )
