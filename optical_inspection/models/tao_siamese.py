"""TAO's Siamese networks with TAO's module structure, so state dicts load both ways.

Tower ``cnn1`` (shared): 3 x [ReflectionPad2d(1), Conv3x3, ReLU, BatchNorm2d], channels 3 -> 4 -> 8 -> 8, keys
``cnn1.{1,3,5,7,9,11}.*``. Head ``fc1`` on the flattened 8 x H' x W' map:

- ``Siamese_3``: Linear(-> 512), ReLU, BatchNorm1d, Linear(512 -> 512), ReLU, BatchNorm1d, Linear(512 -> emb);
  keys ``fc1.{0,2,3,5,6}.*``.
- ``Siamese``: Linear(-> 500), ReLU, Linear(500 -> 500), ReLU, Linear(500 -> emb); keys ``fc1.{0,2,4}.*``.

Both branches run in ONE batched pass (the two inputs are concatenated on the batch axis), so the large first
Linear is read once and its gradient accumulated once. BatchNorm choice in train mode: the statistics are the
JOINT statistics of both branches' batch (2B samples), whereas TAO computes them per branch (B samples each, and
updates the running statistics twice per step). In eval mode the running statistics are used and the outputs are
identical to TAO's (up to float rounding: the tower runs channels-last).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Siamese", "Siamese3", "tao_tower"]


def tao_tower() -> nn.Sequential:
    """TAO's shared conv tower (no pooling: the spatial size is kept)."""
    layers: list[nn.Module] = []
    for c_in, c_out in ((3, 4), (4, 8), (8, 8)):
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(c_in, c_out, kernel_size=3),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(c_out),
        ]
    return nn.Sequential(*layers)


class _TaoSiamese(nn.Module):
    """Shared tower + head; ``forward(x1, x2) -> (emb1, emb2)``."""

    fc1: nn.Sequential

    def __init__(self, input_height: int, input_width: int) -> None:
        super().__init__()
        # channels-last convolutions: the tower has 3-8 channels, for which oneDNN's NHWC kernels are faster on a CPU
        # (same weights and state-dict layout; a checkpoint loads whatever the strides)
        self.cnn1 = tao_tower().to(memory_format=torch.channels_last)
        self.input_height, self.input_width = int(input_height), int(input_width)
        self.flat_features = 8 * self.input_height * self.input_width

    def forward_once(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding of one batch of (B, 3, H', W') inputs."""
        features = self.cnn1(x.contiguous(memory_format=torch.channels_last))
        return self.fc1(torch.flatten(features, 1))  # flatten follows the logical (C, H, W) order, as TAO's

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.forward_once(torch.cat([x1, x2], dim=0))
        return emb[: x1.shape[0]], emb[x1.shape[0] :]


class Siamese3(_TaoSiamese):
    """TAO's ``Siamese_3`` (SiameseNetwork3): BatchNorm1d in the head, 512-wide."""

    def __init__(self, input_height: int, input_width: int, embedding_vectors: int = 5) -> None:
        super().__init__(input_height, input_width)
        self.fc1 = nn.Sequential(
            nn.Linear(self.flat_features, 512),
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(512),
            nn.Linear(512, 512),
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(512),
            nn.Linear(512, embedding_vectors),
        )


class Siamese(_TaoSiamese):
    """TAO's ``Siamese`` (SiameseNetwork1): no BatchNorm in the head, 500-wide."""

    def __init__(self, input_height: int, input_width: int, embedding_vectors: int = 5) -> None:
        super().__init__(input_height, input_width)
        self.fc1 = nn.Sequential(
            nn.Linear(self.flat_features, 500),
            nn.ReLU(inplace=True),
            nn.Linear(500, 500),
            nn.ReLU(inplace=True),
            nn.Linear(500, embedding_vectors),
        )
