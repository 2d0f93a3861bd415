"""``train``: Lightning fit with periodic checkpoints, auto-resume, status lines and threshold calibration.

Resume order: ``train.resume_training_checkpoint_path`` if set, else ``<results>/oi_model_latest.pth`` when it
exists; a resumed run keeps its run id and continues its epochs and optimizer state. Without anything to resume,
``train.pretrained_model_path`` (a TAO checkpoint, ours, or a plain state dict) initialises the weights. Every
validation epoch calibrates the decision threshold (``calibration.calibrate``) and every checkpoint carries the one
of its weights; the final epoch is always validated. The SUCCESS status line describes the checkpoint chained jobs
use by default (``train_summary``: the best by val_roc_auc) and its threshold. Progress: one log line per epoch
(``Epoch 3/10: ...``); Lightning's progress bar only on a terminal.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

from optical_inspection.callbacks import StatusCallback, ThresholdCalibration
from optical_inspection.checkpoint import (
    LATEST_LINK,
    extract_state_dict,
    find_resume_checkpoint,
    load_checkpoint,
    load_weights,
    new_run_id,
    remove_stale_temp_files,
)
from optical_inspection.datamodule import PairDataModule
from optical_inspection.device_bounds import check_train_memory
from optical_inspection.errors import UserError
from optical_inspection.lightning_module import OIModule
from optical_inspection.machine import peak_rss_mib
from optical_inspection.models.build import build_model, model_kwargs
from optical_inspection.models.loss import natural_threshold, resolve_loss
from optical_inspection.nonfinite_guard import NonFiniteGuard
from optical_inspection.periodic_checkpoint import PeriodicCheckpoint
from optical_inspection.spec import config_to_dict
from optical_inspection.status import STARTED, SUCCESS
from optical_inspection.tasks._common import prepare_results
from optical_inspection.topk_checkpoint import TopKCheckpoint
from optical_inspection.train_summary import best_checkpoint, checkpoint_facts
from optical_inspection.train_summary import describe as describe_best
from optical_inspection.trainer_builder import build_trainer, trainer_devices

__all__ = ["run"]

_log = logging.getLogger(__name__)


def _initial_weights(model: torch.nn.Module, path: str) -> None:
    data = load_checkpoint(path)
    load_weights(model, extract_state_dict(data), f"train.pretrained_model_path {path}")
    _log.info("Initialised weights from %s", path)


def run(cfg: Any) -> int:
    tcfg = cfg.train
    results, status = prepare_results(cfg, "train")
    for leftover in remove_stale_temp_files(results):
        _log.info("Removed %s, left by a run killed while saving", leftover)
    status.write(STARTED, "Starting training")
    seed = int(tcfg.seed)
    if seed >= 0:
        L.seed_everything(seed, workers=True, verbose=False)
    devices = trainer_devices(tcfg)
    model = build_model(cfg)
    check_train_memory(cfg, model)
    datamodule = PairDataModule(cfg)  # loaders built (data checked) here; Lightning gets the same ones
    train_loader = datamodule.train_dataloader()
    datamodule.val_dataloader()
    resume = find_resume_checkpoint(results, tcfg.resume_training_checkpoint_path)
    run_id, first_step = new_run_id(), 0
    if resume is not None:
        data = load_checkpoint(resume)
        run_id = str(data.get("run_id") or run_id)
        first_step = int(data.get("global_step") or 0)
        load_weights(model, extract_state_dict(data), f"resume checkpoint {resume}")
        message = f"Resuming from {resume} (epoch {data.get('epoch')}, step {data.get('global_step')})"
        _log.info(message)
        status.write(STARTED, message)
    elif tcfg.pretrained_model_path:
        _initial_weights(model, tcfg.pretrained_model_path)
    model_type, margin = str(cfg.model.model_type), float(cfg.model.margin)
    try:
        loss = resolve_loss(model_type, tcfg.loss)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    module = OIModule(
        model,
        margin,
        tcfg.optim,
        float(tcfg.target_recall),
        loss=loss,
        decision_threshold=natural_threshold(model_type, margin),
    )
    _log.info("Model %s, loss %s", model_type, loss)
    hparams = {"model": model_kwargs(cfg), "margin": margin, "loss": loss, "spec": config_to_dict(cfg, redact=True)}
    extra = {"run_id": run_id, "hyper_parameters": hparams, "target_recall": float(tcfg.target_recall)}
    topk = tcfg.checkpointer is not None and bool(tcfg.checkpointer.enable_topk)
    ckpt_cb = PeriodicCheckpoint(
        results,
        tcfg.checkpoint_interval,
        tcfg.checkpoint_interval_unit,
        extra,
        keep_previous=not (topk and bool(tcfg.checkpointer.replace_periodic)),
    )
    # the non-finite guard runs first (nothing is saved from NaN weights), then calibration, then the top-k
    # callback (which ranks with the epoch's threshold), so that the periodic checkpoint of the same epoch
    # records its ranking
    guard = NonFiniteGuard(tcfg.checkpoint_interval if tcfg.checkpoint_interval_unit == "step" else 0)
    calibration = ThresholdCalibration(float(tcfg.target_recall))
    callbacks: list[L.Callback] = [guard, calibration]
    callbacks += [TopKCheckpoint(results, tcfg.checkpointer, extra)] if topk else []
    callbacks += [ckpt_cb, StatusCallback(status, calibration)]
    trainer = build_trainer(
        cfg, results=results, callbacks=callbacks, run_id=run_id, steps_per_epoch=len(train_loader), devices=devices
    )
    started = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume) if resume is not None else None)
    if not trainer.is_global_zero:
        return 0
    seconds = time.perf_counter() - started
    pairs = (trainer.global_step - first_step) * int(train_loader.batch_size or 1) * trainer.world_size
    speed = {"train_seconds": round(seconds, 2), "pairs_per_second": round(pairs / max(seconds, 1e-9), 2)}
    speed["peak_rss_mib"] = peak_rss_mib()
    return _finish(cfg, module, status, ckpt_cb, trainer, speed)


CURVES_NAME = "training_curves.png"


def _draw_curves(results: Path, best_epoch: int | None) -> str | None:
    """``training_curves.png`` from every epoch's status line (a resumed run's earlier epochs included); a failure
    to draw is logged and never fails the training."""
    from optical_inspection import plots
    from optical_inspection.status import RUNNING, read_status

    try:
        lines = [r for r in read_status(results / "status.json") if r.get("status") == RUNNING]
        path = plots.plot_training_curves(lines, results / CURVES_NAME, best_epoch=best_epoch)
    except Exception as exc:  # noqa: BLE001 - a picture is not worth a failed training
        _log.warning("Training curves not drawn: %s: %s", type(exc).__name__, exc)
        return None
    if path is not None:
        _log.info("Training curves: %s", path)
    return str(path) if path is not None else None


def _finish(
    cfg: Any,
    module: OIModule,
    status: Any,
    ckpt_cb: PeriodicCheckpoint,
    trainer: Any,
    speed: dict[str, Any],
) -> int:
    """The SUCCESS line, about the checkpoint chained jobs use by default (``train_summary``): its path, threshold,
    calibration and epoch KPIs as ``checkpoint``, ``threshold``, ``calibration``, ``best_epoch`` and ``best_kpi``;
    ``kpi`` and ``epoch`` stay the final epoch's (TAO's meaning), ``final_checkpoint`` names its file; then the
    training time, pairs per second (validation included) and peak memory of this process."""
    results = Path(ckpt_cb.results_dir)
    facts = checkpoint_facts(results)
    best = best_checkpoint(facts)
    link = results / LATEST_LINK
    final_path = ckpt_cb.saved[-1] if ckpt_cb.saved else (link.resolve() if link.is_file() else None)
    final = next((f for f in facts if final_path is not None and f.path == final_path), facts[-1] if facts else None)
    fields: dict[str, Any] = {"final_checkpoint": str(final_path) if final_path else None}
    fields["training_curves"] = _draw_curves(results, best.epoch if best is not None else None)
    if best is None:
        message = "Training finished; no checkpoint was written"
    else:
        message = "Training finished; " + describe_best(best, final, trainer.max_epochs)
        threshold = best.threshold
        if threshold is None:
            threshold = natural_threshold(str(cfg.model.model_type), float(cfg.model.margin))
            message += (
                f"; the validation set has no defect, so no threshold was calibrated: the model's own decision "
                f"threshold {threshold:.4g} applies"
            )
        fields.update(
            checkpoint=str(best.path),
            threshold=float(threshold),
            calibration=best.calibration,
            best_epoch=best.epoch,
            best_kpi=best.kpi,
        )
    status.write(
        SUCCESS,
        message,
        kpi=dict(module.epoch_metrics),
        epoch=trainer.current_epoch - 1 if trainer.current_epoch > 0 else 0,
        max_epoch=trainer.max_epochs,
        **fields,
        **speed,
    )
    _log.info(message)
    return 0
