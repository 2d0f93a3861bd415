"""The pairs of a spec as a ``LightningDataModule``: ``train``/``validation`` loaders for fitting, ``test``/``infer``
loaders for evaluation and prediction, each built from ``cfg.dataset`` once, on first request.

A task asks for its loaders before the trainer starts (a data error then stops the run before anything is built,
and the task knows the number of batches); Lightning's requests get the same loader objects.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from torch.utils.data import DataLoader

from optical_inspection.data import build_dataloader

__all__ = ["PairDataModule"]


class PairDataModule(L.LightningDataModule):
    """Loaders of ``cfg.dataset.<split>_dataset``: training with TAO's defect-oversampling sampler, augmentation and
    ``drop_last``; the others in CSV order, at ``dataset.batch_size`` (``test`` at ``evaluate.batch_size``,
    ``infer`` at ``inference.batch_size``)."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.cfg = cfg
        self._loaders: dict[str, DataLoader] = {}

    def _loader(self, split: str, *, train: bool = False, batch_size: Any = None) -> DataLoader:
        if split not in self._loaders:
            size = None if batch_size is None else int(batch_size)
            self._loaders[split] = build_dataloader(self.cfg, split, train=train, batch_size=size)
        return self._loaders[split]

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", batch_size=self.cfg.evaluate.batch_size)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("infer", batch_size=self.cfg.inference.batch_size)
