"""Runtime speed: ``plan()`` in-process (target < 50 ms median) and a cold ``tao-skill plan --json`` process
(target < 0.5 s median), which must not import torch. Baselines measured in the same run: a bare Python start for the
cold process, the JSON Schema validation alone for the in-process plan."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._table import Row

SKILL = "tao-train-optical-inspection"
REPEATS_IN_PROCESS = 30
REPEATS_COLD = 7


def _sources(root: Path) -> dict[str, str]:
    sources = {}
    for name in ("train_datasets", "eval_dataset"):
        folder = root / name
        folder.mkdir()
        (folder / "dataset.csv").write_text("input_path,golden_path,label,object_name\n")
        (folder / "images.tar.gz").write_bytes(b"")
        sources[name] = str(folder)
    return sources


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run() -> list[Row]:
    from tao_skill import api
    from tao_skill.skill import load_skill
    from tao_skill.validation import validate_spec

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["TAO_SKILL_HOME"] = str(root / "home")
        sources = _sources(root)
        overrides = ["num_epochs=3", "learning_rate=0.001", "dataset.batch_size=16"]

        def plan_once():
            return api.plan(SKILL, "train", overrides=overrides, data_sources=sources, automl_policy="off")

        plan = plan_once()  # warm: skill files cached
        skill = load_skill(SKILL)
        validate_s = _median_seconds(lambda: validate_spec(skill, "train", plan.spec), REPEATS_IN_PROCESS)
        plan_s = _median_seconds(plan_once, REPEATS_IN_PROCESS)
        rows.append(
            Row(
                "runtime",
                "plan() in-process, median",
                plan_s * 1e3,
                "ms",
                "schema validation alone",
                plan_s / validate_s,
                "< 50 ms",
                plan_s < 0.050,
            )
        )

        args = ["plan", SKILL, "train", "--automl-policy", "off", *overrides]
        for name, uri in sources.items():
            args += ["--data", f"{name}={uri}"]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
        command = [sys.executable, "-X", "importtime", "-m", "tao_skill.cli", *args, "--json"]
        first = subprocess.run(command, capture_output=True, text=True, env=env)
        if first.returncode != 0:
            raise RuntimeError(f"tao-skill plan failed: {first.stdout}{first.stderr}")
        imported = {line.split("|")[-1].strip() for line in first.stderr.splitlines() if "|" in line}
        heavy = sorted(m for m in imported if m.split(".")[0] in ("torch", "boto3", "docker", "optuna"))
        if heavy:
            raise AssertionError(f"tao-skill plan imported heavy modules: {', '.join(heavy[:5])}")
        cold = [sys.executable, "-m", "tao_skill.cli", *args, "--json"]
        cpu_before = _children_cpu()
        cold_s = _median_seconds(lambda: subprocess.run(cold, capture_output=True, env=env, check=True), REPEATS_COLD)
        cold_cpu = (_children_cpu() - cpu_before) / REPEATS_COLD
        cpu_before = _children_cpu()
        bare_s = _median_seconds(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), REPEATS_COLD)
        bare_cpu = (_children_cpu() - cpu_before) / REPEATS_COLD
        name = "cold `tao-skill plan --json`, median wall (no torch)"
        rows.append(Row("runtime", name, cold_s, "s", "bare python start", cold_s / bare_s, "< 0.5 s", cold_s < 0.5))
        name = "cold `tao-skill plan --json`, mean CPU user+sys"
        rows.append(Row("runtime", name, cold_cpu, "s", "bare python start", cold_cpu / max(bare_cpu, 1e-6)))
    return rows
