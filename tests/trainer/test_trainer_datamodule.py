"""The pairs of a spec as a LightningDataModule and the Trainer built from a spec (shared by the training task)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger

from optical_inspection.callbacks import StatusCallback
from optical_inspection.data.loader import EpochWeightedSampler
from optical_inspection.datamodule import PairDataModule
from optical_inspection.spec import build_config
from optical_inspection.status import StatusLogger
from optical_inspection.trainer_builder import build_trainer

from .conftest import tiny_spec


def test_datamodule_builds_each_split_once_from_the_spec(tmp_path: Path, tiny_data: Path) -> None:
    spec = tiny_spec(tiny_data, tmp_path, evaluate={"batch_size": 5}, inference={"batch_size": 7})
    data = PairDataModule(build_config(spec))
    train = data.train_dataloader()
    assert isinstance(train.sampler, EpochWeightedSampler) and train.drop_last and train.batch_size == 8
    assert data.train_dataloader() is train  # Lightning's request gets the loader the task checked
    val = data.val_dataloader()
    assert not val.drop_last and val.batch_size == 8
    rows = [i for batch in val for i in batch[3].tolist()]
    assert rows == list(range(48))  # every validation pair once, in CSV order
    assert data.test_dataloader().batch_size == 5 and data.predict_dataloader().batch_size == 7
    assert sum(len(batch[3]) for batch in data.predict_dataloader()) == 48


def test_trainer_comes_from_the_train_section(tmp_path: Path, tiny_data: Path) -> None:
    train = {"num_epochs": 3, "validation_interval": 2, "clip_grad_norm": 0.5, "tensorboard": {"enabled": True}}
    cfg = build_config(tiny_spec(tiny_data, tmp_path, train=train))
    status = StatusCallback(StatusLogger(tmp_path, enabled=False))
    trainer = build_trainer(cfg, results=tmp_path, callbacks=[status], run_id="r1", steps_per_epoch=6)
    assert isinstance(trainer, L.Trainer)
    assert (trainer.max_epochs, trainer.check_val_every_n_epoch, trainer.gradient_clip_val) == (3, 2, 0.5)
    assert trainer.log_every_n_steps == 6 and trainer.num_sanity_val_steps == 0
    assert [type(logger) for logger in trainer.loggers] == [TensorBoardLogger]
    assert status in trainer.callbacks
    assert trainer.accelerator.__class__.__name__ == "CPUAccelerator" and trainer.num_devices == 1
    plain = build_trainer(
        build_config(tiny_spec(tiny_data, tmp_path)), results=tmp_path, callbacks=[], run_id="r2", steps_per_epoch=100
    )
    assert plain.loggers == [] and plain.log_every_n_steps == 50 and plain.gradient_clip_val is None
