"""Training side effects as Lightning callbacks: threshold calibration and status.json lines, and what the checkpoint
callbacks (``periodic_checkpoint``, ``topk_checkpoint``) share: the checkpoint dict and the module's epoch metrics."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

import lightning as L
import numpy as np

from optical_inspection.calibration import Calibration, calibrate
from optical_inspection.console import epoch_line
from optical_inspection.status import RUNNING, StatusLogger

__all__ = [
    "EpochMetrics",
    "StatusCallback",
    "ThresholdCalibration",
    "build_checkpoint",
    "epoch_extra",
    "epoch_source",
    "finished_epoch_metrics",
]

_log = logging.getLogger(__name__)


@runtime_checkable
class EpochMetrics(Protocol):
    """What the training callbacks read from the LightningModule (:class:`~optical_inspection.lightning_module.OIModule`
    provides it): the epoch metrics, the last validation scores (scores, labels) and the epoch they are of."""

    epoch_metrics: dict[str, float]
    last_val_scores: tuple[np.ndarray, np.ndarray] | None
    validated_epoch: int | None

    def finalize_train_epoch(self) -> None:
        """Compute the epoch's train KPIs into ``epoch_metrics`` (once; later calls do nothing). Lightning runs the
        callbacks' ``on_train_epoch_end`` before the module's, so a callback that needs them calls this."""


def epoch_source(pl_module: L.LightningModule) -> EpochMetrics:
    """``pl_module`` as :class:`EpochMetrics`; a module without them cannot be trained with these callbacks."""
    if not isinstance(pl_module, EpochMetrics):
        raise TypeError(f"{type(pl_module).__name__} does not provide the EpochMetrics protocol")
    return pl_module


def finished_epoch_metrics(pl_module: L.LightningModule) -> dict[str, float]:
    """The epoch metrics of ``pl_module`` with this epoch's train KPIs computed."""
    source = epoch_source(pl_module)
    source.finalize_train_epoch()
    return source.epoch_metrics


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
    """``extra`` plus the epoch metrics (the calibrated threshold is added by :class:`ThresholdCalibration`)."""
    return {**extra, "metrics": {k: float(v) for k, v in epoch_source(pl_module).epoch_metrics.items()}}


class ThresholdCalibration(L.Callback):
    """Calibrate the decision threshold on every validation epoch (``calibration.calibrate``) and store it in every
    checkpoint saved after it, so any checkpoint (best, latest, epoch N) decides with a threshold fitted to its own
    weights. The final epoch is always validated (whatever ``validation_interval``), so the final weights get one.

    Checkpoint keys: ``threshold`` (None before the first validation, or without validation defects),
    ``threshold_source`` (one sentence) and ``calibration`` (the numbers: candidates, validation recall and false
    alarms at the threshold, and their bounds for new data).
    """

    def __init__(self, target_recall: float) -> None:
        self.target_recall = float(target_recall)
        self.latest: Calibration | None = None
        self.latest_epoch: int | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs:
            trainer.check_val_every_n_epoch = 1  # the final weights are validated, hence calibrated

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        scores = epoch_source(pl_module).last_val_scores
        if trainer.sanity_checking or scores is None:
            return
        self.latest = calibrate(scores[0], scores[1], self.target_recall)
        self.latest_epoch = trainer.current_epoch

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        cal = self.latest
        checkpoint["threshold"] = None if cal is None else cal.threshold
        checkpoint["threshold_source"] = None if cal is None else cal.note
        checkpoint["calibration"] = None if cal is None else {**cal.as_dict(), "epoch": self.latest_epoch}


class StatusCallback(L.Callback):
    """One RUNNING status line per epoch with TAO's KPIs, epoch (0-based, as TAO), max_epoch and eta, and the same
    epoch as one log line for people (``Epoch 3/10: ...``, counted from 1). With ``calibration``, a validated
    epoch's line also carries the threshold calibrated on it (what its checkpoint decides with)."""

    def __init__(self, status: StatusLogger, calibration: ThresholdCalibration | None = None) -> None:
        self.status = status
        self.calibration = calibration
        self._started = 0.0
        self._first_epoch = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.monotonic()
        self._first_epoch = trainer.current_epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        kpi = dict(finished_epoch_metrics(pl_module))
        if not trainer.is_global_zero:
            return
        epoch = trainer.current_epoch
        done = epoch + 1 - self._first_epoch
        per_epoch = (time.monotonic() - self._started) / max(done, 1)
        remaining = max((trainer.max_epochs or 0) - epoch - 1, 0)
        eta = str(timedelta(seconds=round(per_epoch * remaining)))
        line = epoch_line(epoch, trainer.max_epochs, kpi, eta)
        _log.info(line)
        fields: dict[str, Any] = {}
        cal = self.calibration
        if cal is not None and cal.latest is not None and cal.latest_epoch == epoch:
            fields["threshold"] = cal.latest.threshold
            fields["calibration"] = {k: v for k, v in cal.latest.as_dict().items() if k != "note"}
        self.status.write(RUNNING, line, kpi=kpi, epoch=epoch, max_epoch=trainer.max_epochs, eta=eta, **fields)
