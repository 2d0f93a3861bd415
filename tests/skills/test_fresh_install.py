"""The wheel installed into fresh virtual environments, offline, with its dependencies at their declared floors
(``devtools.floors`` builds the wheelhouses during ``make venv``):

- without extras, ``plan`` says what is missing and the install command, ``run`` refuses (exit 2, no job recorded),
  ``doctor`` lists each missing extra with its fix, ``tao-skill mcp`` names the extra to install;
- with the ``mcp`` extra at its floor, the SDK's own client talks to ``tao-skill mcp`` over stdio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools import floors, packaging

pytestmark = pytest.mark.slow
SKILL = "tao-train-optical-inspection"
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for name, pins in floors.floor_sets().items():
        listed = WHEELHOUSE / name / "FLOORS.txt"
        assert listed.is_file(), f"no {name} wheelhouse in {WHEELHOUSE}: run `make venv`"
        assert listed.read_text().split() == pins, f"the {name} wheelhouse is stale: run `make venv`"
    return packaging.build_wheel(tmp_path_factory.mktemp("dist"))


def _venv(folder: Path, requirement: str, *wheelhouses: str) -> Path:
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    links = [arg for name in wheelhouses for arg in ("--find-links", str(WHEELHOUSE / name))]
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index", *links, requirement],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    return folder / "bin"


def _versions(bin_dir: Path, names: list[str]) -> dict[str, str]:
    code = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    return json.loads(subprocess.check_output([bin_dir / "python", "-c", code, *names], text=True))


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TAO_SKILL_BANK", "PYTHONPATH", "VIRTUAL_ENV")}
    env["TAO_SKILL_HOME"] = str(home)
    return env


def _cli(bin_dir: Path, env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [bin_dir / "tao-skill", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_without_extras_plan_run_doctor_and_mcp_say_what_to_install(wheel: Path, tmp_path: Path) -> None:
    from optical_inspection.tools.synth import generate

    bin_dir = _venv(tmp_path / "venv", str(wheel), "core")
    pins = dict(p.split("==") for p in floors.floor_sets()["core"])
    installed = _versions(bin_dir, list(pins))
    assert all(installed[name].startswith(version) for name, version in pins.items()), installed
    env = _env(tmp_path / "home")
    for split in ("train", "val"):
        generate(tmp_path / split, pairs=8, image_size=16, seed=len(split), package=True)
    spec = tmp_path / "spec.yaml"  # a ${...} reference: resolved by the floor omegaconf
    spec.write_text(yaml.safe_dump({"dataset": {"batch_size": 4}, "evaluate": {"batch_size": "${dataset.batch_size}"}}))
    request = [SKILL, "train", "--data", f"train_datasets={tmp_path / 'train'}", "--data",
               f"eval_dataset={tmp_path / 'val'}", "-f", str(spec), "num_epochs=1", "--json"]  # fmt: skip

    planned = _cli(bin_dir, env, "plan", *request, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["route"] == "automl" and plan["spec"]["evaluate"]["batch_size"] == 4
    preflight = plan["preflight"]
    assert preflight["ok"] is False
    assert {c["name"] for c in preflight["checks"] if not c["ok"]} == {"extra:trainer", "extra:automl"}
    assert preflight["install"] == "pip install 'tao-skill-bank[automl,trainer]'"

    refused = _cli(bin_dir, env, "run", *request, cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    error = json.loads(refused.stdout)
    assert "pip install 'tao-skill-bank[automl,trainer]'" in error["message"]
    assert {i["rule"] for i in error["issues"]} == {"preflight"}
    direct = _cli(bin_dir, env, "run", *request, "--automl-policy", "off", cwd=tmp_path)
    assert direct.returncode == 2 and "pip install 'tao-skill-bank[trainer]'" in json.loads(direct.stdout)["message"]
    assert json.loads(_cli(bin_dir, env, "jobs", "--json", cwd=tmp_path).stdout) == [], "a refused run left a job"

    doctor = _cli(bin_dir, env, "doctor", "--json", cwd=tmp_path)
    assert doctor.returncode == 0, doctor.stderr
    extras = {c["name"]: c for c in json.loads(doctor.stdout) if c["group"] == "extras"}
    declared = set(floors.floors()) - {"core", "all", "test"}
    assert set(extras) == declared and all(c["status"] == "missing" for c in extras.values())
    assert extras["mcp"]["fix"] == "pip install 'tao-skill-bank[mcp]'"
    human = _cli(bin_dir, env, "doctor", cwd=tmp_path)
    assert human.returncode == 0 and "pip install 'tao-skill-bank[trainer]'" in human.stdout

    mcp = _cli(bin_dir, env, "mcp", cwd=tmp_path)
    assert mcp.returncode == 2 and "pip install 'tao-skill-bank[mcp]'" in mcp.stderr, mcp.stderr
    assert "Traceback" not in mcp.stderr


CLIENT = """
import json, sys
import anyio
from mcp import Client, StdioServerParameters, stdio_client

async def main() -> None:
    params = StdioServerParameters(command=sys.argv[1], args=["mcp"])
    async with Client(stdio_client(params), read_timeout_seconds=120) as client:  # a transport: mcp 2.0's form
        tools = [t.name for t in (await client.list_tools()).tools]
        skills = await client.call_tool("list_skills", {})
        bad = await client.call_tool("plan_job", {"skill": "tao-train-optical-inspection", "action": "train",
                                                  "overrides": {"batch_size": 1}, "automl_policy": "off"})
        print(json.dumps({"tools": tools, "skills": skills.structured_content, "bad": bad.structured_content,
                          "bad_is_error": bad.is_error}))

anyio.run(main)
"""


def test_mcp_extra_at_its_floor_serves_the_sdk_client(wheel: Path, tmp_path: Path) -> None:
    (floor,) = floors.floor_sets()["mcp"]
    bin_dir = _venv(tmp_path / "venv", f"tao-skill-bank[mcp] @ {wheel.as_uri()}", "core", "mcp")
    name, version = floor.split("==")
    assert _versions(bin_dir, [name])[name].startswith(version)
    out = subprocess.run(
        [bin_dir / "python", "-c", CLIENT, str(bin_dir / "tao-skill")],
        capture_output=True,
        text=True,
        env=_env(tmp_path / "home"),
        cwd=tmp_path,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    answer: dict[str, Any] = json.loads(out.stdout)
    assert {"plan_job", "run_job", "job_status"} <= set(answer["tools"])
    skills = answer["skills"]
    names = [s["name"] for s in (skills["skills"] if "skills" in skills else skills["result"])]
    assert SKILL in names
    assert answer["bad_is_error"] and {i["rule"] for i in answer["bad"]["issues"]} >= {"train_batch_size"}
