"""Checkpoint files: names, atomic writes, the ``oi_model_latest.pth`` link, safe loading and weight transfer.

A checkpoint is a dict of tensors and primitives only (loads with ``torch.load(weights_only=True)``):
``state_dict`` (keys prefixed ``model.`` as in TAO's Lightning checkpoints), ``epoch``, ``global_step``,
``optimizer_states``, ``loops`` (Lightning's progress, for resuming), ``hyper_parameters`` (plain dict: the
architecture and the spec), ``threshold`` (calibrated decision threshold or None), ``run_id``.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optical_inspection.errors import UserError

__all__ = [
    "LATEST_LINK",
    "checkpoint_name",
    "save_checkpoint",
    "load_checkpoint",
    "update_latest_link",
    "find_resume_checkpoint",
    "extract_state_dict",
    "load_weights",
    "new_run_id",
    "CHECKPOINT_PATTERN",
    "remove_stale_temp_files",
]

LATEST_LINK = "oi_model_latest.pth"
CHECKPOINT_PATTERN = re.compile(r"^model_epoch_(\d{3,})_step_(\d{5,})\.pth$")
#: ``.<name>.<pid>.tmp``: what :func:`save_checkpoint` and :func:`update_latest_link` write before the rename.
_TEMP_PATTERN = re.compile(r"^\.(?P<name>.+\.pth)\.(?P<pid>\d+)\.tmp$")
_PRIMITIVES = (str, int, float, bool, type(None))


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def checkpoint_name(epoch: int, step: int) -> str:
    """``model_epoch_<EEE>_step_<SSSSS>.pth`` (0-based epoch)."""
    return f"model_epoch_{epoch:03d}_step_{step:05d}.pth"


def _check_plain(value: Any, where: str = "checkpoint") -> None:
    """Refuse anything but tensors, primitives and containers of them (weights_only loadable)."""
    if isinstance(value, (torch.Tensor, _PRIMITIVES)):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, _PRIMITIVES):
                raise TypeError(f"{where}: key {key!r} is not a primitive")
            _check_plain(item, f"{where}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    raise TypeError(f"{where} holds a {type(value).__name__}; checkpoints hold only tensors and primitives")


def save_checkpoint(checkpoint: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write atomically (tmp file + ``os.replace``); refuse to replace a file written by a different run."""
    path = Path(path)
    _check_plain(checkpoint)
    if path.exists() and not path.is_symlink():
        other = _peek_run_id(path)
        if other is not None and other != checkpoint.get("run_id"):
            raise UserError(
                f"{path} already exists and belongs to another training run (run_id {other}); it is not overwritten. "
                "Use a new results_dir, or resume that run (train.resume_training_checkpoint_path)."
            )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _peek_run_id(path: Path) -> str | None:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # an unreadable file is not ours to judge here; keep it
        return "unreadable"
    return data.get("run_id") if isinstance(data, dict) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(results_dir: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary checkpoint files and links of writers that died before renaming them (a run killed
    during a save); files of a process still alive are left alone. Returns what was removed."""
    removed = []
    folder = Path(results_dir)
    for path in folder.glob(".*.tmp") if folder.is_dir() else ():
        match = _TEMP_PATTERN.match(path.name)
        if match and int(match["pid"]) != os.getpid() and not _alive(int(match["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def update_latest_link(results_dir: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Point ``results_dir/oi_model_latest.pth`` at ``target`` with a RELATIVE symlink, atomically."""
    results_dir = Path(results_dir)
    link = results_dir / LATEST_LINK
    tmp = results_dir / f".{LATEST_LINK}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(Path(target), results_dir), tmp)
    os.replace(tmp, link)
    return link


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` on CPU, with a clear error for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Checkpoint {path} not found; check the path (a .pth file written by train).")
    try:
        data = _load_weights_only(path)
    except Exception as exc:
        raise UserError(
            f"Checkpoint {path} cannot be loaded safely ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
            "Only tensors and primitives are accepted (torch.load weights_only=True); re-save it as a state dict."
        ) from None
    if not isinstance(data, dict):
        raise UserError(f"Checkpoint {path} holds a {type(data).__name__}, not a dict of weights.")
    return data


#: Data-only classes TAO's Lightning checkpoints hold in ``hyper_parameters`` (its OmegaConf experiment spec).
_TAO_SPEC_GLOBALS = {
    "omegaconf.dictconfig.DictConfig",
    "omegaconf.listconfig.ListConfig",
    "omegaconf.base.ContainerMetadata",
    "omegaconf.base.Metadata",
    "omegaconf.nodes.AnyNode",
    "omegaconf.nodes.StringNode",
    "omegaconf.nodes.IntegerNode",
    "omegaconf.nodes.FloatNode",
    "omegaconf.nodes.BooleanNode",
    "typing.Any",
    "collections.defaultdict",
    "builtins.dict",
    "builtins.list",
    "builtins.int",
    "builtins.float",
    "builtins.str",
    "builtins.bool",
}


def _load_weights_only(path: Path) -> Any:
    """``torch.load(weights_only=True)``; a TAO checkpoint's OmegaConf spec is allowed through an explicit
    allow-list of data-only classes (nothing else: any other global still fails)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        needed = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
        if not needed or not needed <= _TAO_SPEC_GLOBALS:
            raise
    import importlib

    allowed = []
    for name in sorted(needed):
        module, _, attr = name.rpartition(".")
        allowed.append(getattr(importlib.import_module(module), attr))
    with torch.serialization.safe_globals(allowed):
        return torch.load(path, map_location="cpu", weights_only=True)


def find_resume_checkpoint(results_dir: Path, explicit: str | None) -> Path | None:
    """``explicit`` when given (must exist), else ``results_dir/oi_model_latest.pth`` when it resolves."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise UserError(
                f"train.resume_training_checkpoint_path {path} does not exist; give an existing checkpoint or clear it."
            )
        return path
    link = results_dir / LATEST_LINK
    return link.resolve() if link.is_file() else None


def extract_state_dict(data: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The model weights of a TAO/Lightning checkpoint (``state_dict`` with ``model.`` prefix), ours, or a plain
    state dict; returned without the ``model.`` prefix."""
    state = data.get("state_dict", data.get("model", data))
    if not isinstance(state, dict):
        raise UserError("The checkpoint holds no state dict (expected a 'state_dict' entry or a dict of tensors).")
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if tensors and all(k.startswith("model.") for k in tensors):
        tensors = {k[len("model.") :]: v for k, v in tensors.items()}
    return tensors


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` strictly; on a mismatch raise a :class:`UserError` listing the differing keys and shapes."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [
        (k, tuple(state[k].shape), tuple(own[k].shape)) for k in own if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or mismatched:
        parts = []
        if mismatched:
            shown = "; ".join(f"{k}: checkpoint {a} vs model {b}" for k, a, b in mismatched[:8])
            parts.append(f"{len(mismatched)} shape mismatch(es): {shown}" + (" ..." if len(mismatched) > 8 else ""))
        if missing:
            parts.append(f"{len(missing)} key(s) missing from the checkpoint: {', '.join(missing[:8])}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {', '.join(unexpected[:8])}")
        raise UserError(
            f"Weights in {source} do not fit the model ({'; '.join(parts)}). Check model.model_type, "
            "model.embedding_vectors, dataset.num_input, dataset.image_height/image_width and concat_type: they must "
            "match the ones the checkpoint was trained with."
        )
    model.load_state_dict(state, strict=True)
