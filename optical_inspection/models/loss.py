"""Euclidean pair distance and the contrastive loss (y = 1 for a defect, 0 for PASS)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["pair_distance", "contrastive_loss", "ContrastiveLoss"]


def pair_distance(emb1: torch.Tensor, emb2: torch.Tensor) -> torch.Tensor:
    """Euclidean distance per pair, shape (B,) (``F.pairwise_distance``, eps 1e-6 as in TAO)."""
    return F.pairwise_distance(emb1, emb2)


def contrastive_loss(distance: torch.Tensor, label: torch.Tensor, margin: float) -> torch.Tensor:
    """``mean((1 - y) d^2 + y max(0, margin - d)^2)``: pulls PASS pairs together, pushes defects past ``margin``."""
    label = label.to(distance.dtype).view_as(distance)
    return torch.mean((1 - label) * distance.pow(2) + label * torch.clamp(margin - distance, min=0.0).pow(2))


class ContrastiveLoss(nn.Module):
    """Module form of :func:`contrastive_loss` taking the two embeddings."""

    def __init__(self, margin: float = 2.0) -> None:
        super().__init__()
        self.margin = float(margin)

    def forward(self, emb1: torch.Tensor, emb2: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return contrastive_loss(pair_distance(emb1, emb2), label, self.margin)
