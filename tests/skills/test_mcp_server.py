"""The MCP server end to end: the official SDK's client spawns ``tao-skill mcp`` (and
``python -m tao_skill.mcp_server``) over stdio, lists the tools, gets structured issues for a bad request, runs a
real (tiny) train job on generated data, polls it until done and lists its checkpoints."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from tao_skill.mcp_server import TOOL_NAMES

REPO = Path(__file__).resolve().parents[2]
SKILL = "tao-train-optical-inspection"


def _payload(result: Any) -> Any:
    if result.structured_content is not None:
        data = result.structured_content
        return data["result"] if set(data) == {"result"} else data
    return json.loads(result.content[0].text)


async def _session(home: Path, body: Any, server: tuple[str, ...] = ("-m", "tao_skill.mcp_server")) -> Any:
    from mcp import Client, StdioServerParameters

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["TAO_SKILL_HOME"] = str(home)
    params = StdioServerParameters(command=sys.executable, args=list(server), env=env, cwd=str(REPO))
    async with Client(params, read_timeout_seconds=120) as client:
        return await body(client)


def test_tools_and_a_bad_request(tmp_path: Path) -> None:
    async def body(client: Any) -> None:
        listed = await client.list_tools()
        tools = {t.name: t for t in listed.tools}
        assert sorted(tools) == sorted(TOOL_NAMES)
        plan_schema = tools["plan_job"].input_schema
        props = plan_schema["properties"]
        assert SKILL in props["skill"]["enum"] and "train" in props["action"]["enum"]
        assert {"train_datasets", "eval_dataset", "inference_dataset"} <= set(props["data_sources"]["properties"])
        overrides = props["overrides"]["properties"]
        assert overrides, "no popular keys from the generated schemas"
        assert all({"type", "enum", "anyOf", "oneOf"} & set(p) for p in overrides.values()), overrides
        assert "num_epochs -> train.num_epochs" in props["overrides"]["description"]
        assert "wait" in tools["run_job"].input_schema["properties"]

        bad = await client.call_tool(
            "plan_job",
            {
                "skill": SKILL,
                "action": "train",
                "overrides": {"batch_size": 1, "train.num_epoch": 3},
                "data_sources": {"train_datasets": str(tmp_path / "nowhere")},
                "automl_policy": "off",
            },
        )
        assert bad.is_error
        error = _payload(bad)
        rules = {i["rule"] for i in error["issues"]}
        assert {"train_batch_size", "unknown_key", "file_exists"} <= rules, rules
        unknown = next(i for i in error["issues"] if i["rule"] == "unknown_key")
        assert "train.num_epochs" in unknown["hint"]
        assert "Traceback" not in bad.content[0].text

        typo = await client.call_tool("plan_job", {"skill": SKILL, "action": "train", "override": {"num_epochs": 2}})
        assert typo.is_error
        issue = _payload(typo)["issues"][0]
        assert issue["rule"] == "tool_input.additionalProperties" and "overrides" in issue["hint"]
        wrong = _payload(await client.call_tool("plan_job", {"skill": SKILL, "action": "segment"}))
        assert wrong["issues"][0]["path"] == "action" and "train" in wrong["issues"][0]["hint"]

        missing = await client.call_tool("job_status", {"job_id": "train-000000000000"})
        assert missing.is_error and _payload(missing)["issues"]

        described = _payload(await client.call_tool("describe_action", {"skill": SKILL, "action": "train"}))
        assert described["required_data_sources"] == ["eval_dataset", "train_datasets"]
        assert described["popular_parameters"]
        assert described["spec_params"]["results_dir"] == "output_dir"
        assert "dataset.train_dataset.csv_path" in described["schema_summary"]["required"]

    anyio.run(_session, tmp_path / "home", body, ("-m", "tao_skill.cli", "mcp"))  # the `tao-skill mcp` verb


@pytest.mark.slow
def test_train_job_through_mcp(tmp_path: Path) -> None:
    from optical_inspection.tools.synth import generate

    generate(tmp_path / "train", pairs=40, image_size=32, seed=1)
    generate(tmp_path / "val", pairs=16, image_size=32, seed=2)

    async def body(client: Any) -> None:
        request = {
            "skill": SKILL,
            "action": "train",
            "overrides": {
                "num_epochs": 1,
                "batch_size": 4,
                "image_width": 32,
                "image_height": 32,
                "dataset.workers": 0,
            },
            "data_sources": {"train_datasets": str(tmp_path / "train"), "eval_dataset": str(tmp_path / "val")},
            "request_text": "plain training, no AutoML",
        }
        plan = await client.call_tool("plan_job", request)
        assert not plan.is_error, plan.content[0].text
        planned = _payload(plan)
        assert planned["route"] == "direct" and planned["automl"]["source"] == "request_text"
        assert planned["spec"]["train"]["num_epochs"] == 1

        started = await client.call_tool("run_job", request)
        assert not started.is_error, started.content[0].text
        job = _payload(started)
        assert job["state"] in ("queued", "running", "done")

        deadline = time.monotonic() + 240
        while True:
            status = _payload(await client.call_tool("job_status", {"job_id": job["id"]}))
            if status["state"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
                break
            await anyio.sleep(1.0)
        logs = _payload(await client.call_tool("job_logs", {"job_id": job["id"], "tail": 30}))
        assert status["state"] == "done", logs["log"]
        assert status["exit_code"] == 0

        report = _payload(await client.call_tool("list_checkpoints", {"job_id": job["id"], "select": "latest"}))
        assert report["candidates"] and Path(report["chosen"]["path"]).is_file()
        assert report["chosen"]["reason"]

        cancelled = _payload(await client.call_tool("cancel_job", {"job_id": job["id"]}))
        assert cancelled["state"] == "done"  # a finished job stays finished

    anyio.run(_session, tmp_path / "home", body)
