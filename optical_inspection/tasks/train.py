"""``train``: Lightning fit with periodic checkpoints, auto-resume, status lines and threshold calibration.

Resume order: ``train.resume_training_checkpoint_path`` if set, else ``<results>/oi_model_latest.pth`` when it
exists; a resumed run keeps its run id and continues its epochs and optimizer state. Without anything to resume,
``train.pretrained_model_path`` (a TAO checkpoint, ours, or a plain state dict) initialises the weights. After the
last epoch the decision threshold is calibrated on the validation set (``metrics.calibrate_threshold``: the lower of
the threshold reaching ``train.target_recall`` defect recall there, lowered by 10%, and the 99% quantile of its PASS
scores); the threshold, the recall-reaching value (``threshold_exact``) and how it was chosen are stored in the final
checkpoint, and the threshold in the SUCCESS status line.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from optical_inspection import metrics
from optical_inspection.callbacks import PeriodicCheckpoint, StatusCallback
from optical_inspection.checkpoint import (
    extract_state_dict,
    find_resume_checkpoint,
    load_checkpoint,
    load_weights,
    new_run_id,
    remove_stale_temp_files,
    save_checkpoint,
)
from optical_inspection.device_bounds import check_devices, check_train_memory
from optical_inspection.lightning_module import OIModule
from optical_inspection.models.build import build_model, model_kwargs
from optical_inspection.models.loss import pair_distance
from optical_inspection.nonfinite_guard import NonFiniteGuard
from optical_inspection.precision import describe, resolve_precision
from optical_inspection.spec import config_to_dict
from optical_inspection.status import STARTED, SUCCESS
from optical_inspection.tasks._common import prepare_results
from optical_inspection.topk_checkpoint import TopKCheckpoint

__all__ = ["run", "trainer_devices", "score_loader"]

_log = logging.getLogger(__name__)


def trainer_devices(tcfg: Any) -> dict[str, Any]:
    """Lightning accelerator/devices/strategy for ``num_gpus``/``gpu_ids``/``num_nodes``; CPU processes with gloo
    when no GPU is present."""
    from lightning.pytorch.strategies import DDPStrategy

    check_devices("train", tcfg.num_gpus, tcfg.gpu_ids)
    n = int(tcfg.num_gpus)
    nodes = int(tcfg.num_nodes)
    if torch.cuda.is_available():
        ids = list(tcfg.gpu_ids or [])
        devices: Any = ids if len(ids) == n else n
        accel, backend = "gpu", "nccl"
    else:
        devices, accel, backend = n, "cpu", "gloo"
    strategy: Any = "auto"
    if n > 1 or nodes > 1:
        strategy = DDPStrategy(process_group_backend=backend)
    return {"accelerator": accel, "devices": devices, "num_nodes": nodes, "strategy": strategy}


@torch.no_grad()
def score_loader(model: torch.nn.Module, loader: Any, dev: torch.device) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distances, labels, row indices) of every pair of a loader, model in eval mode."""
    model.eval().to(dev)
    ds, ys, idx = [], [], []
    for test, golden, label, index in loader:
        emb1, emb2 = model(test.to(dev), golden.to(dev))
        ds.append(pair_distance(emb1, emb2).float().cpu())
        ys.append(label.float())
        idx.append(torch.as_tensor(index))
    return torch.cat(ds).numpy(), torch.cat(ys).numpy(), torch.cat(idx).numpy()


def _initial_weights(model: torch.nn.Module, path: str) -> None:
    data = load_checkpoint(path)
    load_weights(model, extract_state_dict(data), f"train.pretrained_model_path {path}")
    _log.info("Initialised weights from %s", path)


