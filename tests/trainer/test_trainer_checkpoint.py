"""Checkpoint files: atomic writes, relative latest link, no silent overwrite of another run's file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from optical_inspection.checkpoint import (
    LATEST_LINK,
    checkpoint_name,
    find_resume_checkpoint,
    save_checkpoint,
    update_latest_link,
)
from optical_inspection.errors import UserError


def test_names_links_and_run_ownership(tmp_path: Path) -> None:
    assert checkpoint_name(0, 7) == "model_epoch_000_step_00007.pth"
    assert checkpoint_name(12, 123456) == "model_epoch_012_step_123456.pth"
    ours = {"state_dict": {"model.w": torch.ones(2)}, "run_id": "aaa", "epoch": 0, "global_step": 7}
    path = save_checkpoint(ours, tmp_path / checkpoint_name(0, 7))
    link = update_latest_link(tmp_path, path)
    assert link.name == LATEST_LINK and link.readlink() == Path(path.name)  # relative
    assert find_resume_checkpoint(tmp_path, None) == path.resolve()
    save_checkpoint({**ours, "epoch": 0}, path)  # the same run may rewrite its own file (threshold added)
    theirs = {**ours, "run_id": "bbb", "state_dict": {"model.w": torch.zeros(2)}}
    with pytest.raises(UserError, match="another training run"):
        save_checkpoint(theirs, path)
    assert torch.equal(torch.load(path, weights_only=True)["state_dict"]["model.w"], torch.ones(2))
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(TypeError, match="only tensors and primitives"):
        save_checkpoint({"run_id": "aaa", "bad": object()}, tmp_path / "x.pth")
    assert not (tmp_path / "x.pth").exists()
    with pytest.raises(UserError, match="does not exist"):
        find_resume_checkpoint(tmp_path, str(tmp_path / "missing.pth"))
