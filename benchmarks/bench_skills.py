"""How fast agents get answers: the MCP server (stdio) against the CLI and the in-process API, and the release build.

Measured side by side in one run on the same plan request (train, two local data sources, AutoML off): the Python
API in-process, one ``plan_job`` call to a running MCP server, and one ``tao-skill plan`` process per call; plus the
MCP server's cold start (spawn to tool list) and the reproducible skill-bank archive build. Targets: a plan over MCP
answers in under 250 ms, and the server is ready in under 5 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._table import Row

GROUP = "skills"
REPEAT = 7
SKILL = "tao-train-optical-inspection"
REPO = Path(__file__).resolve().parents[1]


def _request(data: Path) -> dict[str, Any]:
    return {
        "skill": SKILL,
        "action": "train",
        "overrides": {"num_epochs": 2},
        "data_sources": {"train_datasets": str(data / "train"), "eval_dataset": str(data / "val")},
        "automl_policy": "off",
    }


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000.0


def _mcp(home: Path, request: dict[str, Any]) -> tuple[float, list[float]]:
    import anyio
    from mcp import Client, StdioServerParameters

    env = dict(os.environ, TAO_SKILL_HOME=str(home))
    params = StdioServerParameters(command=sys.executable, args=["-m", "tao_skill.mcp_server"], env=env, cwd=str(REPO))
    timings: list[float] = []

    async def body() -> float:
        started = time.perf_counter()
        async with Client(params) as client:
            await client.list_tools()
            cold = time.perf_counter() - started
            for _ in range(REPEAT):
                t0 = time.perf_counter()
                result = await client.call_tool("plan_job", request)
                timings.append(time.perf_counter() - t0)
                if result.is_error:
                    raise RuntimeError(result.content[0].text)
        return cold

    return anyio.run(body), timings


def _cli(home: Path, request: dict[str, Any]) -> list[float]:
    argv = [sys.executable, "-m", "tao_skill.cli", "plan", SKILL, "train", "num_epochs=2", "--automl-policy", "off"]
    for name, uri in request["data_sources"].items():
        argv += ["--data", f"{name}={uri}"]
    env = dict(os.environ, TAO_SKILL_HOME=str(home))
    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([*argv, "--json"], env=env, capture_output=True, check=True, cwd=REPO)
        timings.append(time.perf_counter() - t0)
    return timings


def _api(home: Path, request: dict[str, Any]) -> list[float]:
    from tao_skill import api

    timings = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        api.plan(
            request["skill"],
            request["action"],
            overrides=request["overrides"],
            data_sources=request["data_sources"],
            automl_policy="off",
            home=str(home),
        )
        timings.append(time.perf_counter() - t0)
    return timings


def run() -> list[Row]:
    from devtools import packaging
    from optical_inspection.tools.synth import generate

    with tempfile.TemporaryDirectory(prefix="bench-skills-") as tmp:
        root = Path(tmp)
        for name, seed in (("train", 1), ("val", 2)):
            generate(root / "data" / name, pairs=16, image_size=16, seed=seed)
        request = _request(root / "data")
        api_ms = _median_ms(_api(root / "home", request))
        cold, mcp_times = _mcp(root / "home", request)
        mcp_ms = _median_ms(mcp_times)
        cli_ms = _median_ms(_cli(root / "home", request))
        t0 = time.perf_counter()
        packaging.build_skill_archive(root / "dist")
        archive_s = time.perf_counter() - t0
    return [
        Row(GROUP, "plan, Python API in-process", api_ms, "ms"),
        Row(GROUP, "plan_job over MCP stdio", mcp_ms, "ms", "API", mcp_ms / api_ms, "< 250 ms", mcp_ms < 250),
        Row(GROUP, "tao-skill plan (one process)", cli_ms, "ms", "MCP", cli_ms / mcp_ms),
        Row(GROUP, "MCP server ready (spawn -> tools)", cold, "s", target="< 5 s", met=cold < 5.0),
        Row(GROUP, "skill-bank archive build", archive_s, "s"),
    ]
