"""The results syncer against moto's S3 server: files before the pointers that name them, the latest link as a
copy of an uploaded checkpoint, deletions after the pointer moved, index paths made relative; and the runtime's
readers (status.json, checkpoint resolver) on the mirrored folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tao_skill import checkpoints, s3_files, status_file
from tao_skill.results_sync import ResultsSyncer
from tao_skill.s3_path import as_path


@pytest.fixture
def bucket(s3, monkeypatch: pytest.MonkeyPatch) -> str:
    import uuid

    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    s3_files._local.__dict__.clear()  # a client for this endpoint
    name = f"sync-{uuid.uuid4().hex[:8]}"
    s3_files.client().create_bucket(Bucket=name)
    return f"s3://{name}/job"


def _checkpoint(folder: Path, epoch: int) -> Path:
    path = folder / f"model_epoch_{epoch:03d}_step_{(epoch + 1) * 10:05d}.pth"
    path.write_bytes(f"weights of epoch {epoch}".encode())
    return path


def _link_latest(folder: Path, target: Path) -> None:
    link = folder / "oi_model_latest.pth"
    tmp = folder / ".latest.tmp"
    tmp.symlink_to(target.name)
    os.replace(tmp, link)


def test_pointer_waits_for_its_target_and_moves_before_deletion(tmp_path: Path, bucket: str) -> None:
    train = tmp_path / "train"
    train.mkdir()
    first = _checkpoint(train, 0)
    _link_latest(train, first)
    (train / ".model_epoch_001_step_00020.pth.123.tmp").write_bytes(b"half")  # an atomic writer's temp file
    (train / "status.json").write_text(json.dumps({"epoch": 0, "kpi": {"val_acc": 50.0}}) + "\n")
    syncer = ResultsSyncer(tmp_path, bucket, log=lambda _m: None)

    report = syncer.sync()
    assert "train/model_epoch_000_step_00010.pth" in report.pending  # not settled yet
    assert "train/oi_model_latest.pth" in report.pending  # its target is not up: no pointer yet
    remote = s3_files.list_objects(bucket)
    assert "train/oi_model_latest.pth" not in remote and "train/status.json" in remote
    assert not any(name.endswith(".tmp") for name in remote)

    report = syncer.sync()
    assert report.uploaded == ["train/model_epoch_000_step_00010.pth"] and report.pointed == [
        "train/oi_model_latest.pth"
    ]
    latest = as_path(bucket) / "train" / "oi_model_latest.pth"
    assert latest.read_bytes() == b"weights of epoch 0"
    assert str(latest.resolve()) == f"{bucket}/train/model_epoch_000_step_00010.pth"

    # replace_periodic: a new checkpoint, the link moves, the old one goes; S3 follows in that order
    second = _checkpoint(train, 1)
    _link_latest(train, second)
    first.unlink()
    report = syncer.sync(final=True)
    assert report.uploaded[0] == "train/model_epoch_001_step_00020.pth"
    assert report.pointed == ["train/oi_model_latest.pth"] and report.deleted == [
        "train/model_epoch_000_step_00010.pth"
    ]
    chosen = checkpoints.resolve(bucket, "latest")
    assert chosen.path == f"{bucket}/train/model_epoch_001_step_00020.pth"
    assert "points to it" in chosen.reason


def test_readers_on_mirrored_results(tmp_path: Path, bucket: str) -> None:
    """status.json lines, the best-checkpoints index (local absolute paths made relative) and the best
    selection read from S3 as from the local folder."""
    train = tmp_path / "train"
    train.mkdir()
    lines = []
    for epoch, value in enumerate([60.0, 90.0, 70.0]):
        _checkpoint(train, epoch)
        lines.append(json.dumps({"status": "RUNNING", "epoch": epoch, "kpi": {"val_acc": value}}))
    (train / "status.json").write_text("\n".join(lines) + "\n")
    best = train / "best_val_acc.pth"
    best.write_bytes(b"best")
    index = {"checkpoints": [{"path": str(best.resolve()), "epoch": 1, "step": 25, "value": 90.0}]}
    (train / "best_checkpoints.json").write_text(json.dumps(index))
    ResultsSyncer(tmp_path, bucket, log=lambda _m: None).sync(final=True)

    uploaded = json.loads(s3_files.read_text(f"{bucket}/train/best_checkpoints.json") or "{}")
    assert uploaded["checkpoints"][0]["path"] == "best_val_acc.pth"
    local = checkpoints.resolve(tmp_path, "best", "val_acc", "max")
    remote = checkpoints.resolve(bucket, "best", "val_acc", "max")
    assert Path(local.path).name == remote.path.rsplit("/", 1)[-1] == "best_val_acc.pth"  # epoch 1, later step
    assert [c.epoch for c in remote.candidates] == [c.epoch for c in local.candidates]
    assert any(c.path == f"{bucket}/train/best_val_acc.pth" for c in remote.candidates)
    found = status_file.find(bucket, "train")
    assert status_file.progress(status_file.records(found)).kpi == {"val_acc": 70.0}
    assert status_file.find(f"{bucket}-missing", "train") is None
