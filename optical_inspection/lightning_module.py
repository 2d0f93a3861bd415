"""The LightningModule: trains a pair network on its loss and computes the epoch KPIs.

Every model gives one defect score per pair (``models.loss.pair_scores``). Epoch KPIs, computed once per epoch from
all gathered scores (vectorised): TAO's ``acc`` and ``fpr`` (FP over ALL samples, percent) at the model's natural
threshold (``model.margin`` for the embedding networks: TAO fixes 2.0 whatever the margin; probability 0.5 for
``Siamese_Diff``), and on validation ``val_roc_auc`` and ``val_far_at_target`` (false-alarm rate FP / (FP + TN), in
percent, at the highest threshold reaching ``train.target_recall`` defect recall): the two numbers that rank
checkpoints ("best" = highest ROC-AUC, ties broken by the lower false-alarm rate).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from optical_inspection import metrics
from optical_inspection.models.loss import pair_loss, pair_scores
from optical_inspection.optim import build_optimizer, build_scheduler
from optical_inspection.precision import no_autocast

__all__ = ["OIModule", "build_optimizer"]


class OIModule(L.LightningModule):
    """Holds the network as ``self.model`` (so state-dict keys are ``model.*``, like TAO's checkpoints)."""

    def __init__(
        self,
        model: nn.Module,
        margin: float,
        optim_cfg: Any,
        target_recall: float = 0.99,
        *,
        loss: str = "contrastive",
        decision_threshold: float | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.margin = float(margin)
        self.optim_cfg = optim_cfg
        self.target_recall = float(target_recall)
        self.loss_name = loss
        #: threshold of TAO's acc/fpr KPIs: the margin for embedding networks, p = 0.5 for a logit model
        self.decision_threshold = float(margin if decision_threshold is None else decision_threshold)
        self._train: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._val: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.epoch_metrics: dict[str, float] = {}
        self.last_val_scores: tuple[np.ndarray, np.ndarray] | None = None
        self.validated_epoch: int | None = None

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> Any:
        return self.model(x1, x2)

    def _step(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        test, golden, label = batch[0], batch[1], batch[2]
        scores, logits = pair_scores(self.model(test, golden))  # float32 scores and loss under mixed precision
        loss = pair_loss(self.loss_name, scores, logits, label, self.margin)
        return loss, scores.detach(), label.detach()

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss, scores, label = self._step(batch)
        self._train.append((loss.detach().reshape(1) * len(label), scores, label))
        self.log("train_loss_step", loss, prog_bar=True, logger=self.trainer.logger is not None)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        with no_autocast(self.device.type):  # validation scores calibrate the threshold float32 inference uses
            loss, scores, label = self._step(batch)
        self._val.append((loss.reshape(1) * len(label), scores, label))

    def _gather(self, store: list) -> tuple[float, np.ndarray, np.ndarray]:
        if not store:
            return float("nan"), np.empty(0), np.empty(0)
        loss_sum = torch.cat([s[0] for s in store]).sum()
        scores = torch.cat([s[1] for s in store])
        label = torch.cat([s[2] for s in store])
        if self.trainer.world_size > 1:
            loss_sum = self.all_gather(loss_sum).sum()
            scores = self.all_gather(scores).reshape(-1)
            label = self.all_gather(label).reshape(-1)
        d, y = scores.float().cpu().numpy(), label.float().cpu().numpy()
        return float(loss_sum.cpu()) / max(len(y), 1), d, y

    def _kpis(self, prefix: str, loss: float, d: np.ndarray, y: np.ndarray) -> dict[str, float]:
        k = metrics.tao_kpis(d, y, self.decision_threshold)
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
        values["val_far_at_target"] = metrics.false_alarm_at_recall(d, y, self.target_recall)[1]
        values = {k: (float("nan") if v is None else float(v)) for k, v in values.items()}
        self.epoch_metrics.update(values)
        self.last_val_scores = (d, y)
        self.validated_epoch = self.current_epoch
        self.log_dict(
            values, logger=self.trainer.logger is not None, prog_bar=True, sync_dist=False, rank_zero_only=True
        )

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.model.parameters(), self.optim_cfg)
        scheduler = build_scheduler(optimizer, self.optim_cfg, int(self.trainer.estimated_stepping_batches))
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
