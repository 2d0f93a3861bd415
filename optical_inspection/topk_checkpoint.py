"""``train.checkpointer``: keep the ``save_top_k`` best checkpoints by a monitored epoch metric (TAO 7.3 keys).

After every epoch with a value for ``monitor`` (default ``val_roc_auc``; equal values are ranked by the lower
``val_far_at_target``), a checkpoint that ranks among the best
``save_top_k`` of this run is written to ``dirpath`` (default: the train results folder) under ``filename``
(a ``str.format`` pattern over ``epoch``, ``step`` and the epoch metrics, e.g. ``model_best_{epoch:03d}`` or
``best_{val_roc_auc:.4f}``; ``.pth`` is appended), and the checkpoint that fell out of the top k is deleted. With
``auto_insert_metric_name`` a field ``{epoch:03d}`` is written ``epoch=003`` as Lightning does. Best checkpoints are
complete (weights, optimizer state, calibrated threshold, metrics) and load like any other. The ranking is kept in
the periodic checkpoints, so a resumed run goes on ranking against the files it already kept, and it is written to
``best_checkpoints.json`` in the results folder (path, epoch, step, value; best first) for tools that pick a
checkpoint without opening one.

Not a Lightning ``ModelCheckpoint`` (the periodic checkpoints are one): Lightning ranks by the monitored value alone
(``check_monitor_top_k`` and ``_update_best_and_save``, the whole of its top-k logic), reads the value from
``trainer.callback_metrics`` and keeps no tie values in its state; this ranking breaks ties by
``val_far_at_target``, ranks on the module's epoch metrics only in epochs that validated, and keeps the tie values
and only the files that still exist across a resume, so a subclass would replace every top-k method of Lightning's.
"""

from __future__ import annotations

import logging
import math
import re
import string
from pathlib import Path
from typing import Any, NamedTuple

import lightning as L

from optical_inspection.callbacks import build_checkpoint, epoch_extra, epoch_source, finished_epoch_metrics
from optical_inspection.checkpoint import save_checkpoint
from optical_inspection.errors import UserError
from optical_inspection.tasks._scoring_io import write_json

__all__ = ["TopKCheckpoint", "MONITORS", "monitor_mode", "INDEX_NAME"]

INDEX_NAME = "best_checkpoints.json"

_log = logging.getLogger(__name__)

DEFAULT_MONITOR = "val_roc_auc"
#: Ranks checkpoints whose monitored values are equal (lower is better).
TIE_BREAKER = "val_far_at_target"
#: Epoch metrics a checkpointer may monitor (what the LightningModule computes), with their better direction.
MONITORS = {
    "val_roc_auc": "max",
    "val_far_at_target": "min",
    "val_acc": "max",
    "val_loss": "min",
    "val_fpr": "min",
    "train_acc": "max",
    "train_loss": "min",
    "train_fpr": "min",
}


def monitor_mode(monitor: str, mode: str | None) -> str:
    """``mode`` when given, else the metric's natural direction."""
    return mode if mode in ("min", "max") else MONITORS.get(monitor, "max")


def _insert_metric_names(pattern: str) -> str:
    """``{epoch:03d}`` -> ``epoch={epoch:03d}`` for every replacement field."""
    return re.sub(r"\{([A-Za-z_]\w*)([^}]*)\}", r"\1={\1\2}", pattern)


class _Kept(NamedTuple):
    value: float
    path: str
    epoch: int
    step: int
    tie: float = math.inf  # TIE_BREAKER value (lower is better)


