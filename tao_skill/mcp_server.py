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

from tao_skill._schema_walk import leaf_schemas
from tao_skill.errors import RuntimeFailure, UserError
from tao_skill.mcp_tools import SCHEMA_KEYWORDS, TOOL_NAMES, popular_keys, tool_definitions

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
        leaves = leaf_schemas(schema)
        popular = popular_keys(schema, leaves) or list(sk.info.spec_shorthand_keys.values())
        info["popular_parameters"] = {
            k: {kk: v for kk, v in leaves[k].items() if kk in (*SCHEMA_KEYWORDS, "description")}
            for k in popular
            if k in leaves
        }
        info["automl_default_parameters"] = schema.get("automl_default_parameters", [])
        info["schema_summary"] = {
            "sections": schema.get("x-sections") or sorted((schema.get("properties") or {}).keys()),
            "keys": len(leaves),
            "required": sk.required_keys(action),
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
        "backend": args.get("backend"),
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
    from tao_skill.schema_errors import issues_from_errors

    known = list((schema.get("properties") or {}).keys())

    def suggest(path: str, unknown: str, allowed: list[str]) -> str:
        return did_you_mean(unknown, allowed) or ("arguments: " + ", ".join(known) if not path else "")

    issues = issues_from_errors(
        Draft202012Validator(schema).iter_errors(args),
        rule_prefix="tool_input",
        label=name,
        suggest=suggest,
        unknown_rule="tool_input.additionalProperties",
    )
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
