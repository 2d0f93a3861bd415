"""Training side effects as Lightning callbacks: periodic checkpoints and status.json lines (rank 0 only)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L

from optical_inspection.checkpoint import LATEST_LINK, checkpoint_name, save_checkpoint, update_latest_link
from optical_inspection.status import RUNNING, StatusLogger

__all__ = ["PeriodicCheckpoint", "StatusCallback", "build_checkpoint", "epoch_extra"]

_log = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    """Convert Lightning's checkpoint extras (e.g. AttributeDict) to plain containers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def build_checkpoint(trainer: L.Trainer, extra: dict[str, Any]) -> dict[str, Any]:
    """Lightning's own checkpoint dict (weights, optimizer, loop progress: what resuming needs) plus ``extra``."""
    checkpoint = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
    checkpoint = {k: (v if k in ("state_dict", "optimizer_states") else _plain(v)) for k, v in checkpoint.items()}
    checkpoint.update(extra)
    return checkpoint


def epoch_extra(pl_module: L.LightningModule, extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` plus what every checkpoint of this epoch carries: the calibrated threshold and the epoch metrics."""
    return {
        **extra,
        "threshold": getattr(pl_module, "calibrated_threshold", None),
        "metrics": {k: float(v) for k, v in getattr(pl_module, "epoch_metrics", {}).items()},
    }


class PeriodicCheckpoint(L.Callback):
    """Save ``model_epoch_<EEE>_step_<SSSSS>.pth`` every ``interval`` epochs or steps and after the final epoch.

    With ``keep_previous=False`` (``train.checkpointer.replace_periodic``) each new periodic checkpoint replaces the
    previous one of the run: the folder keeps the latest (to resume from) and the checkpointer's best ones.
    """

    def __init__(
        self, results_dir: Path, interval: int, unit: str, extra: dict[str, Any], keep_previous: bool = True
    ) -> None:
        self.results_dir = Path(results_dir)
        self.keep_previous = keep_previous
        self.interval = max(int(interval), 1)
        self.unit = unit
        self.extra = extra
        self.saved: list[Path] = []
        self._last_saved_step = -1

    def _save(self, trainer: L.Trainer, pl_module: L.LightningModule, epoch: int) -> None:
        step = trainer.global_step
        if step == self._last_saved_step:
            return
        if trainer.is_global_zero:
            checkpoint = build_checkpoint(trainer, epoch_extra(pl_module, self.extra))
            path = save_checkpoint(checkpoint, self.results_dir / checkpoint_name(epoch, step))
            update_latest_link(self.results_dir, path)
            if not self.keep_previous and self.saved and self.saved[-1] != path:
                self.saved[-1].unlink(missing_ok=True)  # checkpointer.replace_periodic: only the latest is kept
                self.saved.pop()
            self.saved.append(path)
            _log.info("Saved %s", path)
        self._last_saved_step = step

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        link = self.results_dir / LATEST_LINK
        if not self.keep_previous and not self.saved and link.is_symlink() and link.resolve().is_file():
            self.saved.append(link.resolve())  # a resumed run replaces the checkpoint it resumed from, too

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self.unit == "step" and trainer.global_step % self.interval == 0:
            self._save(trainer, pl_module, trainer.current_epoch)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        getattr(pl_module, "finalize_train_epoch", lambda: None)()
        epoch = trainer.current_epoch
        final = epoch + 1 >= (trainer.max_epochs or 0)
        if final or (self.unit == "epoch" and (epoch + 1) % self.interval == 0):
            self._save(trainer, pl_module, epoch)


class StatusCallback(L.Callback):
    """One RUNNING line per epoch with TAO's KPIs, epoch, max_epoch and eta."""

    def __init__(self, status: StatusLogger) -> None:
        self.status = status
        self._started = 0.0
        self._first_epoch = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.monotonic()
        self._first_epoch = trainer.current_epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        getattr(pl_module, "finalize_train_epoch", lambda: None)()
        if not trainer.is_global_zero:
            return
        epoch = trainer.current_epoch
        done = epoch + 1 - self._first_epoch
        per_epoch = (time.monotonic() - self._started) / max(done, 1)
        remaining = max((trainer.max_epochs or 0) - epoch - 1, 0)
        kpi = dict(getattr(pl_module, "epoch_metrics", {}))
        self.status.write(
            RUNNING,
            f"Epoch {epoch} of {trainer.max_epochs} done",
            kpi=kpi,
            epoch=epoch,
            max_epoch=trainer.max_epochs,
            eta=str(timedelta(seconds=round(per_epoch * remaining))),
        )
