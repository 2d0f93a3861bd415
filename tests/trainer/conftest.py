"""Fixtures of the trainer tests: a tiny synthetic dataset (32x32, 4 lights) and a spec writer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from optical_inspection.tools.synth import generate


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 pairs (12 defects) at 32x32 with registration error and lighting drift."""
    root = tmp_path_factory.mktemp("tiny_data")
    generate(root, pairs=48, defect_fraction=0.25, seed=5, image_size=32)
    return root


def tiny_spec(data: Path, results: Path, **sections: Any) -> dict[str, Any]:
    split = {"csv_path": str(data / "dataset.csv"), "images_dir": str(data / "images")}
    spec: dict[str, Any] = {
        "results_dir": str(results),
        "encryption_key": "tlt_encode_secret",
        "dataset": {
            "train_dataset": dict(split),
            "validation_dataset": dict(split),
            "test_dataset": dict(split),
            "infer_dataset": dict(split),
            "image_width": 32,
            "image_height": 32,
            "batch_size": 8,
            "workers": 0,
        },
        "train": {"num_epochs": 2},
        "export": {"input_height": 128, "input_width": 32},
    }
    for key, value in sections.items():
        spec.setdefault(key, {}).update(value) if isinstance(value, dict) else spec.__setitem__(key, value)
    return spec


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def cli(*args: str, timeout: float = 240, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the trainer CLI as a real subprocess."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "optical_inspection", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


@pytest.fixture(scope="session")
def run_cli():
    """The trainer CLI as a real subprocess: ``run_cli("train", "-e", spec, "key=value")``."""
    return cli


@pytest.fixture(scope="session")
def make_spec():
    """``make_spec(path, data_dir, results_dir, **sections)`` writes a tiny spec YAML and returns its path."""

    def make(path: Path, data: Path, results: Path, **sections: Any) -> Path:
        return write_spec(path, tiny_spec(data, results, **sections))

    return make
