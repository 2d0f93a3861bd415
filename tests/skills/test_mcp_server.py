"""The MCP server end to end: the official SDK's client spawns ``tao-skill mcp`` (and
``python -m tao_skill.mcp_server``) over stdio, lists the tools (annotations, output schemas the client checks
every answer against), gets structured issues for a bad request and the protocol's error for an unknown tool, runs
a real (tiny) train job on generated data and follows it, and runs an AutoML study with settings, follows it with
automl_status, reads its report and chains evaluate on the best trial."""

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
    from mcp import Client, StdioServerParameters, stdio_client

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["TAO_SKILL_HOME"] = str(home)
    params = StdioServerParameters(command=sys.executable, args=list(server), env=env, cwd=str(REPO))
    async with Client(stdio_client(params), read_timeout_seconds=120) as client:
        return await body(client)


async def _until(client: Any, tool: str, job_id: str, timeout: float, poll: float = 2.0) -> dict:
    """Call ``tool`` (job_status or automl_status) until the job ends; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = _payload(await client.call_tool(tool, {"job_id": job_id}))
        if answer["state"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
            return answer
        await anyio.sleep(poll)


def test_tools_and_a_bad_request(tmp_path: Path) -> None:
    async def body(client: Any) -> None:
        listed = await client.list_tools()
        tools = {t.name: t for t in listed.tools}
        assert sorted(tools) == sorted(TOOL_NAMES)
        for tool in tools.values():
            assert tool.output_schema["type"] == "object" and tool.annotations is not None, tool.name
        read_only = {n for n, t in tools.items() if t.annotations.read_only_hint}
        assert {"plan_job", "job_status", "list_jobs", "automl_status", "list_checkpoints"} <= read_only
        assert {"run_job", "cancel_job"}.isdisjoint(read_only)
        assert tools["cancel_job"].annotations.destructive_hint and tools["cancel_job"].annotations.idempotent_hint
        assert not tools["run_job"].annotations.idempotent_hint
        run_props = tools["run_job"].input_schema["properties"]
        assert {"algorithm", "max_trials", "max_epochs"} <= set(run_props["automl_settings"]["properties"])
        assert run_props["automl_policy"]["enum"] == ["on", "off", "auto"]
        assert "override_files" in run_props
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

        from mcp.shared.exceptions import MCPError

        with pytest.raises(MCPError) as unknown:
            await client.call_tool("job_stauts", {"job_id": "x"})
        assert unknown.value.code == -32602 and "job_status" in unknown.value.message

        auto = _payload(await client.call_tool("plan_job", {"skill": SKILL, "action": "train", "automl_policy": "auto",
                                                            "request_text": "AutoML is not needed"}))  # fmt: skip
        assert auto["issues"][0]["rule"] in ("mandatory_input", "mandatory_value"), "auto is accepted; data missing"
        assert _payload(await client.call_tool("list_jobs", {})) == {"jobs": []}

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
        assert job["state"] in ("queued", "running", "done") and job["next"]

        status = await _until(client, "job_status", job["id"], timeout=600, poll=1.0)
        logs = _payload(await client.call_tool("job_logs", {"job_id": job["id"], "tail": 30}))
        assert status["state"] == "done", logs["log"]
        assert status["exit_code"] == 0 and status["kpi"], status
        assert len(json.dumps(status)) < 2500, "job_status is compact"
        assert "spec" not in status and {c["tool"] for c in status["next"]} == {"list_checkpoints", "run_job"}
        full = _payload(await client.call_tool("job_status", {"job_id": job["id"], "verbose": True}))
        assert full["record"]["spec"]["train"]["num_epochs"] == 1
        listed = _payload(await client.call_tool("list_jobs", {"action": "train"}))["jobs"]
        assert [j["id"] for j in listed] == [job["id"]]

        report = _payload(await client.call_tool("list_checkpoints", {"job_id": job["id"], "select": "latest"}))
        assert report["candidates"] and Path(report["chosen"]["path"]).is_file()
        assert report["chosen"]["reason"]

        cancelled = _payload(await client.call_tool("cancel_job", {"job_id": job["id"]}))
        assert cancelled["state"] == "done"  # a finished job stays finished

    anyio.run(_session, tmp_path / "home", body)


@pytest.mark.slow
def test_automl_study_through_mcp(tmp_path: Path) -> None:
    """run_job with AutoML settings, automl_status until done, automl_report, evaluate chained on the best trial."""
    from optical_inspection.tools.synth import generate

    generate(tmp_path / "train", pairs=32, image_size=32, seed=0, defect_fraction=0.25, package=True)
    generate(tmp_path / "val", pairs=16, image_size=32, seed=1, defect_fraction=0.25, package=True)
    tiny = {"num_epochs": 1, "batch_size": 4, "image_width": 32, "image_height": 32, "dataset.workers": 0}

    async def body(client: Any) -> None:
        started = await client.call_tool(
            "run_job",
            {
                "skill": SKILL,
                "action": "train",
                "overrides": tiny,
                "data_sources": {"train_datasets": str(tmp_path / "train"), "eval_dataset": str(tmp_path / "val")},
                "request_text": "no manual tuning, let AutoML do it",
                "automl_settings": {"algorithm": "random", "max_trials": 2, "max_epochs": 1},
            },
        )
        assert not started.is_error, started.content[0].text
        study = _payload(started)
        assert study["kind"] == "automl"

        status = await _until(client, "automl_status", study["id"], timeout=900)
        assert status["state"] == "done", status
        assert status["algorithm"] == "random" and status["max_trials"] == 2
        assert sum(status["trial_counts"].values()) == 2 and status["best"]["job_id"]
        trials = _payload(await client.call_tool("list_jobs", {"group_id": study["id"]}))["jobs"]
        assert len(trials) == 2 and {t["kind"] for t in trials} == {"trial"}

        report = _payload(await client.call_tool("automl_report", {"job_id": study["id"]}))
        assert len(report["trials"]) == 2 and report["best"]["checkpoint"].endswith(".pth")
        assert report["best"]["spec"]["train"]["num_epochs"] == 1

        evaluated = await client.call_tool(
            "run_job",
            {
                "skill": SKILL,
                "action": "evaluate",
                "parent_job_id": study["id"],
                "overrides": {"image_width": 32, "image_height": 32, "dataset.workers": 0},
                "data_sources": {"eval_dataset": str(tmp_path / "val")},
                "wait": True,
            },
        )
        assert not evaluated.is_error, evaluated.content[0].text
        done = _payload(evaluated)
        assert done["state"] == "done" and done["kpi"], done
        full = _payload(await client.call_tool("job_status", {"job_id": done["id"], "verbose": True}))
        assert full["record"]["plan"]["parent"]["model_path"] == report["best"]["checkpoint"]

    anyio.run(_session, tmp_path / "home", body)
