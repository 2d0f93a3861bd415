"""How ``tao-skill`` shows things to people: tables of jobs, a job, a plan with provenance; JSON for agents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

__all__ = ["print_json", "dump", "table", "job_rows", "print_job", "print_plan", "print_checkpoints", "print_checks"]


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


def print_job(job: Any) -> None:
    print(table([(k, v) for k, v in (
        ("job", job.id), ("skill", job.skill), ("action", job.action), ("kind", job.kind), ("state", job.state),
        ("exit code", job.exit_code), ("backend", job.backend), ("parent", job.parent_id), ("group", job.group_id),
        ("results", job.results_dir), ("created", when(job.created_at)), ("started", when(job.started_at)),
        ("ended", when(job.ended_at)),
    ) if v not in (None, "")], ("field", "value")))  # fmt: skip
    progress = job.progress.model_dump(exclude_none=True) if job.progress else {}
    if progress:
        line = ", ".join(f"{k}={v}" for k, v in progress.items() if k != "kpi")
        print(f"\nprogress: {line}")
        if progress.get("kpi"):
            print("kpi: " + ", ".join(f"{k}={v}" for k, v in progress["kpi"].items()))
    if job.error:
        print(f"\nerror: {job.error}")


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
        ("*" if c.path == report.chosen.path else "", c.epoch, c.step, "" if c.metric is None else f"{c.metric:g}")
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
