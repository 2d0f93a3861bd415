"""How ``tao-skill`` shows things to people: tables of jobs, a job, a plan with provenance; JSON for agents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

__all__ = [
    "print_json",
    "dump",
    "table",
    "job_rows",
    "number",
    "print_job",
    "print_outcome",
    "print_plan",
    "print_checkpoints",
    "print_checks",
]


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def dump(model: Any) -> Any:
    if isinstance(model, list):
        return [dump(m) for m in model]
    return model.model_dump(mode="json") if hasattr(model, "model_dump") else model


def table(rows: list[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def job_rows(jobs: list[Any]) -> str:
    rows = [
        (
            j.id,
            j.action,
            j.kind,
            j.state,
            j.exit_code,
            j.parent_id or j.group_id or "",
            when(j.created_at),
            j.results_dir,
        )
        for j in jobs
    ]
    return table(rows, ("job", "action", "kind", "state", "exit", "parent", "created", "results"))


def number(value: Any) -> str:
    """A number for people: 4 significant digits (full precision stays in --json and the job's files)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_job(job: Any, kpi_notes: dict[str, str] | None = None) -> None:
    """A job's record, its progress and its KPIs rounded, each explained by the skill's contract when it says."""
    print(table([(k, v) for k, v in (
        ("job", job.id), ("skill", job.skill), ("action", job.action), ("kind", job.kind), ("state", job.state),
        ("exit code", job.exit_code), ("backend", job.backend), ("parent", job.parent_id), ("group", job.group_id),
        ("results", job.results_dir), ("created", when(job.created_at)), ("started", when(job.started_at)),
        ("ended", when(job.ended_at)),
    ) if v not in (None, "")], ("field", "value")))  # fmt: skip
    progress = job.progress.model_dump(exclude_none=True) if job.progress else {}
    if progress:
        epoch, total = progress.get("epoch"), progress.get("max_epoch")
        fields = [str(progress.get("status", ""))]
        if isinstance(epoch, int):  # status lines count epochs from 0 (TAO); people from 1
            fields.append(f"epoch {epoch + 1}" + (f"/{total}" if total else "") + f" (epoch={epoch} in file names)")
        fields += [f"eta {progress['eta']}"] if progress.get("eta") and progress.get("status") == "RUNNING" else []
        print(f"\nprogress: {', '.join(f for f in fields if f)}")
        if progress.get("message"):
            print(f"  {progress['message']}")
        if progress.get("kpi"):
            notes = kpi_notes or {}
            rows = [(k, number(v), notes.get(k, "")) for k, v in progress["kpi"].items()]
            where = f"epoch {epoch + 1}" if isinstance(epoch, int) else "the last status line"
            print(f"\nKPIs of {where} (rounded; full precision with --json)")
            print(table(rows, ("kpi", "value", "meaning")))
    if job.error:
        print(f"\nerror: {job.error}")


def print_outcome(job: Any, best: Any = None) -> None:
    """What a finished job left for people: the checkpoint its children use by default (a train job) and its
    pictures (training curves, ROC curve, score histogram...)."""
    from pathlib import Path

    if best is not None:
        print(f"\nbest checkpoint (children use it unless --checkpoint says otherwise): {best.path}\n  {best.reason}")
    root = Path(job.results_dir)
    pictures = sorted({*root.glob("*.png"), *root.glob("*/*.png")}) if root.is_dir() else []
    if pictures:
        print("\npictures:")
        for path in pictures:
            print(f"  {path}")


def print_plan(plan: Any, verbose: bool) -> None:
    print(f"plan: {plan.skill} {plan.action} (job id {plan.job_id})")
    print(
        f"route: {plan.route}   automl: {'on' if plan.automl.enabled else 'off'} ({plan.automl.source}: "
        f"{plan.automl.reason})"
    )
    print(f"backend: {plan.backend}   results: {plan.results_dir}")
    if plan.parent:
        print(f"parent: {plan.parent.job_id} ({plan.parent.action}) -> {plan.parent.model_path}")
        print(f"        {plan.parent.reason}")
    for name, uri in plan.data_sources.items():
        print(f"data: {name} = {uri}")
    print("command: " + " ".join(plan.command))
    from tao_skill.overrides import flatten

    flat = flatten(plan.spec)
    rows = [
        (k, json.dumps(flat.get(k), default=str), v)
        for k, v in sorted(plan.provenance.items())
        if verbose or v != "template"
    ]
    if rows:
        print()
        print(table(rows, ("key", "value", "from")))
    if not verbose:
        print(
            f"\n({sum(1 for v in plan.provenance.values() if v == 'template')} template defaults not shown; -v shows"
            " them)"
        )
    for warning in plan.warnings:
        print(f"warning: {warning}")
    if plan.preflight.ok:
        print("preflight: ok, it can run here")
    else:
        print("preflight: it cannot run here yet")
        for check in plan.preflight.problems():
            print(f"  - {check.name}: {check.detail}" + (f" (fix: {check.fix})" if check.fix else ""))
        if plan.preflight.install:
            print(f"  install: {plan.preflight.install}")


def print_checkpoints(report: Any) -> None:
    """A train job's checkpoints (the chosen one starred) with their ranking metric, and why it was chosen."""
    rows = [
        ("*" if c.path == report.chosen.path else "", c.epoch, c.step, "" if c.metric is None else f"{c.metric:.4g}")
        + (c.path,)
        for c in report.candidates
    ]
    print(table(rows, ("", "epoch", "step", report.metric, "file")))
    print(f"\n{report.select}: {report.chosen.path}\n  because {report.chosen.reason}")


def print_checks(checks: list[Any]) -> None:
    """``tao-skill doctor``'s checks, then how to fix the ones that failed."""
    rows = [(c.status, c.group, c.name, c.detail) for c in checks]
    print(table(rows, ("status", "group", "check", "detail")))
    fixes = [(c.name, c.fix) for c in checks if c.fix and c.status != "ok"]
    if fixes:
        print("\nto fix:")
        for name, fix in fixes:
            print(f"  {name}: {fix}")
