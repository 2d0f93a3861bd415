"""Pair scores and the training losses (y = 1 for a defect, 0 for PASS).

Every model gives one score per (test, golden) pair, higher = more likely a defect: the Euclidean distance of the
two embeddings for the embedding networks (TAO's ``Siamese``/``Siamese_3`` and ``Siamese_Efficient``), and
``softplus(logit)`` for ``Siamese_Diff``, which outputs a defect logit. Losses (``train.loss``):

- ``contrastive`` (TAO's, the default of the embedding networks): ``mean((1 - y) s^2 + y max(0, margin - s)^2)``
  on the pair score ``s``;
- ``bce`` (the default of ``Siamese_Diff``): binary cross-entropy on the logit;
- ``focal``: the focal loss (gamma 2) on the logit, which weighs the pairs the model still gets wrong.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "LOSSES",
    "ContrastiveLoss",
    "contrastive_loss",
    "focal_loss",
    "natural_threshold",
    "pair_distance",
    "pair_scores",
    "pair_loss",
    "resolve_loss",
]

LOSSES = ("contrastive", "bce", "focal")
#: Model types whose forward returns a defect logit per pair (the others return two embeddings).
LOGIT_MODELS = frozenset({"Siamese_Diff"})
_FOCAL_GAMMA = 2.0


def pair_distance(emb1: torch.Tensor, emb2: torch.Tensor) -> torch.Tensor:
    """Euclidean distance per pair, shape (B,) (``F.pairwise_distance``, eps 1e-6 as in TAO)."""
    return F.pairwise_distance(emb1, emb2)


def contrastive_loss(distance: torch.Tensor, label: torch.Tensor, margin: float) -> torch.Tensor:
    """``mean((1 - y) d^2 + y max(0, margin - d)^2)``: pulls PASS pairs together, pushes defects past ``margin``."""
    label = label.to(distance.dtype).view_as(distance)
    return torch.mean((1 - label) * distance.pow(2) + label * torch.clamp(margin - distance, min=0.0).pow(2))


def focal_loss(logit: torch.Tensor, label: torch.Tensor, gamma: float = _FOCAL_GAMMA) -> torch.Tensor:
    """Binary focal loss ``mean((1 - p_t)^gamma * BCE)`` on logits."""
    label = label.to(logit.dtype).view_as(logit)
    bce = F.binary_cross_entropy_with_logits(logit, label, reduction="none")
    p_t = torch.exp(-bce)
    return torch.mean((1 - p_t).pow(gamma) * bce)


class ContrastiveLoss(nn.Module):
    """Module form of :func:`contrastive_loss` taking the two embeddings."""

    def __init__(self, margin: float = 2.0) -> None:
        super().__init__()
        self.margin = float(margin)

    def forward(self, emb1: torch.Tensor, emb2: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return contrastive_loss(pair_distance(emb1, emb2), label, self.margin)


def resolve_loss(model_type: str, requested: str | None) -> str:
    """The loss a model trains with: ``train.loss`` when set, else the model's own (bce for a logit model,
    contrastive for an embedding network). Raises ValueError for a loss the model cannot use."""
    logit_model = model_type in LOGIT_MODELS
    if not requested:
        return "bce" if logit_model else "contrastive"
    if requested not in LOSSES:
        raise ValueError(f"train.loss is {requested!r}; choose one of {', '.join(LOSSES)} (or leave it empty).")
    if requested != "contrastive" and not logit_model:
        raise ValueError(
            f"train.loss {requested} needs a model that outputs a defect logit (Siamese_Diff); {model_type} outputs "
            "two embeddings and trains with the contrastive loss. Leave train.loss empty or set it to contrastive."
        )
    return requested


def natural_threshold(model_type: str, margin: float) -> float:
    """The decision threshold a model has before calibration: ``model.margin`` on the embedding distance (TAO's
    rule), probability 0.5 (score ``ln 2``) for a logit model."""
    return math.log(2.0) if model_type in LOGIT_MODELS else float(margin)


def pair_scores(output: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(scores (B,), logits or None) from a model's forward output: a logit tensor or an (emb1, emb2) pair."""
    if isinstance(output, torch.Tensor):
        logit = output.float()
        return F.softplus(logit), logit
    emb1, emb2 = output
    return pair_distance(emb1.float(), emb2.float()), None


def pair_loss(
    name: str, scores: torch.Tensor, logits: torch.Tensor | None, label: torch.Tensor, margin: float
) -> torch.Tensor:
    """The ``name`` loss of a batch (float32)."""
    if name == "contrastive":
        return contrastive_loss(scores, label, margin)
    if logits is None:
        raise ValueError(f"the {name} loss needs a model that outputs a defect logit")
    if name == "bce":
        return F.binary_cross_entropy_with_logits(logits, label.to(logits.dtype).view_as(logits))
    return focal_loss(logits, label)
