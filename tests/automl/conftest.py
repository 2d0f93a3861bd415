"""Fixtures of the AutoML tests: tiny packaged synthetic datasets and helpers to follow jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

SKILL = "tao-train-optical-inspection"
TINY = ["num_epochs=1", "batch_size=4", "image_width=32", "image_height=32", "dataset.workers=0"]


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from optical_inspection.tools.synth import generate

    root = tmp_path_factory.mktemp("automl_data")
    train = generate(root / "train", pairs=32, defect_fraction=0.25, seed=0, image_size=32, package=True)
    val = generate(root / "val", pairs=16, defect_fraction=0.25, seed=1, image_size=32, package=True)
    return {"train": train.root, "val": val.root}


def tao_skill(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess with the test's TAO_SKILL_HOME."""
    result = subprocess.run(
        [sys.executable, "-m", "tao_skill.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )
    if check and result.returncode != 0:
        raise AssertionError(f"tao-skill {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def as_json(result: subprocess.CompletedProcess) -> Any:
    return json.loads(result.stdout)


def wait_for(predicate, timeout: float, message: str, poll: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s: {message}")
