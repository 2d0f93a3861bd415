"""The LightningModule: contrastive training of a Siamese network and TAO's train/val KPIs at ``model.margin``.

Metrics use the SAME ``margin`` as the loss (TAO's fix the metric threshold at 2.0 whatever the margin): a pair is
predicted defect when its distance exceeds the margin. Percentages as in TAO: ``acc``, ``fpr`` = FP over ALL
samples; plus ``val_roc_auc``. Epoch metrics are computed once per epoch from all gathered distances (vectorised).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from optical_inspection import metrics
from optical_inspection.models.loss import contrastive_loss, pair_distance
from optical_inspection.precision import no_autocast

__all__ = ["OIModule", "build_optimizer"]


def build_optimizer(params: Any, optim_cfg: Any) -> torch.optim.Optimizer:
    """Adam(lr, weight_decay) or SGD(lr, momentum, weight_decay).

    TAO's Adam ignores ``weight_decay``; here it is honoured for Adam too (L2 added to the gradient, as
    ``torch.optim.Adam`` does), so the spec key means the same for both optimisers. Set 0 to match TAO exactly.
    Adam uses PyTorch's fused kernel where the parameters allow it (same maths, one pass over each tensor: about
    7x faster than the default per-tensor loop on a CPU for Siamese_3's 268 M-parameter dense layer).
    """
    kind = str(optim_cfg.type)
    if kind == "Adam":
        params = list(params)
        settings = {"lr": float(optim_cfg.lr), "weight_decay": float(optim_cfg.weight_decay)}
        try:
            return torch.optim.Adam(params, fused=True, **settings)
        except (RuntimeError, TypeError, ValueError):  # a device or dtype the fused kernel does not cover
            return torch.optim.Adam(params, **settings)
    if kind == "SGD":
        return torch.optim.SGD(
            params,
            lr=float(optim_cfg.lr),
            momentum=float(optim_cfg.momentum),
            weight_decay=float(optim_cfg.weight_decay),
        )
    from optical_inspection.errors import UserError

    raise UserError(f"train.optim.type is {kind!r}; choose Adam or SGD.")


class OIModule(L.LightningModule):
    """Holds the network as ``self.model`` (so state-dict keys are ``model.*``, like TAO's checkpoints)."""

    def __init__(self, model: nn.Module, margin: float, optim_cfg: Any, target_recall: float = 0.99) -> None:
        super().__init__()
        self.model = model
        self.margin = float(margin)
        self.optim_cfg = optim_cfg
        self.target_recall = float(target_recall)
        # Threshold calibrated on the last validation epoch; every checkpoint saved after it carries it, so any
        # checkpoint (best, latest, epoch N) decides with a threshold that reaches the target recall, not the margin.
        self.calibrated_threshold: float | None = None
        self._train: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._val: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.epoch_metrics: dict[str, float] = {}
        self.last_val_scores: tuple[np.ndarray, np.ndarray] | None = None
        self.validated_epoch: int | None = None

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(x1, x2)

    def _step(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        test, golden, label = batch[0], batch[1], batch[2]
        emb1, emb2 = self.model(test, golden)
        distance = pair_distance(emb1.float(), emb2.float())  # float32 loss under mixed precision
        loss = contrastive_loss(distance, label, self.margin)
        return loss, distance.detach(), label.detach()

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss, distance, label = self._step(batch)
        self._train.append((loss.detach().reshape(1) * len(label), distance, label))
        self.log("train_loss_step", loss, prog_bar=True, logger=self.trainer.logger is not None)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        with no_autocast(self.device.type):  # validation scores calibrate the threshold float32 inference uses
            loss, distance, label = self._step(batch)
        self._val.append((loss.reshape(1) * len(label), distance, label))

    def _gather(self, store: list) -> tuple[float, np.ndarray, np.ndarray]:
        if not store:
            return float("nan"), np.empty(0), np.empty(0)
        loss_sum = torch.cat([s[0] for s in store]).sum()
        distance = torch.cat([s[1] for s in store])
        label = torch.cat([s[2] for s in store])
        if self.trainer.world_size > 1:
            loss_sum = self.all_gather(loss_sum).sum()
            distance = self.all_gather(distance).reshape(-1)
            label = self.all_gather(label).reshape(-1)
        d, y = distance.float().cpu().numpy(), label.float().cpu().numpy()
        return float(loss_sum.cpu()) / max(len(y), 1), d, y

    def _kpis(self, prefix: str, loss: float, d: np.ndarray, y: np.ndarray) -> dict[str, float]:
        k = metrics.tao_kpis(d, y, self.margin)
        return {f"{prefix}_loss": loss, f"{prefix}_acc": k["acc"], f"{prefix}_fpr": k["fpr"]}

    def on_train_epoch_start(self) -> None:
        self._train.clear()

    def finalize_train_epoch(self) -> None:
        """Compute the epoch's train KPIs once (callbacks run before this module's hook, so both call it)."""
        if not self._train:
            return
        loss, d, y = self._gather(self._train)
        self._train.clear()
        values = self._kpis("train", loss, d, y)
        self.epoch_metrics.update(values)
        if self.trainer.logger is not None:
            self.log_dict(values, logger=True, sync_dist=False, rank_zero_only=True)

    def on_train_epoch_end(self) -> None:
        self.finalize_train_epoch()

    def on_validation_epoch_start(self) -> None:
        self._val.clear()

    def on_validation_epoch_end(self) -> None:
        loss, d, y = self._gather(self._val)
        self._val.clear()
        if self.trainer.sanity_checking:
            return
        values = self._kpis("val", loss, d, y)
        values["val_roc_auc"] = metrics.roc_auc(d, y)
        self.epoch_metrics.update(values)
        self.last_val_scores = (d, y)
        self.validated_epoch = self.current_epoch
        calibration = metrics.calibrate_threshold(d, y, self.target_recall)
        if calibration is not None:
            self.calibrated_threshold = calibration.threshold
        self.log_dict(
            values, logger=self.trainer.logger is not None, prog_bar=True, sync_dist=False, rank_zero_only=True
        )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return build_optimizer(self.model.parameters(), self.optim_cfg)
