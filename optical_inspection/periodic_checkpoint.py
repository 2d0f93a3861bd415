"""TAO's periodic checkpoints as a Lightning ``ModelCheckpoint``: ``model_epoch_<EEE>_step_<SSSSS>.pth`` every
``train.checkpoint_interval`` epochs or steps and after the final epoch, with ``oi_model_latest.pth`` a relative link
to the newest (Lightning's ``save_last="link"``).

Lightning decides when to save, names the files (``filename``, ``CHECKPOINT_NAME_LAST``, ``FILE_EXTENSION``) and
replaces the previous file when only one is kept. What is TAO's and this trainer's: the file holds Lightning's own
checkpoint dict plus the run's extras and the epoch metrics, written atomically by
:func:`~optical_inspection.checkpoint.save_checkpoint` (which refuses a file of another run) instead of
``Trainer.save_checkpoint``; the link is replaced atomically; the final epoch is always saved; and with
``keep_previous=False`` (``train.checkpointer.replace_periodic``) a resumed run replaces the file it resumed from, too.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from optical_inspection.callbacks import build_checkpoint, epoch_extra
from optical_inspection.checkpoint import LATEST_LINK, save_checkpoint, update_latest_link

__all__ = ["PeriodicCheckpoint", "PERIODIC_FILENAME"]

#: ``checkpoint.checkpoint_name`` as a Lightning filename pattern (``.pth`` is the class's FILE_EXTENSION).
PERIODIC_FILENAME = "model_epoch_{epoch:03d}_step_{step:05d}"

_log = logging.getLogger(__name__)


class PeriodicCheckpoint(ModelCheckpoint):
    """Save every ``interval`` epochs or steps (``unit``) and after the final epoch into ``results_dir``; keep every
    file, or with ``keep_previous=False`` only the newest."""

    CHECKPOINT_NAME_LAST = Path(LATEST_LINK).stem
    FILE_EXTENSION = Path(LATEST_LINK).suffix

    def __init__(
        self, results_dir: Path, interval: int, unit: str, extra: dict[str, Any], keep_previous: bool = True
    ) -> None:
        interval = max(int(interval), 1)
        super().__init__(
            dirpath=results_dir,
            filename=PERIODIC_FILENAME,
            save_last="link",
            save_top_k=-1 if keep_previous else 1,
            auto_insert_metric_name=False,
            every_n_train_steps=interval if unit == "step" else None,
            every_n_epochs=None if unit == "step" else interval,
            save_on_train_epoch_end=True,
            enable_version_counter=False,
        )
        self.dirpath = str(results_dir)  # as given (Lightning resolves symbolic links; the paths we report do not)
        self.results_dir = Path(results_dir)
        self.extra = extra
        self.saved: list[Path] = []  # the files this run wrote, oldest first

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        with warnings.catch_warnings():  # the results folder holds the spec and status.json: not a mistake
            warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
            super().setup(trainer, pl_module, stage)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        link = self.results_dir / LATEST_LINK
        if self.save_top_k == 1 and not self.best_model_path and link.is_symlink() and link.resolve().is_file():
            self.best_model_path = str(link.resolve())  # resumed from a file saved without this callback's state

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        final = trainer.current_epoch + 1 >= (trainer.max_epochs or 0)
        if final and not self._should_skip_saving_checkpoint(trainer):
            candidates = self._monitor_candidates(trainer)
            self._save_topk_checkpoint(trainer, candidates)
            self._save_last_checkpoint(trainer, candidates)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Nothing: the final epoch was saved (Lightning would write a file named like the link if none was)."""

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        if trainer.is_global_zero:
            path = save_checkpoint(
                build_checkpoint(trainer, epoch_extra(trainer.lightning_module, self.extra)), filepath
            )
            self.saved.append(path)
            _log.info("Saved %s", path)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath

    @staticmethod
    def _link_checkpoint(trainer: L.Trainer, filepath: str, linkpath: str) -> None:
        if trainer.is_global_zero:
            update_latest_link(Path(linkpath).parent, filepath)
        trainer.strategy.barrier()

    def _should_remove_checkpoint(self, trainer: L.Trainer, previous: str, current: str) -> bool:
        """Lightning's rule (a file of this folder, not the one just written) without its exception for the file the
        run resumed from: ``replace_periodic`` keeps only the newest."""
        if previous == current:
            return False
        return Path(self.dirpath or "").absolute() in Path(previous).absolute().parents