class TopKCheckpoint(L.Callback):
    """Keep the ``save_top_k`` best checkpoints of a run by ``monitor``."""

    def __init__(self, results_dir: Path, cfg: Any, extra: dict[str, Any]) -> None:
        self.results_dir = Path(results_dir)
        self.monitor = str(cfg.monitor or DEFAULT_MONITOR)
        if self.monitor not in MONITORS:
            raise UserError(
                f"train.checkpointer.monitor is {self.monitor!r}; choose one of {', '.join(MONITORS)} "
                "(the epoch metrics of this trainer)."
            )
        self.mode = monitor_mode(self.monitor, cfg.mode)
        self.k = int(cfg.save_top_k)
        if self.k < 1:
            raise UserError(f"train.checkpointer.save_top_k is {self.k}; give 1 or more.")
        self.dirpath = Path(cfg.dirpath) if cfg.dirpath else Path(results_dir)
        pattern = str(cfg.filename or "model_best_{epoch:03d}")
        self.pattern = _insert_metric_names(pattern) if cfg.auto_insert_metric_name else pattern
        fields = {name for _, name, _, _ in string.Formatter().parse(self.pattern) if name}
        unknown = sorted(fields - {"epoch", "step", *MONITORS})
        if unknown:
            raise UserError(
                f"train.checkpointer.filename {pattern!r} uses {', '.join(unknown)}; the fields available are "
                f"epoch, step and {', '.join(MONITORS)}."
            )
        self.extra = extra
        self.kept: list[_Kept] = []  # best first

    def _key(self, kept: _Kept) -> tuple[float, float]:
        """Sort key, best first: the monitored value in its direction, then the lower tie-breaker."""
        tie = kept.tie if math.isfinite(kept.tie) else math.inf
        return (-kept.value if self.mode == "max" else kept.value, tie)

    def _filename(self, epoch: int, step: int, values: dict[str, float]) -> str:
        name = self.pattern.format(epoch=epoch, step=step, **{k: values.get(k, math.nan) for k in MONITORS})
        if "/" in name or name in ("", ".", ".."):
            raise UserError(f"train.checkpointer.filename gives {name!r}, not a file name; drop the path parts.")
        return name if name.endswith(".pth") else f"{name}.pth"

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        finished_epoch_metrics(pl_module)
        extra = epoch_extra(pl_module, self.extra)
        values = extra["metrics"]
        value = values.get(self.monitor)
        if value is None or math.isnan(value) or not trainer.is_global_zero:
            return
        if self.monitor.startswith("val_") and epoch_source(pl_module).validated_epoch != trainer.current_epoch:
            return  # no validation this epoch: the value is the previous epoch's
        epoch, step = trainer.current_epoch, trainer.global_step
        tie = values.get(TIE_BREAKER, math.inf)
        path = str(self.dirpath / self._filename(epoch, step, values))
        candidate = _Kept(value, path, epoch, step, tie if tie is not None else math.inf)
        if len(self.kept) >= self.k and not self._key(candidate) < self._key(self.kept[-1]):
            return
        self.dirpath.mkdir(parents=True, exist_ok=True)
        extra["best"] = {"monitor": self.monitor, "mode": self.mode, "value": value, "tie_breaker": TIE_BREAKER}
        kept = [k for k in self.kept if k.path != path] + [candidate]  # same name: replaced
        kept.sort(key=self._key)
        dropped, self.kept = kept[self.k :], kept[: self.k]
        save_checkpoint(build_checkpoint(trainer, extra), path)
        _log.info("Saved %s (%s %.4f, top %d)", path, self.monitor, value, self.k)
        for old in dropped:
            Path(old.path).unlink(missing_ok=True)
        entries = [{**k._asdict(), "tie": k.tie if math.isfinite(k.tie) else None} for k in self.kept]
        write_json(
            self.results_dir / INDEX_NAME,
            {
                "monitor": self.monitor,
                "mode": self.mode,
                "tie_breaker": TIE_BREAKER,
                "save_top_k": self.k,
                "checkpoints": entries,
            },
        )

    def state_dict(self) -> dict[str, Any]:
        kept = [[k.value, k.path, k.epoch, k.step, k.tie if math.isfinite(k.tie) else None] for k in self.kept]
        return {"kept": kept, "monitor": self.monitor, "mode": self.mode}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("monitor") != self.monitor or state_dict.get("mode") != self.mode:
            return  # another ranking: start afresh (files of the old one are left alone)
        self.kept = []
        for v, p, e, s, *tie in state_dict.get("kept", []):
            if Path(p).exists():
                tie_value = float(tie[0]) if tie and tie[0] is not None else math.inf
                self.kept.append(_Kept(float(v), str(p), int(e), int(s), tie_value))
