"""Checkpoint resolver on folders laid out as the trainer and TAO's container write them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tao_skill.checkpoints import resolve
from tao_skill.errors import UserError
from tao_skill.skill import CheckpointLayout, TieBreaker, load_skill

OI = load_skill("tao-train-optical-inspection").info.runtime.checkpoints


def _folder(
    tmp_path: Path, accs: dict[int, float | None], steps_per_epoch: int = 5, fars: dict[int, float] | None = None
) -> Path:
    folder = tmp_path / "job" / "train"
    folder.mkdir(parents=True)
    lines = [json.dumps({"status": "STARTED", "message": "go"}), "not json {"]
    for epoch in sorted(accs):
        name = f"model_epoch_{epoch:03d}_step_{(epoch + 1) * steps_per_epoch:05d}.pth"
        (folder / name).write_bytes(b"x")
        if accs[epoch] is not None:
            kpi = {"val_acc": accs[epoch], **({"val_far": fars[epoch]} if fars and epoch in fars else {})}
            lines.append(json.dumps({"status": "RUNNING", "epoch": epoch, "kpi": kpi}))
    (folder / "status.json").write_text("\n".join(lines) + "\n")
    last = max(accs)
    os.symlink(f"model_epoch_{last:03d}_step_{(last + 1) * steps_per_epoch:05d}.pth", folder / "oi_model_latest.pth")
    return tmp_path / "job"


def test_best_latest_epoch_step(tmp_path: Path) -> None:
    root = _folder(tmp_path, {0: 60.0, 1: 95.0, 2: 95.0, 3: 80.0})
    best = resolve(root, "best", "val_acc", layout=OI)
    assert best.path.endswith("model_epoch_002_step_00015.pth") and best.epoch == 2
    assert "val_acc=95" in best.reason and len(best.candidates) == 4
    latest = resolve(root, "latest", layout=OI)
    assert latest.epoch == 3 and "oi_model_latest.pth" in latest.reason
    assert resolve(root, "epoch=1").path.endswith("model_epoch_001_step_00010.pth")
    assert resolve(root, "step=5").epoch == 0
    assert resolve(root, "best", "val_acc", mode="min").epoch == 0


def test_ties_go_to_the_tie_breaker_then_the_later_checkpoint(tmp_path: Path) -> None:
    root = _folder(tmp_path, {0: 95.0, 1: 95.0, 2: 95.0, 3: 80.0}, fars={0: 0.2, 1: 0.1, 2: 0.3, 3: 0.0})
    chosen = resolve(root, "best", "val_acc", tie_breaker=TieBreaker(metric="val_far", mode="min"), layout=OI)
    assert chosen.epoch == 1 and "3 tied, val_far=0.1 (min) decided" in chosen.reason
    assert resolve(root, "best", "val_acc", layout=OI).epoch == 2  # no tie-breaker: the later checkpoint


def test_layout_names_come_from_the_skill(tmp_path: Path) -> None:
    """Another skill's latest link; without a named link, the folder's one ``*_latest.pth`` is it."""
    root = _folder(tmp_path, {0: 50.0, 1: 40.0})
    link = root / "train" / "oi_model_latest.pth"
    link.rename(root / "train" / "other_model_latest.pth")
    other = CheckpointLayout(latest="other_model_latest.pth")
    assert "other_model_latest.pth points to it" in resolve(root, "latest", layout=other).reason
    assert "other_model_latest.pth points to it" in resolve(root, "latest").reason
    custom = CheckpointLayout(folder="ckpt", pattern="e{epoch}.pt", latest=None, index=None)
    (tmp_path / "c" / "ckpt").mkdir(parents=True)
    for epoch in (0, 7):
        (tmp_path / "c" / "ckpt" / f"e{epoch}.pt").write_bytes(b"x")
    chosen = resolve(tmp_path / "c", "latest", layout=custom)
    assert chosen.path.endswith("e7.pt") and chosen.epoch == 7 and chosen.step is None


def test_best_without_metric_falls_back_to_latest(tmp_path: Path) -> None:
    root = _folder(tmp_path, {0: None, 1: None})
    chosen = resolve(root, "best", "val_acc")
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
    assert resolve(folder, "best", "val_acc").epoch == 0
    assert resolve(folder, "latest").reason == "latest: highest epoch and step"
