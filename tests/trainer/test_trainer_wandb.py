"""``wandb.enable`` through the real CLI with the real wandb package: with no login (no key, no netrc: this machine
has no internet) the run logs offline into the results folder under the training run's id; without the package the
job is refused before training with what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    return dict(env, HOME=str(home), PYTHONUNBUFFERED="1")  # a HOME without .netrc: not logged in


def test_wandb_logs_offline_when_not_logged_in(tmp_path: Path, tiny_data: Path, make_spec) -> None:
    pytest.importorskip("wandb")
    spec = make_spec(
        tmp_path / "spec.yaml",
        tiny_data,
        tmp_path / "out",
        train={"num_epochs": 2},
        wandb={"enable": True, "project": "oi-tests", "tags": ["ci"]},
    )
    done = subprocess.run(
        [sys.executable, "-m", "optical_inspection", "train", "-e", str(spec)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "out" / "train"
    run_id = torch.load(out / "oi_model_latest.pth", weights_only=True)["run_id"]
    runs = list((out / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(runs) == 1, list((out / "wandb").iterdir())
    log = (runs[0] / f"run-{run_id}.wandb").read_bytes()
    for key in (b"val_acc", b"val_roc_auc", b"train_loss", b"oi-tests"):  # epoch metrics and the project name
        assert key in log
    assert "wandb sync" in done.stderr
    assert "tlt_encode_secret" not in log.decode("latin-1")  # the spec's encryption_key is not logged


_BLOCK_WANDB = """
import sys
class _NoWandb:
    def find_spec(self, name, path=None, target=None):
        if name == "wandb" or name.startswith("wandb."):
            raise ImportError("No module named 'wandb'")
sys.meta_path.insert(0, _NoWandb())
from optical_inspection.cli import main
sys.exit(main())
"""


def test_wandb_missing_package_is_a_clear_error(tmp_path: Path, tiny_data: Path, make_spec) -> None:
    """The package is hidden from the interpreter with an import blocker (it is installed here)."""
    spec = make_spec(tmp_path / "spec.yaml", tiny_data, tmp_path / "out", wandb={"enable": True})
    done = subprocess.run(
        [sys.executable, "-c", _BLOCK_WANDB, "train", "-e", str(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp_path),
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "wandb.enable is true but the wandb package is not installed" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list((tmp_path / "out" / "train").glob("*.pth"))
