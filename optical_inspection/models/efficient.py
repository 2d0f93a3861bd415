"""``Siamese_Efficient``: a small, fast, localisation-aware Siamese tower (embedded trainer only).

Design (same interface as TAO's networks: ``forward(x1, x2) -> (emb1, emb2)``, Euclidean distance, contrastive
loss, the same ONNX bindings):

1. The concatenated input (B, 3, rows*h, cols*w) is unfolded into its light tiles and the lights are stacked as
   channels, (B, 3*n, h, w): every light of a pixel is seen together, whatever ``concat_type``.
2. Each channel is standardised per sample (mean 0, std 1 over the tile): board-to-board lighting gain and offset
   drift cancel before any weight sees it.
3. A strided conv tower (BatchNorm + ReLU, stride 2 three times) gives a feature map at 1/8 resolution; a 1x1 conv
   maps it to ``embedding_vectors`` channels.
4. Spatial embedding: the map is average-pooled onto a coarse ``grid`` x ``grid`` layout and flattened, so the
   embedding has ``embedding_vectors * grid * grid`` values and a local defect moves the cells it falls in (a
   global pool would wash it out), while pooling over cells of several pixels absorbs registration error.

Both branches run in one batched pass; in train mode BatchNorm uses the joint statistics of both branches.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["SiameseEfficient"]


def _block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class SiameseEfficient(nn.Module):
    """Light-stacked strided conv tower with a coarse spatial embedding grid."""

    def __init__(
        self,
        tile_height: int,
        tile_width: int,
        num_lights: int = 4,
        rows: int | None = None,
        cols: int = 1,
        embedding_vectors: int = 5,
        width: int = 32,
        grid: int = 4,
    ) -> None:
        super().__init__()
        self.tile_height, self.tile_width = int(tile_height), int(tile_width)
        self.rows = int(rows if rows is not None else num_lights)
        self.cols = int(cols)
        self.num_lights = self.rows * self.cols
        self.grid = int(grid)
        c_in = 3 * self.num_lights
        self.tower = nn.Sequential(
            *_block(c_in, width, 1),
            *_block(width, width, 2),
            *_block(width, 2 * width, 2),
            *_block(2 * width, 2 * width, 2),
            nn.Conv2d(2 * width, embedding_vectors, 1),
        )
        self.embedding_size = embedding_vectors * self.grid * self.grid

    def _stack_lights(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, rows*h, cols*w) -> (B, 3*rows*cols, h, w), lights in row-major tile order."""
        b = x.shape[0]
        x = x.reshape(b, 3, self.rows, self.tile_height, self.cols, self.tile_width)
        return x.permute(0, 2, 4, 1, 3, 5).reshape(b, 3 * self.num_lights, self.tile_height, self.tile_width)

    def forward_once(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding (B, embedding_vectors * grid^2) of one batch of inputs."""
        x = self._stack_lights(x)
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = x.std(dim=(2, 3), keepdim=True)
        x = (x - mean) / (std + 1e-3)
        features = self.tower(x)
        return torch.flatten(F.adaptive_avg_pool2d(features, self.grid), 1)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.forward_once(torch.cat([x1, x2], dim=0))
        return emb[: x1.shape[0]], emb[x1.shape[0] :]
