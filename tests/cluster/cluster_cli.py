"""Helpers of the cluster tests: the real CLI in a subprocess, waiting, the tiny training request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

SKILL = "tao-train-optical-inspection"
TINY = ["num_epochs=1", "batch_size=4", "image_width=32", "image_height=32", "dataset.workers=0"]


def tao_skill(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess with this test's environment."""
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


def wait_for(predicate, timeout: float, message: str, poll: float = 1.0) -> Any:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s: {message}")


def data_args(uris: dict[str, str]) -> list[str]:
    return [arg for name, uri in uris.items() for arg in ("--data", f"{name}={uri}")]
