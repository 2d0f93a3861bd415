"""``wandb`` spec section -> a Lightning ``WandbLogger`` (TAO's keys), or a clear error when it cannot run.

Online when the machine is logged in (``WANDB_API_KEY`` or a netrc entry for the W&B host) or ``WANDB_MODE`` says
so; otherwise offline into ``<results>/wandb``, with the ``wandb sync`` command to upload later (a training job must
not hang on a login prompt or an unreachable server). The API key is read by wandb itself from the environment and
never passes through the spec, logs or status lines.
"""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from typing import Any

from optical_inspection.errors import UserError

__all__ = ["build_wandb_logger", "wandb_mode"]

_log = logging.getLogger(__name__)
_HOST = "api.wandb.ai"


def _logged_in() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(_HOST) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_mode() -> str:
    """``WANDB_MODE`` when set, else online when logged in, else offline."""
    mode = os.environ.get("WANDB_MODE", "").strip().lower()
    if mode:
        return mode
    return "online" if _logged_in() else "offline"


def build_wandb_logger(wcfg: Any, results: Path, run_id: str) -> Any:
    """The WandbLogger for ``wandb.*`` (enable must be true); raises :class:`UserError` without the package."""
    try:
        import wandb  # noqa: F401
        from lightning.pytorch.loggers import WandbLogger
    except ImportError:
        raise UserError(
            "wandb.enable is true but the wandb package is not installed. Install it (pip install wandb, or the "
            "project's [wandb] extra) or set wandb.enable=false (TensorBoard: train.tensorboard.enabled=true)."
        ) from None
    mode = wandb_mode()
    save_dir = Path(results)  # wandb writes into save_dir/wandb
    settings: dict[str, Any] = {
        "project": wcfg.project or None,
        "name": wcfg.name or None,
        "id": wcfg.run_id or run_id,
        "save_dir": str(save_dir),
        "offline": mode == "offline",
        "entity": wcfg.entity or None,
        "group": wcfg.group or None,
        "tags": list(wcfg.tags or []),
        "save_code": bool(wcfg.save_code),
        "sync_tensorboard": bool(wcfg.sync_tensorboard),
    }
    if wcfg.reinit:
        settings["reinit"] = "create_new"
    if mode == "offline":
        where = save_dir / "wandb"
        _log.info("W&B: not logged in, logging offline under %s; upload later with: wandb sync --sync-all", where)
    return WandbLogger(**settings)
