"""``tao-skill mcp``: the runtime's API as MCP tools over stdio (official ``mcp`` SDK, low-level ``Server``).

Tools: list_skills, describe_action, plan_job, run_job, job_status, job_logs, cancel_job, list_checkpoints.
Input schemas are built from the skill bank: skill and action enums, data source names per action, and an
``overrides`` object whose documented properties are the popular keys of the generated action schemas and the keys
the skill's shorthands stand for (their types, bounds and defaults). A bad request comes back as a tool result
with ``isError`` and the structured issues (``{"error": "user_error", "message", "issues": [{path, value, rule,
message, hint}]}``), never as a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from tao_skill.errors import RuntimeFailure, UserError

__all__ = [
    "TOOL_NAMES",
    "tool_definitions",
    "check_arguments",
    "call_tool",
    "build_server",
    "require_sdk",
    "serve",
    "main",
]

SERVER_NAME = "tao-skill"
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
_SCHEMA_KEYWORDS = (
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


# ------------------------------------------------------------------------------------------------ schema helpers
def _walk(schema: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Dotted key -> leaf schema for every property of a generated spec schema."""
    found: dict[str, dict[str, Any]] = {}
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        dotted = f"{prefix}{name}"
        if sub.get("properties"):
            found.update(_walk(sub, dotted + "."))
        else:
            found[dotted] = sub
    return found


def _popular_keys(schema: dict[str, Any], leaves: dict[str, dict[str, Any]]) -> list[str]:
    """Popular keys: the schema's top-level ``popular`` list, else fields flagged ``popular``."""
    top = schema.get("popular")
    keys: list[str] = []
    if isinstance(top, list):
        keys = [k for k in top if isinstance(k, str)]
    elif isinstance(top, dict):
        keys = [k for k, v in top.items() if v]
    keys += [k for k, sub in leaves.items() if sub.get("popular") is True and k not in keys]
    return keys[:_MAX_POPULAR]


def _required_keys(schema: dict[str, Any]) -> list[str]:
    """Dotted keys a valid spec must set: the schema's ``allOf`` entries that forbid null / ``???`` at a leaf."""

    def leaves(node: dict[str, Any], prefix: str) -> list[str]:
        found = []
        for name, sub in (node.get("properties") or {}).items():
            if isinstance(sub, dict) and sub.get("properties"):
                found += leaves(sub, f"{prefix}{name}.")
            elif isinstance(sub, dict) and "not" in sub:
                found.append(f"{prefix}{name}")
        return found

    keys: list[str] = []
    for entry in schema.get("allOf") or []:
        options = entry.get("anyOf") or [entry] if isinstance(entry, dict) else []
        group = [k for option in options if isinstance(option, dict) for k in leaves(option, "")]
        if group:
            keys.append("|".join(group))
    return keys


def _property(leaf: dict[str, Any], action: str) -> dict[str, Any]:
    prop = {k: leaf[k] for k in _SCHEMA_KEYWORDS if k in leaf}
    text = leaf.get("description") or leaf.get("title") or ""
    prop["description"] = f"[{action}] {text}".strip()
    return prop


def _skill_facts() -> dict[str, Any]:
    """Skills, actions, data sources and popular override properties, read from the bank (best effort)."""
    from tao_skill.skill import available_skills, load_skill

    facts: dict[str, Any] = {"skills": [], "actions": set(), "sources": {}, "overrides": {}, "shorthands": {}}
    for name in available_skills():
        try:
            skill = load_skill(name)
        except UserError:
            continue
        facts["skills"].append(name)
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
            leaves = _walk(schema)
            for key in _popular_keys(schema, leaves) + list(skill.info.spec_shorthand_keys.values()):
                if key in leaves and key not in facts["overrides"]:
                    facts["overrides"][key] = _property(leaves[key], action)
        for short, key in skill.info.spec_shorthand_keys.items():
            facts["shorthands"].setdefault(short, key)
    facts["actions"] = sorted(facts["actions"])
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
                "description": "which checkpoint of a train parent: best (by val_acc), latest, epoch=N or step=N",
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
            "backend": {"type": "string", "enum": ["local", "docker"], "default": "local"},
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
            "description": "A train job's checkpoints with their val_acc, and the one a selector picks and why.",
            "inputSchema": _job_schema(
                select={
                    "type": "string",
                    "default": "best",
                    "description": "best | latest | epoch=N | step=N",
                }
            ),
        },
    ]


