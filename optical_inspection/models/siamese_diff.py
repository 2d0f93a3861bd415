"""``Siamese_Diff``: compares the feature maps of the golden and the test image, tolerating misregistration.

TAO's Siamese networks squeeze each image into a few numbers and compare those; a small defect then has to survive
the squeeze. This network compares where things are instead (embedded trainer only; same inputs as TAO's networks):

1. Lights are stacked as channels, (B, 3*n, h, w). Each channel goes in twice: standardised per image (mean 0,
   std 1), so that a change of lighting gain or offset between the golden and the test image cancels before any
   weight sees it, and as it is (normalised as the spec says), so that a change of level over the whole tile (a
   golden tile all copper, its test tile with a gap across it) still shows where the standardised view is flat.
2. A shared encoder (space-to-depth by 2, then 3x3 conv + BatchNorm + ReLU blocks) gives feature maps at 1/2 and
   1/4 of the tile size, in channels-last memory layout.
3. At each scale the two maps are compared both ways with a registration tolerance of ``tolerance`` pixels: a test
   feature counts as different only by how far it lies outside the range (per channel) of the golden features
   within the tolerance around the same place, and the other way round (extra material shows in one direction,
   missing material in the other). A shift of up to ``tolerance`` pixels therefore costs nothing, a defect does.
4. A small head reads the difference maps (1/4 scale) and pools them (max and mean over the map, so one local
   difference is enough) into one logit.

Output: the defect logit per pair. :func:`logit_to_score` turns it into the non-negative pair score the tools
report (``siamese_score``): ``softplus(logit) = -ln(1 - p)`` with ``p`` the defect probability, 0 for a pair that
looks identical, growing without bound (no float32 saturation) for clear defects. About 30 k parameters at the
default width, whatever the tile size.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["SiameseDiff", "logit_to_score", "score_to_probability"]


def logit_to_score(logit: torch.Tensor) -> torch.Tensor:
    """Pair score ``softplus(logit)`` = ``-ln(1 - p)``: monotone in the logit, >= 0, no saturation at the top."""
    return F.softplus(logit)


def score_to_probability(score: float) -> float:
    """Defect probability of a pair score: ``1 - exp(-score)``."""
    return -math.expm1(-float(score))


def _block(c_in: int, c_out: int, stride: int = 1, kernel: int = 3) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


def _outside(a: torch.Tensor, b: torch.Tensor, size: int) -> torch.Tensor:
    """How far each value of ``a`` lies outside the per-channel [min, max] of ``b`` over a ``size`` x ``size``
    neighbourhood (0 inside); ``size`` 1 is the plain absolute difference."""
    if size <= 1:
        return (a - b).abs()
    pad = size // 2
    high = F.max_pool2d(b, size, 1, pad)
    low = -F.max_pool2d(-b, size, 1, pad)
    return F.relu(a - high) + F.relu(low - a)


class SiameseDiff(nn.Module):
    """Shared encoder + registration-tolerant comparison of feature maps + pooling head -> one defect logit."""

    output = "logit"

    def __init__(
        self,
        tile_height: int,
        tile_width: int,
        rows: int = 1,
        cols: int = 1,
        width: int = 16,
        tolerance: int = 4,
    ) -> None:
        super().__init__()
        self.tile_height, self.tile_width = int(tile_height), int(tile_width)
        self.rows, self.cols = int(rows), int(cols)
        self.num_lights = self.rows * self.cols
        self.width, self.tolerance = int(width), int(tolerance)
        if self.width < 1 or self.tolerance < 0:
            raise ValueError(f"width must be >= 1 and tolerance >= 0, got {width} and {tolerance}")
        w = self.width
        # static padding to a multiple of 4 (ONNX-friendly): space-to-depth by 2, then one stride-2 stage
        self._pad = (0, -self.tile_width % 4, 0, -self.tile_height % 4)
        self.stage1 = nn.Sequential(*_block(4 * 2 * 3 * self.num_lights, w), *_block(w, w))
        self.stage2 = nn.Sequential(*_block(w, 2 * w, stride=2), *_block(2 * w, 2 * w))
        self.head = nn.Sequential(*_block(2 * w + 4 * w, 2 * w, kernel=1), *_block(2 * w, 2 * w, stride=2))
        self.classifier = nn.Linear(4 * w, 1)
        # neighbourhood sizes: the tolerance in feature cells at 1/2 and 1/4 scale, on both sides of the centre
        self.window1 = 2 * math.ceil(self.tolerance / 2) + 1
        self.window2 = 2 * math.ceil(self.tolerance / 4) + 1
        # channels-last: the neighbourhood max/min pools run about 3x faster on a CPU (a training step 2.5x)
        self.to(memory_format=torch.channels_last)

    def _stack_lights(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, rows*h, cols*w) -> (B, 3*rows*cols, h, w), lights in row-major tile order."""
        b = x.shape[0]
        x = x.reshape(b, 3, self.rows, self.tile_height, self.cols, self.tile_width)
        return x.permute(0, 2, 4, 1, 3, 5).reshape(b, 3 * self.num_lights, self.tile_height, self.tile_width)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature maps (1/2 and 1/4 scale) of a batch of inputs."""
        x = self._stack_lights(x)
        centred = x - x.mean(dim=(2, 3), keepdim=True)
        standardised = centred / (centred.pow(2).mean(dim=(2, 3), keepdim=True).sqrt() + 1e-3)
        x = torch.cat([standardised, x], dim=1)
        if any(self._pad):
            x = F.pad(x, self._pad, mode="replicate")
        half = self.stage1(F.pixel_unshuffle(x, 2).contiguous(memory_format=torch.channels_last))
        return half, self.stage2(half)

    def compare(
        self, test: tuple[torch.Tensor, torch.Tensor], golden: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """Defect logits (B,) from the feature maps of the test and the golden images."""
        (t1, t2), (g1, g2) = test, golden
        d1 = torch.cat([_outside(t1, g1, self.window1), _outside(g1, t1, self.window1)], dim=1)
        d2 = torch.cat([_outside(t2, g2, self.window2), _outside(g2, t2, self.window2)], dim=1)
        h = self.head(torch.cat([F.max_pool2d(d1, 2), d2], dim=1))
        pooled = torch.cat([h.amax(dim=(2, 3)), h.mean(dim=(2, 3))], dim=1)
        return self.classifier(pooled).squeeze(1)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """Defect logits (B,) of (test, golden) pairs; both images go through the encoder in one batch."""
        n = x1.shape[0]
        half, quarter = self.features(torch.cat([x1, x2], dim=0))
        return self.compare((half[:n], quarter[:n]), (half[n:], quarter[n:]))
