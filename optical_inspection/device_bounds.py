"""Bounds from the machine, checked before anything is allocated or started.

Devices: ``num_gpus`` and ``gpu_ids`` must name GPUs that exist (the error lists the ones present); without a GPU,
``num_gpus`` training processes run on the CPU, at most one per core. Memory: a lower bound of what one training step
needs (the weights with their gradients and optimiser moments, and the activations of one batch) must fit in the
memory available, so an ``image_width`` of 100000 is a clear error naming the keys instead of an allocation failure
deep inside. The bound is low on purpose (a refusal must be certain); what it misses ends in the CLI's out-of-memory
error, which names the same keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from optical_inspection.errors import UserError
from optical_inspection.machine import affinity_cpus

__all__ = ["check_devices", "check_train_memory", "available_memory", "ACTIVATION_FACTOR"]

#: Bytes of activations and their gradients per byte of float32 input batch, a lower bound: measured on a CPU for
#: one Adam step, Siamese_Efficient peaks at 22x (128x128, batch 8) to 27x (64x64, batch 16) its input batch above
#: its weights, gradients and optimiser moments, TAO's Siamese at about 170x.
ACTIVATION_FACTOR = 16
#: Copies of the weights a step holds at least: weights, gradients, one optimiser moment (Adam keeps two).
WEIGHT_COPIES = 3


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (``MemAvailable``), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _gpu_names() -> list[str]:
    return [f"{i}: {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]


def check_devices(section: str, num_gpus: int, gpu_ids: Sequence[int] | None) -> None:
    """Raise a :class:`UserError` when ``<section>.num_gpus``/``gpu_ids`` ask for devices this machine (one node)
    lacks."""
    n = int(num_gpus)
    if n < 1:
        raise UserError(f"{section}.num_gpus is {n}; it must be 1 or more.")
    if torch.cuda.is_available():
        present = _gpu_names()
        if n > len(present):
            raise UserError(
                f"{section}.num_gpus is {n} but this machine has {len(present)} GPU(s) ({'; '.join(present)}). "
                f"Set {section}.num_gpus to at most {len(present)}."
            )
        ids = list(gpu_ids or [])
        wrong = [i for i in ids if not 0 <= int(i) < len(present)]
        if wrong:
            raise UserError(
                f"{section}.gpu_ids {ids} names GPU(s) {wrong} that do not exist; present: {'; '.join(present)}. "
                f"Use ids from 0 to {len(present) - 1}."
            )
        if len(set(ids)) != len(ids):
            raise UserError(f"{section}.gpu_ids {ids} repeats a GPU; give each GPU once.")
        return
    cores = affinity_cpus()
    if n > cores:
        raise UserError(
            f"{section}.num_gpus is {n}: without a GPU that starts {n} training processes on the CPU, more than its "
            f"{cores} core(s). Set {section}.num_gpus to at most {cores} (1 is usually fastest on a CPU)."
        )


def check_train_memory(cfg: Any, model: torch.nn.Module, available: int | None = None) -> None:
    """Raise a :class:`UserError` when one training step at ``dataset.image_width/height`` and ``batch_size``
    certainly cannot fit in the memory available (host memory, or the first GPU's free memory)."""
    ds = cfg.dataset
    batch, lights = int(ds.batch_size), max(int(ds.num_input), 1)
    pixels = int(ds.image_width) * int(ds.image_height)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    needed = batch * 2 * lights * 3 * pixels * 4 * ACTIVATION_FACTOR + WEIGHT_COPIES * weights
    if available is None:
        available = torch.cuda.mem_get_info(0)[0] if torch.cuda.is_available() else available_memory()
    if available is not None and needed > available:
        raise UserError(
            f"dataset.image_width x image_height = {ds.image_width} x {ds.image_height} with {lights} light(s), "
            f"batch_size {batch} and {cfg.model.model_type} needs at least {needed / 1024**3:.1f} GiB to train, more "
            f"than the {available / 1024**3:.1f} GiB available. Lower dataset.image_width/image_height (each light "
            "is resized to it; TAO uses 100 to 512) or dataset.batch_size."
        )
