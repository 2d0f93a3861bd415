"""The Lightning ``Trainer`` of a spec: accelerator, devices and strategy, precision, loggers, gradient clipping,
determinism and the validation schedule, all from ``cfg.train`` (and ``cfg.wandb``), for the tasks that run a
Lightning loop (``train``); Lightning's progress bar only on a terminal (``console``). ``evaluate`` and
``inference`` score through ``scoring``'s backends (PyTorch, ONNX Runtime, TensorRT) without a Lightning loop, and
so without importing Lightning.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Checkpoint

from optical_inspection import console
from optical_inspection.device_bounds import check_devices
from optical_inspection.precision import describe, resolve_precision

__all__ = ["build_trainer", "build_loggers", "trainer_devices"]

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


def build_loggers(cfg: Any, results: Path, run_id: str) -> list[Any]:
    """TensorBoard (``train.tensorboard.enabled``) and Weights & Biases (``wandb.enable``) loggers."""
    loggers: list[Any] = []
    tensorboard = cfg.train.tensorboard
    if tensorboard is not None and tensorboard.enabled:
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(save_dir=str(results), name="tensorboard", version=""))
    if cfg.wandb is not None and cfg.wandb.enable:
        from optical_inspection.wandb_logging import build_wandb_logger

        loggers.append(build_wandb_logger(cfg.wandb, results, run_id))
    return loggers


def build_trainer(
    cfg: Any,
    *,
    results: Path,
    callbacks: list[L.Callback],
    run_id: str,
    steps_per_epoch: int,
    devices: dict[str, Any] | None = None,
) -> L.Trainer:
    """The ``Trainer`` for ``cfg.train`` with ``callbacks``; ``devices`` as :func:`trainer_devices` gives them (checked
    before anything is built) unless already resolved."""
    tcfg = cfg.train
    devices = trainer_devices(tcfg) if devices is None else devices
    loggers = build_loggers(cfg, results, run_id)
    clip = float(tcfg.clip_grad_norm or 0.0)
    precision = resolve_precision(tcfg.precision, devices["accelerator"])
    _log.info("Training precision: %s", describe(precision))
    seed = int(tcfg.seed)
    console.adopt_lightning_logging()  # Lightning's records once, through the root handler
    bar = [console.progress_bar()] if console.progress_bar_wanted() else []  # a bar only on a terminal
    return L.Trainer(
        precision=precision,
        enable_progress_bar=bool(bar),
        max_epochs=int(tcfg.num_epochs),
        check_val_every_n_epoch=int(tcfg.validation_interval),
        num_sanity_val_steps=0,
        enable_checkpointing=any(isinstance(c, Checkpoint) for c in callbacks),
        logger=loggers or False,
        callbacks=[*callbacks, *bar],
        gradient_clip_val=clip if clip > 0 else None,
        gradient_clip_algorithm="norm",
        log_every_n_steps=max(1, min(50, steps_per_epoch)),
        default_root_dir=str(results),
        deterministic=bool(tcfg.cudnn.deterministic) and seed >= 0 and "warn",
        benchmark=bool(tcfg.cudnn.benchmark),
        **devices,
    )
