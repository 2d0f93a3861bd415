"""The MCP tools: names, descriptions, input and output schemas, annotations, and the function behind each.

Input schemas come from :class:`tao_skill.request.Request` (plan_job, run_job) with the skill bank's facts filled
in (skill and action enums, data source names, popular override keys); output schemas from the runtime's models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from tao_skill.errors import LazyModel, UserError
from tao_skill.models import TERMINAL_STATES, CheckpointReport, Job, Plan, SkillSummary

__all__ = ["Tool", "JobSummary", "NextCall", "summarize", "tools"]


class NextCall(LazyModel):
    """A tool call that usually comes next, with why."""

    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    why: str = ""


class JobSummary(LazyModel):
    """A job in a few hundred bytes: state, progress, the last KPIs, the error, and what to call next."""

    id: str
    skill: str
    action: str
    kind: str
    state: str
    exit_code: int | None = None
    parent_id: str | None = None
    group_id: str | None = None
    results_dir: str = ""
    progress: dict[str, Any] = Field(default_factory=dict)
    kpi: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    automl: dict[str, Any] | None = None
    next: list[NextCall] = Field(default_factory=list)


def _next(job: Job) -> list[NextCall]:
    if job.state not in TERMINAL_STATES:
        return [
            NextCall(tool="job_status", arguments={"job_id": job.id}, why="poll until done, failed or cancelled"),
            NextCall(tool="job_logs", arguments={"job_id": job.id, "tail": 50}, why="the latest output"),
        ]
    if job.state == "failed":
        return [NextCall(tool="job_logs", arguments={"job_id": job.id, "tail": 80}, why="read why it failed")]
    if job.state != "done" or job.action != "train":
        return []
    chained = NextCall(
        tool="run_job",
        arguments={"skill": job.skill, "action": "evaluate", "parent_job_id": job.id},
        why="evaluate the best checkpoint (add data_sources.eval_dataset)",
    )
    if job.kind == "automl":
        return [
            NextCall(tool="automl_report", arguments={"job_id": job.id}, why="every trial and the best one"),
            chained,
        ]
    return [NextCall(tool="list_checkpoints", arguments={"job_id": job.id}, why="pick a checkpoint"), chained]


def summarize(job: Job) -> JobSummary:
    """The compact form of a job record (``job_status`` without ``verbose``)."""
    progress = job.progress.model_dump(exclude_none=True) if job.progress else {}
    kpi = progress.pop("kpi", None) or {}
    automl = None
    if job.kind == "automl" and job.study is not None:
        automl = {
            "trial_counts": job.study.trial_counts,
            "best_trial": job.study.best_trial,
            "best_value": job.study.best_value,
            "best_child_id": job.best_child_id,
        }
    return JobSummary(
        id=job.id,
        skill=job.skill,
        action=job.action,
        kind=job.kind,
        state=job.state,
        exit_code=job.exit_code,
        parent_id=job.parent_id,
        group_id=job.group_id,
        results_dir=job.results_dir,
        progress=progress,
        kpi=kpi,
        error=job.error,
        automl=automl,
        next=_next(job),
    )


@dataclass
class Tool:
    """One MCP tool."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    annotations: dict[str, bool]
    call: Callable[[dict[str, Any]], Any]


READ_ONLY = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}


