"""The MCP tools' definitions: names, descriptions and input schemas built from the skill bank (skill and action
enums, data source names, popular override keys with their types and bounds, each skill's ranking metric)."""

from __future__ import annotations

from typing import Any

from tao_skill._schema_walk import leaf_schemas
from tao_skill.errors import UserError

__all__ = ["TOOL_NAMES", "SCHEMA_KEYWORDS", "tool_definitions", "popular_keys"]

TOOL_NAMES = (
    "list_skills",
    "describe_action",
    "plan_job",
    "run_job",
    "job_status",
    "job_logs",
    "cancel_job",
    "list_checkpoints",
)
SCHEMA_KEYWORDS = (
    "type",
    "enum",
    "anyOf",
    "oneOf",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "default",
    "items",
)
_MAX_POPULAR = 40


def popular_keys(schema: dict[str, Any], leaves: dict[str, dict[str, Any]]) -> list[str]:
    """Popular keys: the schema's top-level ``popular`` list, else fields flagged ``popular``."""
    top = schema.get("popular")
    keys: list[str] = []
    if isinstance(top, list):
        keys = [k for k in top if isinstance(k, str)]
    elif isinstance(top, dict):
        keys = [k for k, v in top.items() if v]
    keys += [k for k, sub in leaves.items() if sub.get("popular") is True and k not in keys]
    return keys[:_MAX_POPULAR]


def _property(leaf: dict[str, Any], action: str) -> dict[str, Any]:
    prop = {k: leaf[k] for k in SCHEMA_KEYWORDS if k in leaf}
    text = leaf.get("description") or leaf.get("title") or ""
    prop["description"] = f"[{action}] {text}".strip()
    return prop


def _skill_facts() -> dict[str, Any]:
    """Skills, actions, data sources and popular override properties, read from the bank (best effort)."""
    from tao_skill.skill import available_skills, load_skill

    facts: dict[str, Any] = {"skills": [], "actions": set(), "sources": {}, "overrides": {}, "shorthands": {}}
    ranking: list[str] = []
    for name in available_skills():
        try:
            skill = load_skill(name)
        except UserError:
            continue
        facts["skills"].append(name)
        if skill.info.runtime.ranking is not None:
            ranking.append(f"{name}: {skill.info.runtime.ranking.metric} ({skill.info.runtime.ranking.mode})")
        for action in skill.info.actions:
            facts["actions"].add(action)
            for binding in skill.info.data_sources.get(action, {}).values():
                facts["sources"].setdefault(binding.source, set()).add(action)
            if not skill.has_schema(action):
                continue
            try:
                schema = skill.schema(action)
            except UserError:
                continue
            leaves = leaf_schemas(schema)
            for key in popular_keys(schema, leaves) + list(skill.info.spec_shorthand_keys.values()):
                if key in leaves and key not in facts["overrides"]:
                    facts["overrides"][key] = _property(leaves[key], action)
        for short, key in skill.info.spec_shorthand_keys.items():
            facts["shorthands"].setdefault(short, key)
    facts["actions"] = sorted(facts["actions"])
    facts["ranking"] = "; ".join(ranking) or "none named"
    return facts


def _request_schema(facts: dict[str, Any], *, with_wait: bool) -> dict[str, Any]:
    sources = {
        name: {
            "type": "string",
            "description": "folder or s3:// prefix with images.tar.gz + dataset.csv; used by: "
            + ", ".join(sorted(acts)),
        }
        for name, acts in sorted(facts["sources"].items())
    }
    shorthand_text = ", ".join(f"{s} -> {k}" for s, k in sorted(facts["shorthands"].items()))
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "skill": {"type": "string", "enum": facts["skills"], "description": "skill folder name"}
            if facts["skills"]
            else {"type": "string"},
            "action": {"type": "string", "enum": facts["actions"]} if facts["actions"] else {"type": "string"},
            "overrides": {
                "type": "object",
                "description": "spec overrides as dotted keys (any key of the action's schema) or shorthands ("
                + shorthand_text
                + "); the popular keys are listed with their types and bounds",
                "properties": facts["overrides"],
                "additionalProperties": True,
            },
            "data_sources": {
                "type": "object",
                "description": "data source name -> local folder or s3:// prefix",
                "properties": sources,
                "additionalProperties": {"type": "string"},
            },
            "parent_job_id": {"type": "string", "description": "chain from this job; its model file is used"},
            "checkpoint": {
                "type": "string",
                "default": "best",
                "pattern": r"^(best|latest|(epoch|step)\s*[=:]\s*\d+)$",
                "description": "which checkpoint of a train parent: best (by the skill's ranking metric: "
                + facts["ranking"]
                + "), latest, epoch=N or step=N",
            },
            "automl_policy": {
                "type": "string",
                "enum": ["on", "off"],
                "description": "train only: on (default) routes through AutoML, off trains directly",
            },
            "request_text": {
                "type": "string",
                "description": "the user's words; phrases like 'no AutoML' or 'plain training' turn AutoML off",
            },
            "backend": {
                "type": "string",
                "enum": ["local", "docker"],
                "description": "where the job runs: local (embedded trainer) or docker (TAO's container); default: "
                "the skill's first backend",
            },
        },
        "required": ["skill", "action"],
        "additionalProperties": False,
    }
    if with_wait:
        schema["properties"]["wait"] = {"type": "boolean", "default": False, "description": "block until it ends"}
    return schema


def _job_schema(**extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"job_id": {"type": "string", "description": "id returned by run_job"}, **extra},
        "required": ["job_id"],
        "additionalProperties": False,
    }


def tool_definitions() -> list[dict[str, Any]]:
    """Every tool as ``{name, description, inputSchema}``, schemas derived from the skill bank."""
    facts = _skill_facts()
    return [
        {
            "name": "list_skills",
            "description": "List the installed TAO skills with their actions and whether AutoML and schemas are ready.",
            "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
        },
        {
            "name": "describe_action",
            "description": "What an action takes: required data sources, spec params, popular parameters (type, "
            "default, bounds), shorthands, allowed parent actions and AutoML parameters.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "skill": _request_schema(facts, with_wait=False)["properties"]["skill"],
                    "action": _request_schema(facts, with_wait=False)["properties"]["action"],
                },
                "required": ["skill", "action"],
                "additionalProperties": False,
            },
        },
        {
            "name": "plan_job",
            "description": "Build and validate a job's spec without running it: resolved spec, where each value came "
            "from, AutoML route and parent model. Returns every validation issue at once (isError).",
            "inputSchema": _request_schema(facts, with_wait=False),
        },
        {
            "name": "run_job",
            "description": "Plan, stage data, record and launch a job (detached). Returns the job record with its id.",
            "inputSchema": _request_schema(facts, with_wait=True),
        },
        {
            "name": "job_status",
            "description": "A job's state (queued, running, done, failed, cancelled), exit code, progress and KPIs.",
            "inputSchema": _job_schema(),
        },
        {
            "name": "job_logs",
            "description": "A job's captured output (its last lines with tail).",
            "inputSchema": _job_schema(tail={"type": "integer", "minimum": 1, "default": 200}),
        },
        {
            "name": "cancel_job",
            "description": "Stop a running job.",
            "inputSchema": _job_schema(),
        },
        {
            "name": "list_checkpoints",
            "description": "A train job's checkpoints with their ranking metric, and the one a selector picks and why.",
            "inputSchema": _job_schema(
                select={
                    "type": "string",
                    "default": "best",
                    "description": "best | latest | epoch=N | step=N",
                }
            ),
        },
    ]
