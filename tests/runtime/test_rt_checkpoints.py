"""Checkpoint resolver on folders laid out as the trainer and TAO's container write them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tao_skill.checkpoints import resolve
from tao_skill.errors import UserError


def _folder(tmp_path: Path, accs: dict[int, float | None], steps_per_epoch: int = 5, status_epochs=None) -> Path:
    folder = tmp_path / "job" / "train"
    folder.mkdir(parents=True)
    lines = [json.dumps({"status": "STARTED", "message": "go"}), "not json {"]
    for epoch in sorted(accs):
        name = f"model_epoch_{epoch:03d}_step_{(epoch + 1) * steps_per_epoch:05d}.pth"
        (folder / name).write_bytes(b"x")
        if accs[epoch] is not None:
            lines.append(json.dumps({"status": "RUNNING", "epoch": epoch, "kpi": {"val_acc": accs[epoch]}}))
    (folder / "status.json").write_text("\n".join(lines) + "\n")
    last = max(accs)
    os.symlink(f"model_epoch_{last:03d}_step_{(last + 1) * steps_per_epoch:05d}.pth", folder / "oi_model_latest.pth")
    return tmp_path / "job"


def test_best_latest_epoch_step(tmp_path: Path) -> None:
    root = _folder(tmp_path, {0: 60.0, 1: 95.0, 2: 95.0, 3: 80.0})
    best = resolve(root, "best")
    assert best.path.endswith("model_epoch_002_step_00015.pth") and best.epoch == 2
    assert "val_acc=95" in best.reason and len(best.candidates) == 4
    latest = resolve(root, "latest")
    assert latest.epoch == 3 and "oi_model_latest.pth" in latest.reason
    assert resolve(root, "epoch=1").path.endswith("model_epoch_001_step_00010.pth")
    assert resolve(root, "step=5").epoch == 0
    assert resolve(root, "best", mode="min").epoch == 0


def test_best_without_metric_falls_back_to_latest(tmp_path: Path) -> None:
    root = _folder(tmp_path, {0: None, 1: None})
    chosen = resolve(root, "best")
    assert chosen.epoch == 1 and "fell back to latest" in chosen.reason


def test_errors(tmp_path: Path) -> None:
    root = _folder(tmp_path, {0: 50.0})
    with pytest.raises(UserError) as err:
        resolve(root, "epoch=4")
    assert "available epochs: 0" in err.value.issues[0].hint
    with pytest.raises(UserError):
        resolve(root, "bestest")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError) as err:
        resolve(empty, "best")
    assert err.value.issues[0].rule == "checkpoint_missing"


def test_flat_tao_container_layout(tmp_path: Path) -> None:
    """TAO's container may write checkpoints straight into results_dir; the resolver reads both layouts."""
    folder = tmp_path / "flat"
    folder.mkdir()
    (folder / "model_epoch_000_step_00003.pth").write_bytes(b"x")
    (folder / "model_epoch_001_step_00006.pth").write_bytes(b"x")
    (folder / "status.json").write_text(
        json.dumps({"epoch": 0, "kpi": {"val_acc": 99.0}}) + "\n" + json.dumps({"epoch": 1, "kpi": {"val_acc": 10}})
    )
    assert resolve(folder, "best").epoch == 0
    assert resolve(folder, "latest").reason == "latest: highest epoch and step"
