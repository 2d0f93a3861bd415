"""What the trainer prints: one line per log record, live, and no terminal drawing in files.

- Logging goes to stderr once per record (Lightning's own console handlers are removed so its INFO lines are not
  printed twice), stdout is line-buffered, so a pipe or a job's log file gets each line when it is written.
- Lightning's progress bar is drawn only on a terminal (a bar redrawn with carriage returns fills a log file with
  hundreds of kilobytes); files get one line per epoch instead (:func:`epoch_line`). Epochs are counted from 1 for
  people ("Epoch 3/10"); file names and status.json keep TAO's 0-based epoch numbers.
- Third-party advertising and deprecation notices that a user cannot act on are filtered where they are emitted.
"""

from __future__ import annotations

import logging
import math
import sys
import warnings
from collections.abc import Mapping
from typing import Any

__all__ = [
    "setup_logging",
    "adopt_lightning_logging",
    "progress_bar_wanted",
    "progress_bar",
    "epoch_line",
    "number",
    "NOISE",
]

#: Messages of third-party log records dropped at the handler (advertising a product, not about this run).
NOISE = ("💡 Tip: For seamless cloud logging",)
#: (category, message regex) of third-party warnings that say nothing a user of this trainer can act on.
_NOISY_WARNINGS = ((FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),)
#: Epoch metrics shown in an epoch line, in this order (others are in status.json).
_SHOWN = ("train_loss", "val_loss", "val_roc_auc", "val_far_at_target")
_PERCENT = ("val_far_at_target", "val_acc", "val_fpr", "train_acc", "train_fpr")


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in NOISE)


def setup_logging(verbose: bool = False) -> None:
    """Root logging to stderr (timestamp, level, logger), noise filtered; stdout flushed at every line."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s [%(levelname)s] %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _DropNoise) for f in handler.filters):
            handler.addFilter(_DropNoise())
    for category, pattern in _NOISY_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern, category=category)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)


def adopt_lightning_logging() -> None:
    """Route Lightning's records through the root handlers only (it installs its own console handlers on import,
    which printed every INFO line twice). Call after importing lightning."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True


def progress_bar_wanted(stream: Any = None) -> bool:
    """Lightning's progress bar only when its stream (stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress_bar() -> Any:
    """Lightning's TQDM bar with the epoch shown as ``Epoch i/N`` counted from 1."""
    from lightning.pytorch.callbacks import TQDMProgressBar

    class EpochBar(TQDMProgressBar):
        def on_train_epoch_start(self, trainer: Any, *args: Any) -> None:
            super().on_train_epoch_start(trainer, *args)
            total = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else "?"
            self.train_progress_bar.set_description(f"Epoch {trainer.current_epoch + 1}/{total}")

    return EpochBar()


def number(value: Any, key: str = "") -> str:
    """A metric for people: 4 significant digits; percentages (TAO's acc/fpr KPIs) with a % sign."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    text = f"{value:.4g}"
    return f"{text}%" if key in _PERCENT else text


def epoch_line(epoch: int, max_epochs: int | None, kpi: Mapping[str, Any], eta: str | None = None) -> str:
    """``Epoch 3/10: train_loss 0.1234, val_loss ..., val_roc_auc 0.9876, val_far_at_target 1.2% (eta 0:01:05)``
    for 0-based ``epoch``."""
    total = f"/{max_epochs}" if max_epochs else ""
    shown = ", ".join(f"{k} {number(kpi[k], k)}" for k in _SHOWN if k in kpi)
    return f"Epoch {epoch + 1}{total}" + (f": {shown}" if shown else "") + (f" (eta {eta})" if eta else "")