def run(cfg: Any) -> int:
    from optical_inspection.data import build_dataloader

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
    train_loader = build_dataloader(cfg, "train", train=True)
    val_loader = build_dataloader(cfg, "validation", train=False)
    resume = find_resume_checkpoint(results, tcfg.resume_training_checkpoint_path)
    run_id = new_run_id()
    if resume is not None:
        data = load_checkpoint(resume)
        run_id = str(data.get("run_id") or run_id)
        load_weights(model, extract_state_dict(data), f"resume checkpoint {resume}")
        message = f"Resuming from {resume} (epoch {data.get('epoch')}, step {data.get('global_step')})"
        _log.info(message)
        status.write(STARTED, message)
    elif tcfg.pretrained_model_path:
        _initial_weights(model, tcfg.pretrained_model_path)
    module = OIModule(model, float(cfg.model.margin), tcfg.optim, float(tcfg.target_recall))
    hparams = {"model": model_kwargs(cfg), "margin": float(cfg.model.margin), "spec": config_to_dict(cfg, redact=True)}
    extra = {"run_id": run_id, "hyper_parameters": hparams, "target_recall": float(tcfg.target_recall)}
    topk = tcfg.checkpointer is not None and bool(tcfg.checkpointer.enable_topk)
    ckpt_cb = PeriodicCheckpoint(
        results,
        tcfg.checkpoint_interval,
        tcfg.checkpoint_interval_unit,
        extra,
        keep_previous=not (topk and bool(tcfg.checkpointer.replace_periodic)),
    )
    # the non-finite guard runs first (nothing is saved from NaN weights), then the top-k callback, so that the
    # periodic checkpoint of the same epoch records its ranking
    guard = NonFiniteGuard(tcfg.checkpoint_interval if tcfg.checkpoint_interval_unit == "step" else 0)
    callbacks: list[L.Callback] = [guard] + ([TopKCheckpoint(results, tcfg.checkpointer, extra)] if topk else [])
    callbacks += [ckpt_cb, StatusCallback(status)]
    loggers: list[Any] = []
    if tcfg.tensorboard is not None and tcfg.tensorboard.enabled:
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(save_dir=str(results), name="tensorboard", version=""))
    if cfg.wandb is not None and cfg.wandb.enable:
        from optical_inspection.wandb_logging import build_wandb_logger

        loggers.append(build_wandb_logger(cfg.wandb, results, run_id))
    logger: Any = loggers or False
    clip = float(tcfg.clip_grad_norm or 0.0)
    precision = resolve_precision(tcfg.precision, devices["accelerator"])
    _log.info("Training precision: %s", describe(precision))
    trainer = L.Trainer(
        precision=precision,
        max_epochs=int(tcfg.num_epochs),
        check_val_every_n_epoch=int(tcfg.validation_interval),
        num_sanity_val_steps=0,
        enable_checkpointing=False,
        logger=logger,
        callbacks=callbacks,
        gradient_clip_val=clip if clip > 0 else None,
        gradient_clip_algorithm="norm",
        log_every_n_steps=max(1, min(50, len(train_loader))),
        default_root_dir=str(results),
        deterministic=bool(tcfg.cudnn.deterministic) and seed >= 0 and "warn",
        benchmark=bool(tcfg.cudnn.benchmark),
        **devices,
    )
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(resume) if resume is not None else None)
    if not trainer.is_global_zero:
        return 0
    return _finish(cfg, module, results, status, ckpt_cb, trainer)


def _finish(cfg: Any, module: OIModule, results: Path, status: Any, ckpt_cb: PeriodicCheckpoint, trainer: Any) -> int:
    """Calibrate the threshold on the validation set and store it in the final checkpoint.

    The scores of the last epoch's validation are reused when that epoch was validated in one process (they are
    the final weights'); otherwise the validation set is scored once more.
    """
    last_epoch_validated = module.validated_epoch == trainer.max_epochs - 1 and module.last_val_scores is not None
    if last_epoch_validated and trainer.world_size == 1:
        scores, labels = module.last_val_scores
    else:
        from optical_inspection.data import build_dataloader

        loader = build_dataloader(cfg, "validation", train=False)
        scores, labels, _ = score_loader(module.model, loader, module.device)
    calibration = metrics.calibrate_threshold(scores, labels, float(cfg.train.target_recall))
    if calibration is None:
        threshold, note = float(cfg.model.margin), "validation set has no defect; threshold = model.margin"
    else:
        threshold, note = calibration.threshold, calibration.note
    final = _final_checkpoint(results, ckpt_cb)
    if final is not None:
        data = load_checkpoint(final)
        data["threshold"] = float(threshold)
        data["threshold_source"] = note
        data["threshold_exact"] = None if calibration is None else calibration.recall_threshold
        save_checkpoint(data, final)
    kpi = dict(module.epoch_metrics)
    kpi["val_roc_auc"] = metrics.roc_auc(scores, labels)
    status.write(
        SUCCESS,
        f"Training finished; threshold {threshold:.4f} ({note}); final checkpoint {final}",
        kpi=kpi,
        epoch=trainer.current_epoch - 1 if trainer.current_epoch > 0 else 0,
        max_epoch=trainer.max_epochs,
        threshold=float(threshold),
        checkpoint=str(final) if final else None,
    )
    _log.info("Threshold %.4f (%s)", threshold, note)
    return 0


def _final_checkpoint(results: Path, ckpt_cb: PeriodicCheckpoint) -> Path | None:
    if ckpt_cb.saved:
        return ckpt_cb.saved[-1]
    link = results / "oi_model_latest.pth"
    return link.resolve() if link.is_file() else None
