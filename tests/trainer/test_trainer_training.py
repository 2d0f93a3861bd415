"""Training behaviour through the real CLI: crash-resume (SIGKILL), SIGTERM, DDP on CPU (gloo), seeding,
pretrained weights with the wrong shapes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

#: Tests about CPU-only behaviour hide the GPUs from the trainer, so that they mean the same on a GPU machine.
CPU_ONLY = {"CUDA_VISIBLE_DEVICES": ""}


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "optical_inspection", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def _wait_for(path_glob: Path, pattern: str, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(path_glob.glob(pattern)):
            return
        assert proc.poll() is None, f"training ended early: {proc.stderr.read() if proc.stderr else ''}"
        time.sleep(0.05)
    raise AssertionError(f"{pattern} never appeared in {path_glob}")


def _status(results: Path) -> list[dict]:
    return [json.loads(line) for line in (results / "status.json").read_text().splitlines()]


def test_sigkill_mid_epoch_then_resume_finishes(tmp_path: Path, tiny_data: Path, run_cli, make_spec) -> None:
    spec = make_spec(tmp_path / "spec.yaml", tiny_data, tmp_path / "out", train={"num_epochs": 4})
    out = tmp_path / "out" / "train"
    proc = _start(["train", "-e", str(spec), "train.checkpoint_interval=2", "train.checkpoint_interval_unit=step"])
    try:
        _wait_for(out, "model_epoch_001_step_*.pth", proc)  # step checkpoints: the kill lands inside epoch 1 or 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = sorted(p.name for p in out.glob("model_epoch_*.pth"))
    assert "model_epoch_003_step_00024.pth" not in killed_at
    assert not list(out.glob(".*.tmp"))  # no half-written checkpoint under a real name
    done = run_cli("train", "-e", str(spec), "train.checkpoint_interval=2", "train.checkpoint_interval_unit=step")
    assert done.returncode == 0, done.stderr[-3000:]
    status = _status(out)
    assert any(line["message"].startswith("Resuming from") for line in status)
    assert status[-1]["status"] == "SUCCESS"
    final = torch.load(out / "model_epoch_003_step_00024.pth", weights_only=True)
    assert final["epoch"] == 3 and final["global_step"] == 24 and final["threshold"] is not None
    assert (out / "oi_model_latest.pth").resolve().name == "model_epoch_003_step_00024.pth"
    # the resumed run kept the run id of the first one
    first = torch.load(out / killed_at[0], weights_only=True)
    assert first["run_id"] == final["run_id"]


def test_sigterm_stops_cleanly(tmp_path: Path, tiny_data: Path, make_spec) -> None:
    spec = make_spec(tmp_path / "spec.yaml", tiny_data, tmp_path / "out", train={"num_epochs": 50})
    out = tmp_path / "out" / "train"
    proc = _start(["train", "-e", str(spec)])
    try:
        _wait_for(out, "model_epoch_000_*.pth", proc)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr[-2000:]
    assert "cancelled" in stderr and "Traceback" not in stderr
    last = _status(out)[-1]
    assert last["status"] == "FAILURE" and "cancelled" in last["message"]
    assert not list(out.glob(".*.tmp"))
    for ckpt in out.glob("model_epoch_*.pth"):
        torch.load(ckpt, weights_only=True)  # every checkpoint left is complete


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="two CPU training processes need two cores")
def test_ddp_two_cpu_processes(tmp_path: Path, tiny_data: Path, run_cli, make_spec) -> None:
    spec = make_spec(tmp_path / "spec.yaml", tiny_data, tmp_path / "out")
    done = run_cli("train", "-e", str(spec), "train.num_gpus=2", "train.gpu_ids=[0,1]", env=CPU_ONLY)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "out" / "train"
    # 48 pairs, batch 8, 2 processes: 3 steps per epoch; each checkpoint written once (by rank 0)
    assert sorted(p.name for p in out.glob("model_epoch_*.pth")) == [
        "model_epoch_000_step_00003.pth",
        "model_epoch_001_step_00006.pth",
    ]
    status = _status(out)
    assert [line["status"] for line in status] == ["STARTED", "RUNNING", "RUNNING", "SUCCESS"]
    assert "gloo" in done.stderr or "distributed" in done.stderr.lower()


def test_same_seed_same_weights_and_tensorboard(tmp_path: Path, tiny_data: Path, run_cli, make_spec) -> None:
    weights = []
    for run in ("a", "b", "c"):
        spec = make_spec(tmp_path / f"{run}.yaml", tiny_data, tmp_path / run, train={"num_epochs": 1})
        seed = "7" if run != "c" else "8"
        extra = ["train.tensorboard.enabled=true"] if run == "c" else []
        done = run_cli("train", "-e", str(spec), f"train.seed={seed}", *extra, env=CPU_ONLY)  # bit-exact: CPU
        assert done.returncode == 0, done.stderr[-3000:]
        weights.append(torch.load(tmp_path / run / "train" / "oi_model_latest.pth", weights_only=True)["state_dict"])
    assert list((tmp_path / "c" / "train" / "tensorboard").glob("events.out.tfevents.*"))
    same, other = weights[0], weights[2]
    assert all(torch.equal(same[k], weights[1][k]) for k in same)
    assert any(not torch.equal(same[k], other[k]) for k in same if same[k].is_floating_point())


def test_pretrained_shape_mismatch_exits_2(tmp_path: Path, tiny_data: Path, run_cli, make_spec) -> None:
    from optical_inspection.models import SiameseDiff

    other = SiameseDiff(32, 32, rows=2, cols=1)  # 2 lights instead of 4
    torch.save(other.state_dict(), tmp_path / "plain_state_dict.pth")
    spec = make_spec(tmp_path / "spec.yaml", tiny_data, tmp_path / "out")
    done = run_cli("train", "-e", str(spec), f"train.pretrained_model_path={tmp_path / 'plain_state_dict.pth'}")
    assert done.returncode == 2
    assert "shape mismatch" in done.stderr and "stage1.0.weight" in done.stderr and "Traceback" not in done.stderr
    assert not list((tmp_path / "out" / "train").glob("*.pth"))


def test_bf16_mixed_precision_trains_float32_weights(tmp_path: Path, tiny_data: Path, run_cli, make_spec) -> None:
    """train.precision=bf16-mixed: bfloat16 autocast in training; weights, threshold and validation stay float32."""
    spec = make_spec(tmp_path / "spec.yaml", tiny_data, tmp_path / "out", train={"num_epochs": 1})
    done = run_cli("train", "-e", str(spec), "train.precision=bf16-mixed")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Training precision: bfloat16 mixed" in done.stderr
    data = torch.load(tmp_path / "out" / "train" / "oi_model_latest.pth", weights_only=True)
    assert all(t.dtype == torch.float32 for t in data["state_dict"].values() if t.is_floating_point())
    assert isinstance(data["threshold"], float) and data["threshold"] > 0
    assert data["hyper_parameters"]["spec"]["train"]["precision"] == "bf16-mixed"


def test_float16_on_cpu_is_a_clear_error(tmp_path: Path, tiny_data: Path, run_cli, make_spec) -> None:
    spec = make_spec(tmp_path / "spec.yaml", tiny_data, tmp_path / "out")
    done = run_cli("train", "-e", str(spec), "train.precision=16-mixed", env=CPU_ONLY)
    assert done.returncode == 2
    assert "16-mixed, which needs a GPU" in done.stderr and "Traceback" not in done.stderr
    assert not list((tmp_path / "out" / "train").glob("*.pth"))
    done = run_cli("train", "-e", str(spec), "train.precision=64")
    assert done.returncode == 2 and "train.precision" in done.stderr and "Traceback" not in done.stderr