# ------------------------------------------------------------------------------------------------ tool bodies
def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _describe_action(skill: str, action: str) -> dict[str, Any]:
    from tao_skill import api
    from tao_skill.skill import load_skill

    info = api.describe(skill, action)
    info.pop("template", None)
    sk = load_skill(skill)
    if sk.has_schema(action):
        schema = sk.schema(action)
        leaves = _walk(schema)
        popular = _popular_keys(schema, leaves) or list(sk.info.spec_shorthand_keys.values())
        info["popular_parameters"] = {
            k: {kk: v for kk, v in leaves[k].items() if kk in (*_SCHEMA_KEYWORDS, "description")}
            for k in popular
            if k in leaves
        }
        info["automl_default_parameters"] = schema.get("automl_default_parameters", [])
        info["schema_summary"] = {
            "sections": schema.get("x-sections") or sorted((schema.get("properties") or {}).keys()),
            "keys": len(leaves),
            "required": _required_keys(schema),
        }
    required = sorted(
        {b["source"] for k, b in info["data_sources"].items() if not info["inputs"].get(k, {}).get("optional")}
    )
    info["required_data_sources"] = required
    return info


def _request(args: dict[str, Any]) -> dict[str, Any]:
    overrides = args.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise UserError.single("overrides", "overrides must be an object of key: value", rule="type", value=overrides)
    return {
        "overrides": overrides,
        "data_sources": args.get("data_sources") or {},
        "parent_job_id": args.get("parent_job_id"),
        "checkpoint": args.get("checkpoint") or "best",
        "automl_policy": args.get("automl_policy"),
        "request_text": args.get("request_text"),
        "backend": args.get("backend") or "local",
    }


def _require(args: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if not isinstance(args.get(n), str) or not args.get(n)]
    if missing:
        raise UserError(
            f"missing argument(s): {', '.join(missing)}",
            [UserError.single(n, f"argument '{n}' is required", rule="required").issues[0] for n in missing],
        )


def call_tool(name: str, args: dict[str, Any] | None) -> Any:
    """Run one tool synchronously; returns JSON-ready data or raises UserError / RuntimeFailure."""
    from tao_skill import api

    args = dict(args or {})
    if name == "list_skills":
        return _dump(api.list_skills())
    if name == "describe_action":
        _require(args, "skill", "action")
        return _describe_action(args["skill"], args["action"])
    if name in ("plan_job", "run_job"):
        _require(args, "skill", "action")
        if name == "plan_job":
            return _dump(api.plan(args["skill"], args["action"], **_request(args)))
        return _dump(api.run(args["skill"], args["action"], **_request(args), wait=bool(args.get("wait"))))
    _require(args, "job_id")
    if name == "job_status":
        return _dump(api.status(args["job_id"]))
    if name == "job_logs":
        tail = args.get("tail", 200)
        return {"job_id": args["job_id"], "log": api.logs(args["job_id"], tail=int(tail) if tail else None)}
    if name == "cancel_job":
        return _dump(api.cancel(args["job_id"]))
    if name == "list_checkpoints":
        return _dump(api.checkpoints(args["job_id"], select=args.get("select") or "best"))
    from tao_skill._suggest import did_you_mean

    raise UserError.single(
        "tool", f"unknown tool '{name}'", rule="unknown_tool", value=name, hint=did_you_mean(name, TOOL_NAMES)
    )


def _result(payload: Any, *, error: bool) -> Any:
    from mcp import types

    text = json.dumps(payload, indent=2, default=str)
    structured = payload if isinstance(payload, dict) else {"result": payload}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=structured, is_error=error
    )


