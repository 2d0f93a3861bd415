"""``tao-skill mcp``: the runtime as MCP tools over stdio (official ``mcp`` SDK >= 2, low-level ``Server``).

Tools (see :mod:`tao_skill.mcp_tools`): list_skills, describe_action, plan_job, run_job, job_status, job_logs,
cancel_job, list_checkpoints, list_jobs, automl_status, automl_report; each with annotations (read-only,
destructive, idempotent) and an output schema. A bad request comes back as a tool result with ``isError`` and the
structured issues (``{"error": "user_error", "message", "issues": [{path, value, rule, message, hint}]}``), never
as a traceback; a tool that does not exist is the protocol's error (``-32602``, invalid params).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tao_skill.errors import RuntimeFailure, UserError

__all__ = ["TOOL_NAMES", "check_arguments", "call_tool", "build_server", "serve", "main", "require_sdk"]

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
    "list_jobs",
    "automl_status",
    "automl_report",
)
INSTRUCTIONS = (
    "Plan before you run: plan_job validates a request, lists every issue and says whether it can run here "
    "(preflight); run_job launches it (train goes through AutoML unless automl_policy is off or the user's words "
    "say so; automl_settings configure the study); follow with job_status (compact) or automl_status; chain "
    "evaluate/inference/export from a train or AutoML job with parent_job_id."
)


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


def call_tool(name: str, args: dict[str, Any] | None, tools: dict[str, Any] | None = None) -> Any:
    """Run one tool synchronously (arguments checked against its input schema); JSON-ready data or an error."""
    from tao_skill.mcp_tools import tools as all_tools

    table = tools if tools is not None else {t.name: t for t in all_tools()}
    if name not in table:
        raise KeyError(name)
    tool = table[name]
    args = dict(args or {})
    check_arguments(name, args, tool.input_schema)
    return tool.call(args)


def _result(payload: Any, *, error: bool) -> Any:
    from mcp import types

    text = json.dumps(payload, indent=2, default=str)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=payload, is_error=error
    )


def _safe_call(name: str, args: dict[str, Any] | None, tools: dict[str, Any]) -> Any:
    try:
        return _result(call_tool(name, args, tools), error=False)
    except UserError as exc:
        return _result(exc.to_dict(), error=True)
    except RuntimeFailure as exc:
        return _result({"error": "failure", "message": str(exc)}, error=True)
    except Exception as exc:  # noqa: BLE001 - a tool must answer; the message (never a traceback) goes back
        return _result({"error": "internal", "message": f"{type(exc).__name__}: {exc}"}, error=True)


def build_server() -> Any:
    """The low-level MCP ``Server`` with every tool (schemas computed once, at start)."""
    require_sdk()
    import anyio
    from mcp import types
    from mcp.server import Server
    from mcp.shared.exceptions import MCPError

    from tao_skill.mcp_tools import tools as all_tools

    table = {t.name: t for t in all_tools()}
    listed = [
        types.Tool(
            name=t.name,
            description=t.description,
            input_schema=t.input_schema,
            output_schema=t.output_schema,
            annotations=types.ToolAnnotations(
                read_only_hint=t.annotations["readOnlyHint"],
                destructive_hint=t.annotations["destructiveHint"],
                idempotent_hint=t.annotations["idempotentHint"],
                open_world_hint=t.annotations["openWorldHint"],
            ),
        )
        for t in table.values()
    ]

    async def on_list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=listed)

    async def on_call_tool(ctx: Any, params: Any) -> Any:
        if params.name not in table:
            from tao_skill._suggest import did_you_mean

            hint = did_you_mean(params.name, list(table))
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}" + (f" ({hint})" if hint else ""))
        return await anyio.to_thread.run_sync(_safe_call, params.name, params.arguments or {}, table)

    return Server(
        SERVER_NAME,
        version=_version(),
        instructions=INSTRUCTIONS,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("tao-skill-bank")
    except Exception:  # noqa: BLE001 - not installed as a distribution (source checkout)
        return "0.0.0"


def serve() -> None:
    """Serve over stdin/stdout until the client disconnects."""
    server = build_server()
    import anyio
    from mcp.server.stdio import stdio_server

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
