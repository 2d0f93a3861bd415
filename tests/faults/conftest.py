"""Fixtures of the fault tests: both CLIs as real subprocesses (optionally under an address-space limit set in the
child), tiny packaged synthetic datasets and moto's S3 server on loopback.

Tests about CPU-only behaviour hide the GPUs from their children (``CUDA_VISIBLE_DEVICES=""``) so that the suite
means the same on a machine with an NVIDIA GPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools import engines

SKILL = "tao-train-optical-inspection"
CPU_ONLY = {"CUDA_VISIBLE_DEVICES": ""}

# Runs a module's ``__main__`` after capping the address space of this (child) process; prints its peak virtual
# size last on stderr, so a test can set a limit from a benign run of the same command.
_CAPPED = """
import resource, runpy, sys
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
module = sys.argv[2]
sys.argv = [module, *sys.argv[3:]]
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
finally:
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmPeak"))
    sys.stderr.write(f"\\n@@vmpeak_kib {peak}\\n")
"""


class Capped:
    """The result of :func:`run_module`: exit code, output, and the child's peak virtual size."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        marker = proc.stderr.rfind("\n@@vmpeak_kib ")
        self.stderr = proc.stderr[:marker] if marker >= 0 else proc.stderr
        self.peak_bytes = int(proc.stderr[marker:].split()[1]) * 1024 if marker >= 0 else None


def run_module(
    module: str, *args: str, as_limit: int = 0, env: dict[str, str] | None = None, timeout: float = 300, cwd=None
) -> Capped:
    """``python -m module args`` in a real child process, its address space capped at ``as_limit`` bytes (0: not)."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **CPU_ONLY, **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-c", _CAPPED, str(as_limit), module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
    )
    return Capped(proc)


@pytest.fixture(scope="session")
def tao_skill():
    """``tao_skill("plan", SKILL, "train", ..., as_limit=...)``: the runtime CLI in a real child process."""
    return lambda *args, **kwargs: run_module("tao_skill.cli", *args, **kwargs)


@pytest.fixture(scope="session")
def trainer():
    """``trainer("train", "-e", spec, ..., as_limit=...)``: the trainer CLI in a real child process."""
    return lambda *args, **kwargs: run_module("optical_inspection", *args, **kwargs)


@pytest.fixture(scope="session")
def packaged_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny packaged datasets (32x32, ``images.tar.gz`` + ``dataset.csv``): train and val."""
    from optical_inspection.tools.synth import generate

    root = tmp_path_factory.mktemp("synth")
    train = generate(root / "train", pairs=32, defect_fraction=0.25, seed=0, image_size=32, package=True)
    val = generate(root / "val", pairs=16, defect_fraction=0.25, seed=1, image_size=32, package=True)
    return {"train": Path(train.root), "val": Path(val.root)}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 API on loopback: moto's server in a subprocess (``devtools.engines``, as for the cluster tests)."""
    server = engines.MotoS3()
    yield server.endpoint
    server.stop()


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """AWS settings pointing at the loopback S3 (dummy credentials)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_endpoint
