"""Items 6, 7, 9 (checkpoint part) and 10: training faults with the real trainer CLI in child processes, on the CPU
(``CUDA_VISIBLE_DEVICES=""`` in the child, so these mean the same on a machine with a GPU).

- a diverging run stops with exit 2 and a FAILURE status, and nothing is saved from non-finite weights;
- device and memory requests beyond the machine are clear errors before anything starts;
- temporary checkpoint files of a run killed while saving are removed at the next start;
- a run killed with SIGKILL after a checkpoint and resumed ends with exactly the weights of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from optical_inspection.checkpoint import CHECKPOINT_PATTERN

pytestmark = pytest.mark.slow
CPU_ONLY = {"CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from optical_inspection.tools.synth import generate

    root = tmp_path_factory.mktemp("tiny")
    generate(root, pairs=32, defect_fraction=0.25, seed=0, image_size=32)
    return root


def write_spec(path: Path, data: Path, results: Path, **train: Any) -> Path:
    split = {"csv_path": str(data / "dataset.csv"), "images_dir": str(data / "images")}
    spec = {
        "results_dir": str(results),
        "dataset": {
            "train_dataset": split,
            "validation_dataset": split,
            "image_width": 32,
            "image_height": 32,
            "batch_size": 4,
            "workers": 0,
        },
        "train": {"num_epochs": 2, **train},
    }
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def trainer_argv(spec: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "optical_inspection", "train", "-e", str(spec), *overrides]


def train(spec: Path, *overrides: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", **CPU_ONLY)
    return subprocess.run(trainer_argv(spec, *overrides), capture_output=True, text=True, timeout=timeout, env=env)


def statuses(results: Path) -> list[dict[str, Any]]:
    path = results / "train" / "status.json"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def all_finite(path: Path) -> bool:
    return all(torch.isfinite(t).all() for t in weights(path).values() if t.is_floating_point())


# ------------------------------------------------------------------------------------------------ item 6
def test_diverging_training_fails_and_saves_nothing_non_finite(tmp_path: Path, tiny: Path) -> None:
    """A learning rate of 1e10 makes the weights non-finite in the second step; a checkpoint is due every step."""
    results = tmp_path / "results"
    spec = write_spec(tmp_path / "spec.yaml", tiny, results, checkpoint_interval_unit="step", checkpoint_interval=1)
    run = train(spec, "train.optim.lr=1e10")
    assert run.returncode == 2, run.stderr[-3000:]
    assert "Traceback" not in run.stderr and "training diverged" in run.stderr
    last = statuses(results)[-1]
    assert last["status"] == "FAILURE" and "diverged" in last["message"]
    folder = results / "train"
    saved = [p for p in folder.iterdir() if CHECKPOINT_PATTERN.match(p.name)]
    assert saved, "the first step's (finite) checkpoint should exist"
    assert all(all_finite(p) for p in saved)
    latest = folder / "oi_model_latest.pth"
    assert latest.resolve() in {p.resolve() for p in saved} and all_finite(latest)
    assert not any(p.name.endswith(".tmp") for p in folder.iterdir())


def test_non_finite_numbers_in_a_spec_are_refused(tmp_path: Path, tiny: Path, tao_skill) -> None:
    spec = write_spec(tmp_path / "spec.yaml", tiny, tmp_path / "results")
    run = train(spec, "train.optim.lr=.inf")
    assert run.returncode == 2 and "train.optim.lr" in run.stderr and "finite" in run.stderr
    plan = tao_skill("plan", "tao-train-optical-inspection", "train", "train.optim.lr=.nan", "--json")
    assert plan.returncode == 2
    issues = {i["path"]: i for i in json.loads(plan.stdout)["issues"]}
    assert issues["train.optim.lr"]["rule"] == "finite_number"


# ------------------------------------------------------------------------------------------------ item 7
def test_more_cpu_processes_than_cores_is_a_clear_error(tmp_path: Path, tiny: Path) -> None:
    spec = write_spec(tmp_path / "spec.yaml", tiny, tmp_path / "results")
    cores = len(os.sched_getaffinity(0))
    run = train(spec, f"train.num_gpus={cores + 1}")
    assert run.returncode == 2, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert f"train.num_gpus is {cores + 1}" in run.stderr and f"{cores} core(s)" in run.stderr
    assert not list((tmp_path / "results" / "train").glob("*.pth"))


def test_image_size_beyond_the_schema_and_memory_is_a_clear_error(tmp_path: Path, tiny: Path) -> None:
    spec = write_spec(tmp_path / "spec.yaml", tiny, tmp_path / "results")
    run = train(spec, "dataset.image_width=100000")
    assert run.returncode == 2 and "dataset.image_width" in run.stderr and "<= 4096" in run.stderr
    run = train(spec, "dataset.image_width=4096", "dataset.image_height=4096", "dataset.batch_size=1024")
    assert run.returncode == 2, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    flat = " ".join(run.stderr.split())
    assert "4096 x 4096" in flat and "GiB available" in flat and "dataset.batch_size" in flat


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU: asks for one GPU more than are present")
def test_more_gpus_than_present_is_a_clear_error(tmp_path: Path, tiny: Path) -> None:
    spec = write_spec(tmp_path / "spec.yaml", tiny, tmp_path / "results")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    count = torch.cuda.device_count()
    run = subprocess.run(
        trainer_argv(spec, f"train.num_gpus={count + 1}"), capture_output=True, text=True, timeout=600, env=env
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert f"has {count} GPU(s)" in " ".join(run.stderr.split())


# ------------------------------------------------------------------------------------------------ item 9
def test_temporary_checkpoint_files_of_a_killed_run_are_removed(tmp_path: Path, tiny: Path) -> None:
    results = tmp_path / "results"
    folder = results / "train"
    folder.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has exited: what a SIGKILL during a save leaves behind
    leftovers = [folder / f".model_epoch_000_step_00008.pth.{pid}.tmp", folder / f".oi_model_latest.pth.{pid}.tmp"]
    for path in leftovers:
        path.write_bytes(b"")
    keep = folder / f".model_epoch_000_step_00008.pth.{os.getpid()}.tmp"  # a live writer's file stays
    keep.write_bytes(b"")
    spec = write_spec(tmp_path / "spec.yaml", tiny, results, num_epochs=1)
    run = train(spec)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not any(p.exists() for p in leftovers) and keep.exists()


# ------------------------------------------------------------------------------------------------ item 10
def test_killed_and_resumed_run_equals_an_uninterrupted_one(tmp_path: Path, tiny: Path) -> None:
    train_keys = {"num_epochs": 3, "seed": 7}
    augment = {"augment": True, "random_rotate": {"enable": True, "angle_list": [90, 180, 270]}}
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    for results in (whole, cut):
        spec = write_spec(tmp_path / f"{results.name}.yaml", tiny, results, **train_keys)
        data = yaml.safe_load(spec.read_text())
        data["dataset"]["augmentation_config"] = augment
        spec.write_text(yaml.safe_dump(data))
    run = train(tmp_path / "whole.yaml")
    assert run.returncode == 0, run.stderr[-3000:]

    env = dict(os.environ, PYTHONUNBUFFERED="1", **CPU_ONLY)
    proc = subprocess.Popen(
        trainer_argv(tmp_path / "cut.yaml"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    latest = cut / "train" / "oi_model_latest.pth"
    deadline = time.monotonic() + 600
    while not (latest.is_symlink() and latest.resolve().is_file()) and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in (cut / "train").iterdir() if CHECKPOINT_PATTERN.match(p.name))
    assert done and not any(name.startswith("model_epoch_002") for name in done), done  # killed mid-run

    run = train(tmp_path / "cut.yaml")
    assert run.returncode == 0, run.stderr[-3000:]
    assert any("Resuming from" in s["message"] for s in statuses(cut))

    final = "model_epoch_002_step_00024.pth"
    a, b = weights(whole / "train" / final), weights(cut / "train" / final)
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, first {different[:3]}"
