"""``train.precision``: the arithmetic Lightning trains in.

``32`` (the default, as TAO) trains in float32. ``bf16-mixed`` runs the network's convolutions and matrix products in
bfloat16 while the weights, the optimiser, the loss and validation stay float32: on a CPU with native bfloat16
(AVX-512 BF16 or AMX) Siamese_Efficient then trains about 1.6x faster end to end, but in our held-out checks it
calibrated its threshold less reliably than float32 (see the SKILL's notes), so it is an opt-in. ``16-mixed`` is
float16 autocast with loss scaling, GPU only. Evaluation, inference and export are always float32.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from optical_inspection.errors import UserError

__all__ = ["describe", "native_bf16", "no_autocast", "resolve_precision"]

_LIGHTNING = {"32": "32-true", "bf16-mixed": "bf16-mixed", "16-mixed": "16-mixed"}
_NAMES = {"32-true": "float32", "bf16-mixed": "bfloat16 mixed", "16-mixed": "float16 mixed"}
_log = logging.getLogger(__name__)


def native_bf16(accelerator: str) -> bool:
    """Whether the device computes bfloat16 natively (emulated bfloat16 is slower than float32)."""
    if accelerator == "gpu":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(torch.backends.mkldnn.is_available() and probe is not None and probe())
    except RuntimeError:
        return False


def resolve_precision(requested: str, accelerator: str) -> str:
    """Lightning's precision value for ``train.precision`` = ``requested`` on ``accelerator`` (cpu or gpu)."""
    requested = str(requested)
    if requested not in _LIGHTNING:
        raise UserError(f"train.precision is {requested!r}; choose 32, bf16-mixed or 16-mixed.")
    if requested == "16-mixed" and accelerator != "gpu":
        raise UserError(
            "train.precision is 16-mixed, which needs a GPU (float16 autocast with loss scaling); on a CPU use "
            "bf16-mixed or 32."
        )
    if requested == "bf16-mixed" and not native_bf16(accelerator):
        _log.warning(
            "train.precision is bf16-mixed but this %s has no native bfloat16: training will be slower than with 32.",
            accelerator.upper(),
        )
    return _LIGHTNING[requested]


def describe(precision: str) -> str:
    """Human name of a Lightning precision value."""
    return _NAMES.get(precision, precision)


def no_autocast(device_type: str) -> Any:
    """Context that runs its block in float32 whatever autocast the trainer set up."""
    return torch.autocast(device_type=device_type, enabled=False)
