"""Stop training on a non-finite loss or non-finite weights, before anything is saved from them.

Registered first among the training callbacks, so its epoch-end check runs before the periodic and top-k
checkpoints: a diverged run ends with a FAILURE status (exit code 2, the spec's fault: a learning rate too high, no
gradient clipping) and keeps its last finite checkpoint as ``oi_model_latest.pth``; no NaN checkpoint is written.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch

from optical_inspection.errors import UserError

__all__ = ["TrainingDiverged", "NonFiniteGuard", "first_non_finite"]


class TrainingDiverged(UserError):
    """The loss or the weights became NaN or infinite."""


def first_non_finite(module: torch.nn.Module) -> str | None:
    """Name of the first parameter or buffer holding a NaN or an infinity, or None when all are finite."""
    tensors = [(n, t) for n, t in (*module.named_parameters(), *module.named_buffers()) if t.is_floating_point()]
    if not tensors:
        return None
    norms = torch._foreach_norm([t.detach() for _, t in tensors])
    finite = torch.isfinite(torch.stack([n.float() for n in norms]))
    if bool(finite.all()):
        return None
    return tensors[int((~finite).nonzero()[0])][0]


def _loss_value(outputs: Any) -> torch.Tensor | None:
    loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
    return loss.detach() if isinstance(loss, torch.Tensor) else None


class NonFiniteGuard(L.Callback):
    """Check the loss after every training batch and the weights before every checkpoint can be written.

    ``weights_every_steps``: also check the weights every that many optimizer steps (the periodic checkpoint
    interval when it is counted in steps; 0: at epoch ends only).
    """

    def __init__(self, weights_every_steps: int = 0) -> None:
        self.weights_every_steps = max(int(weights_every_steps), 0)

    def _fail(self, trainer: L.Trainer, what: str) -> None:
        raise TrainingDiverged(
            f"training diverged at epoch {trainer.current_epoch}, step {trainer.global_step}: {what}. Nothing was "
            "saved from it; the last finite checkpoint (if any) stays oi_model_latest.pth. Lower train.optim.lr, "
            "set train.clip_grad_norm (e.g. 1.0), or check the data for broken images."
        )

    def _check_weights(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        name = first_non_finite(pl_module)
        if name is not None:
            self._fail(trainer, f"weight {name} holds NaN or infinite values")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, *args: Any) -> None:
        loss = _loss_value(outputs)
        value = float(loss) if loss is not None else 0.0
        # every process decides together (under DDP one process stopping alone would leave the others waiting)
        if trainer.strategy.reduce_boolean_decision(not math.isfinite(value), all=False):
            self._fail(trainer, f"the training loss is {value}" if not math.isfinite(value) else "a loss is not finite")
        if self.weights_every_steps and trainer.global_step % self.weights_every_steps == 0:
            self._check_weights(trainer, pl_module)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "fit":
            self._check_weights(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check_weights(trainer, pl_module)
