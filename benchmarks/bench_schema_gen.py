"""Schema generation: regenerate every Optical Inspection artifact in-process, and a cold `--check` process."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._table import Row

REPO = Path(__file__).resolve().parents[1]


def _median_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run() -> list[Row]:
    from tao_skill.schema_gen.generate import generate

    generate("optical_inspection.config:ExperimentConfig", "tao-train-optical-inspection")  # warm imports
    in_process = _median_seconds(generate, 7)
    cold = _median_seconds(
        lambda: subprocess.run(
            [sys.executable, "-m", "tao_skill.schema_gen", "--check"], cwd=REPO, check=True, capture_output=True
        ),
        5,
    )
    bare = _median_seconds(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 5)
    rows = [
        Row(
            "schema_gen",
            "regenerate all OI artifacts (in-process, median)",
            in_process,
            "s",
            target="< 1 s",
            met=in_process < 1.0,
        ),
        Row(
            "schema_gen",
            "cold `python -m tao_skill.schema_gen --check` (median)",
            cold,
            "s",
            baseline="bare python",
            ratio=cold / bare if bare else None,
        ),
        Row("schema_gen", "cold bare `python -c pass` (median)", bare, "s"),
    ]
    sources = _tao_core_sources()
    if sources:
        started = time.perf_counter()
        for source in sources:
            generate(source, "tao")
        elapsed = time.perf_counter() - started
        rows.append(
            Row("schema_gen", f"convert all {len(sources)} TAO Core model configs (in-process, once)", elapsed, "s")
        )
    return rows


def _tao_core_sources() -> list[str]:
    """``module:ExperimentConfig`` of every nvidia-tao-core ``<model>/default_config.py`` (empty if not installed)."""
    try:
        import nvidia_tao_core.config as package
    except ImportError:
        return []
    folders = sorted(Path(package.__path__[0]).glob("*/default_config.py"))
    sources = []
    for path in folders:
        name = f"nvidia_tao_core.config.{path.parent.name}.default_config"
        if "class ExperimentConfig" in path.read_text(encoding="utf-8"):
            sources.append(f"{name}:ExperimentConfig")
    return sources