def _object(properties: dict[str, Any], required: list[str] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


def _schema(model: type[LazyModel]) -> dict[str, Any]:
    """A model's JSON Schema as an output schema (titles dropped; null stays allowed where the model allows it)."""

    def untitled(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: untitled(v) for k, v in node.items() if not (k == "title" and isinstance(v, str))}
        if isinstance(node, list):
            return [untitled(v) for v in node]
        return node

    return untitled(model.model_json_schema())


def _job_id(**extra: Any) -> dict[str, Any]:
    return _object({"job_id": {"type": "string", "description": "a job id (run_job's answer)"}, **extra}, ["job_id"])


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


# ------------------------------------------------------------------------------------------------ bodies
def _list_skills(args: dict[str, Any]) -> Any:
    from tao_skill import api

    return {"skills": _dump(api.list_skills())}


def _plan(args: dict[str, Any]) -> Any:
    from tao_skill import api
    from tao_skill.request import parse

    return _dump(api.plan(parse(args)))


def _run(args: dict[str, Any]) -> Any:
    from tao_skill import api
    from tao_skill.request import parse

    wait = bool(args.pop("wait", False))
    job = api.run(parse(args), wait=wait)
    return _dump(summarize(job))


def _status(args: dict[str, Any]) -> Any:
    from tao_skill import api

    job = api.status(args["job_id"])
    if args.get("verbose"):
        return {**_dump(summarize(job)), "record": _dump(job)}
    return _dump(summarize(job))


def _logs(args: dict[str, Any]) -> Any:
    from tao_skill import api

    tail = args.get("tail", 200)
    return {"job_id": args["job_id"], "log": api.logs(args["job_id"], tail=int(tail) if tail else None)}


def _cancel(args: dict[str, Any]) -> Any:
    from tao_skill import api

    return _dump(summarize(api.cancel(args["job_id"])))


def _checkpoints(args: dict[str, Any]) -> Any:
    from tao_skill import api

    return _dump(api.checkpoints(args["job_id"], select=args.get("select") or "best"))


def _list_jobs(args: dict[str, Any]) -> Any:
    from tao_skill import api

    filters = {k: args[k] for k in ("state", "action", "kind", "group_id") if args.get(k)}
    found = api.jobs(limit=int(args.get("limit") or 20), **filters)
    return {"jobs": [_dump(summarize(j)) | {"next": []} for j in found]}


def _automl(args: dict[str, Any], *, full: bool) -> Any:
    from tao_skill.preflight import install_command, missing_modules

    if missing_modules("automl"):
        raise UserError.single(
            "automl",
            "reading an AutoML study needs the AutoML engine (optuna), which is not installed here",
            rule="preflight",
            hint=install_command(["automl"]),
        )
    from tao_skill.automl.report import report

    data = report(args["job_id"], plots=bool(args.get("plots")) if full else False)
    if full:
        return data
    best = dict(data.get("best") or {})
    best.pop("spec", None)
    summary = summarize(_job(args["job_id"]))
    return {
        "job_id": data["job_id"],
        "state": data["state"],
        "algorithm": data["algorithm"],
        "metric": data["metric"],
        "direction": data["direction"],
        "max_trials": data["max_trials"],
        "trial_counts": data["trial_counts"],
        "best": best or None,
        "next": _dump(summary.next),
    }


def _job(job_id: str) -> Job:
    from tao_skill import api

    return api.status(job_id)


def _describe(args: dict[str, Any]) -> Any:
    from tao_skill.mcp_schemas import describe_action

    return describe_action(args["skill"], args["action"])


# ------------------------------------------------------------------------------------------------ table
def tools() -> list[Tool]:
    """Every tool; schemas are computed from the skill bank (call once at server start)."""
    from tao_skill.mcp_schemas import request_schema, skill_facts

    facts = skill_facts()
    request = request_schema(facts)
    job_summary = _schema(JobSummary)
    any_object = {"type": "object"}
    skill_action = _object({"skill": request["properties"]["skill"], "action": request["properties"]["action"]},
                           ["skill", "action"])  # fmt: skip
    wait = {"type": "boolean", "default": False, "description": "block until the job ends"}
    run_input = {**request, "properties": {**request["properties"], "wait": wait}}
    return [
        Tool("list_skills", "List the installed TAO skills with their actions and whether AutoML and schemas are "
             "ready.", _object({}), _object({"skills": {"type": "array", "items": _schema(SkillSummary)}}, ["skills"]),
             READ_ONLY, _list_skills),
        Tool("describe_action", "What an action takes: required data sources, spec params, popular parameters "
             "(type, default, bounds), shorthands, spec layers, allowed parents and AutoML parameters.",
             skill_action, any_object, READ_ONLY, _describe),
        Tool("plan_job", "Build and validate a job's spec without running it: resolved spec, where each value came "
             "from, the AutoML route and why, the parent model, and preflight (whether it can run here, with the "
             "install command if not). Returns every validation issue at once (isError).", request,
             _schema(Plan), READ_ONLY, _plan),
        Tool("run_job", "Plan, stage data, record and launch a job (detached unless wait). On the AutoML route "
             "(train's default) automl_settings configure the study. Returns the job's compact status.",
             run_input, job_summary,
             {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False, "openWorldHint": True}, _run),
        Tool("job_status", "A job's compact status: state (queued, running, done, failed, cancelled), exit code, "
             "progress, last KPIs, error and the calls that usually come next; verbose adds the full record (spec, "
             "provenance).", _job_id(verbose={"type": "boolean", "default": False}),
             {**job_summary, "properties": {**job_summary["properties"], "record": any_object}}, READ_ONLY, _status),
        Tool("job_logs", "A job's captured output (its last lines with tail).",
             _job_id(tail={"type": "integer", "minimum": 1, "default": 200}),
             _object({"job_id": {"type": "string"}, "log": {"type": "string"}}, ["job_id", "log"]), READ_ONLY, _logs),
        Tool("cancel_job", "Stop a running job (an AutoML job: its worker and running trials). A finished job "
             "stays as it is.", _job_id(), job_summary,
             {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": True, "openWorldHint": False},
             _cancel),
        Tool("list_checkpoints", "A train job's checkpoints with their metric, and the one a selector picks and why "
             "(epochs count from 0).", _job_id(select={"type": "string", "default": "best",
             "description": "best | latest | epoch=N | step=N"}), _schema(CheckpointReport), READ_ONLY, _checkpoints),
        Tool("list_jobs", "Recorded jobs, newest first, in compact form; filter by state, action, kind (job, automl, "
             "trial) or group_id (an AutoML job's id lists its trials).",
             _object({"state": {"type": "string", "enum": ["queued", "running", "done", "failed", "cancelled"]},
                      "action": {"type": "string"}, "kind": {"type": "string", "enum": ["job", "automl", "trial"]},
                      "group_id": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "default": 20}}),
             _object({"jobs": {"type": "array", "items": job_summary}}, ["jobs"]), READ_ONLY, _list_jobs),
        Tool("automl_status", "An AutoML study at a glance: trial counts against the budget and the best trial so "
             "far (value, parameters, job id, checkpoint).", _job_id(), any_object, READ_ONLY,
             lambda a: _automl(a, full=False)),
        Tool("automl_report", "An AutoML study in full: every trial (state, value, parameters, job id), the best "
             "trial with its spec and checkpoint; plots writes PNG plots under the job's results folder.",
             _job_id(plots={"type": "boolean", "default": False}), any_object,
             {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False},
             lambda a: _automl(a, full=True)),
    ]  # fmt: skip
