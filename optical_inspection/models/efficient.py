"""``Siamese_Efficient``: a small, fast, localisation-aware Siamese tower (embedded trainer only).

Design (same interface as TAO's networks: ``forward(x1, x2) -> (emb1, emb2)``, Euclidean distance, contrastive
loss, the same ONNX bindings):

1. The concatenated input (B, 3, rows*h, cols*w) is unfolded into its light tiles and the lights are stacked as
   channels, (B, 3*n, h, w): every light of a pixel is seen together, whatever ``concat_type``.
2. Each channel is standardised per sample (mean 0, std 1 over the tile): board-to-board lighting gain and offset
   drift cancel before any weight sees it.
3. A strided conv tower (3x3 convs with BatchNorm + ReLU, strides 1, 2, 2, 2) gives a feature map at 1/8
   resolution; a 1x1 conv maps it to ``cell_channels`` channels (default ``max(embedding_vectors, 16)``: TAO's
   default of 5 values is too few per cell).
4. Spatial embedding: the map is average-pooled onto a coarse ``grid`` x ``grid`` layout (fewer cells when the map
   is smaller) and flattened, so the embedding has ``cell_channels * grid * grid`` values and a local defect
   moves the cells it falls in (a global pool would wash it out), while pooling over cells of several pixels
   absorbs registration error.

Both branches run in one batched pass; in train mode BatchNorm uses the joint statistics of both branches. About
69 k parameters whatever the input size (Siamese_3 at TAO's defaults: 268.7 M).
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
        cell_channels: int | None = None,
    ) -> None:
        super().__init__()
        cell_channels = int(cell_channels or max(int(embedding_vectors), 16))
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
            nn.Conv2d(2 * width, cell_channels, 1),
        )
        # Static pooling geometry (ONNX-friendly): the 1/8 map is padded to a multiple of the grid, then averaged.
        fh, fw = self._feature_size(self.tile_height), self._feature_size(self.tile_width)
        self.grid_h, self.grid_w = min(self.grid, fh), min(self.grid, fw)
        self._pad = (0, -fw % self.grid_w, 0, -fh % self.grid_h)
        self._cell = ((fh + self._pad[3]) // self.grid_h, (fw + self._pad[1]) // self.grid_w)
        self.embedding_size = cell_channels * self.grid_h * self.grid_w

    @staticmethod
    def _feature_size(size: int) -> int:
        for _ in range(3):  # three stride-2 convs with padding 1
            size = (size - 1) // 2 + 1
        return size

    def _stack_lights(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, rows*h, cols*w) -> (B, 3*rows*cols, h, w), lights in row-major tile order."""
        b = x.shape[0]
        x = x.reshape(b, 3, self.rows, self.tile_height, self.cols, self.tile_width)
        return x.permute(0, 2, 4, 1, 3, 5).reshape(b, 3 * self.num_lights, self.tile_height, self.tile_width)

    def forward_once(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding (B, cell_channels * grid^2) of one batch of inputs."""
        x = self._stack_lights(x)
        mean = x.mean(dim=(2, 3), keepdim=True)
        centred = x - mean
        std = torch.sqrt(centred.pow(2).mean(dim=(2, 3), keepdim=True))
        x = centred / (std + 1e-3)
        features = self.tower(x)
        if any(self._pad):
            features = F.pad(features, self._pad, mode="replicate")
        return torch.flatten(F.avg_pool2d(features, self._cell, self._cell), 1)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.forward_once(torch.cat([x1, x2], dim=0))
        return emb[: x1.shape[0]], emb[x1.shape[0] :]