def check_arguments(name: str, args: dict[str, Any], schema: dict[str, Any] | None) -> None:
    """Raise a UserError listing every way ``args`` break the tool's input schema (unknown names, wrong types)."""
    if not schema:
        return
    from jsonschema import Draft202012Validator

    from tao_skill._suggest import did_you_mean
    from tao_skill.errors import Issue

    issues = []
    known = list((schema.get("properties") or {}).keys())
    for error in sorted(Draft202012Validator(schema).iter_errors(args), key=lambda e: list(e.path)):
        path = ".".join(str(p) for p in error.path) or "arguments"
        hint = ""
        if error.validator == "additionalProperties" and not error.path:
            extra = sorted(set(args) - set(known))
            hint = "; ".join(did_you_mean(e, known) for e in extra if did_you_mean(e, known)) or (
                "arguments: " + ", ".join(known)
            )
        elif error.validator == "enum":
            hint = "one of: " + ", ".join(map(str, error.validator_value))
        issues.append(Issue(path=path, value=error.instance if not isinstance(error.instance, dict) else None,
                            rule=f"tool_input.{error.validator}", message=f"{name}: {path}: {error.message}",
                            hint=hint))  # fmt: skip
    if issues:
        raise UserError(f"{name}: {len(issues)} problem(s) in the arguments", issues)


def _safe_call(name: str, args: dict[str, Any] | None, schema: dict[str, Any] | None = None) -> Any:
    try:
        check_arguments(name, dict(args or {}), schema)
        return _result(call_tool(name, args), error=False)
    except UserError as exc:
        return _result(exc.to_dict(), error=True)
    except RuntimeFailure as exc:
        return _result({"error": "failure", "message": str(exc)}, error=True)
    except Exception as exc:  # noqa: BLE001 - a tool must answer; the message (never a traceback) goes back
        return _result({"error": "internal", "message": f"{type(exc).__name__}: {exc}"}, error=True)


# ------------------------------------------------------------------------------------------------ server
def build_server() -> Any:
    """The low-level MCP ``Server`` with the eight tools (schemas computed once, at start)."""
    import anyio
    from mcp import types
    from mcp.server import Server

    definitions = tool_definitions()
    tools = [
        types.Tool(name=d["name"], description=d["description"], input_schema=d["inputSchema"]) for d in definitions
    ]
    schemas = {d["name"]: d["inputSchema"] for d in definitions}

    async def on_list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=tools)

    async def on_call_tool(ctx: Any, params: Any) -> Any:
        return await anyio.to_thread.run_sync(_safe_call, params.name, params.arguments or {}, schemas.get(params.name))

    handlers: dict[str, Callable[..., Awaitable[Any]]] = {"on_list_tools": on_list_tools, "on_call_tool": on_call_tool}
    return Server(
        SERVER_NAME,
        version=_version(),
        instructions="Plan before you run: plan_job validates a request and lists every issue; run_job launches it; "
        "follow with job_status; chain evaluate/inference/export from a train job with parent_job_id.",
        **handlers,
    )


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("tao-skill-bank")
    except Exception:  # noqa: BLE001 - not installed as a distribution (source checkout)
        return "0.0.0"


def require_sdk() -> None:
    """Raise a UserError naming the extra to install when the MCP SDK (or what it needs) is missing."""
    from tao_skill.preflight import install_command, missing_modules

    missing = missing_modules("mcp")
    if missing:
        raise UserError.single(
            "mcp",
            f"the MCP server needs {', '.join(missing)} (the 'mcp' extra), not installed in this Python",
            rule="dependency",
            hint=install_command(["mcp"]),
        )


def serve() -> None:
    """Serve over stdin/stdout until the client disconnects."""
    require_sdk()
    import anyio
    from mcp.server.stdio import stdio_server

    server = build_server()

    async def _main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(_main)


def main() -> int:
    """``python -m tao_skill.mcp_server``."""
    try:
        serve()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
