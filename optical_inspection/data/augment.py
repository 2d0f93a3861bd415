"""TAO's training augmentations for a (test, golden) pair, in torch (no torchvision), and two of our own.

Every random draw of TAO's augmentations is made once per pair and applied to all light tiles of both sides, so test
and golden stay aligned and see the same colour change (as TAO does). Ours change the TEST side only, as a real line
does: ``random_shift`` (registration error: the test image shifted by up to ``max_pixels``, edges replicated) and
``random_drift`` (lighting drift: brightness offset, contrast change and Gaussian sensor noise); both after TAO's.
Tiles are float (n, 3, H, W) in [0, 1], before normalisation. Order as in TAO: flip, rotate, crop, blur, colour.
Where TAO is inconsistent we do what the key says: ``color_probability`` is the probability of applying the jitter
(TAO applies it with 1 - p), and the rotation angle is drawn from the whole ``angle_list`` (TAO only ever uses its
first three entries). Tiles come from the same bilinear-resized cache as evaluation (TAO re-resizes bicubically when
augmenting), and the random crop keeps 80-100% of the area (TAO's 80-120% falls back to a centre crop above 100%).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from optical_inspection.data.seeds import derived_generator

__all__ = ["PairAugmenter", "rgb_to_hsv", "hsv_to_rgb"]

_CROP_AREA = (0.8, 1.0)  # fraction of the tile area kept by the random crop, then resized back
_MAX_BLUR_SIGMA = 1.0
_GRAY = (0.299, 0.587, 0.114)


class PairAugmenter:
    """Random flip, rotate, crop, blur and colour jitter from ``dataset.augmentation_config``."""

    def __init__(self, aug_cfg: Any, generator: torch.Generator | None = None, seed: int | None = None) -> None:
        self.cfg = aug_cfg
        self.generator = generator
        self.seed = seed

    def reseed(self, key: bytes) -> None:
        """With a seed, draw the next pairs from a generator seeded by (seed, ``key``), e.g. a batch's row indices:
        the same batch is augmented alike in a worker or in the main process, in a run or in its resumption."""
        if self.seed is not None:
            self.generator = derived_generator(self.seed, "augment", key)

    def _rand(self) -> float:
        return float(torch.rand((), generator=self.generator))

    def _uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self._rand()

    def __call__(self, test: torch.Tensor, golden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment both sides identically; returns new tensors of the same shape and dtype.

        Float tiles are in [0, 1]; uint8 tiles (0..255) stay uint8 through flips and right-angle rotations (exact)
        and are rounded back to uint8 after the steps that need floats (as TAO's transforms on 8-bit images do).
        """
        n = test.shape[0]
        x = torch.cat([test, golden], dim=0)
        integer = not x.is_floating_point()
        cfg = self.cfg
        flip = cfg.random_flip
        if flip is not None and flip.enable:
            if self._rand() < flip.hflip_probability:
                x = x.flip(-1)
            if self._rand() < flip.vflip_probability:
                x = x.flip(-2)
        rotate = cfg.random_rotate
        if rotate is not None and rotate.enable and rotate.angle_list and self._rand() < rotate.rotate_probability:
            pick = int(torch.randint(len(rotate.angle_list), (), generator=self.generator))
            angle = float(rotate.angle_list[pick])
            x = rotate_tiles(x if _is_right_angle(angle, x) else _as_float(x), angle)
        if cfg.with_random_crop:
            x = self._crop(x)
        if cfg.with_random_blur:
            x = gaussian_blur(x, self._uniform(0.0, _MAX_BLUR_SIGMA))
        color = cfg.random_color
        if color is not None and color.enable and self._rand() < color.color_probability:
            x = self._jitter(_as_float(x), color)
        test, golden = x[:n], x[n:]
        shift = getattr(cfg, "random_shift", None)
        if shift is not None and shift.enable and shift.max_pixels > 0 and self._rand() < shift.probability:
            test = self._shift(test, int(shift.max_pixels))
        drift = getattr(cfg, "random_drift", None)
        if drift is not None and drift.enable and self._rand() < drift.probability:
            test = self._drift(_as_float(test), drift)
        if integer:
            test, golden = _as_uint8(test), _as_uint8(golden)
        return test, golden

    def _shift(self, x: torch.Tensor, max_pixels: int) -> torch.Tensor:
        """Shift (n, C, H, W) by a random (dx, dy) in [-max_pixels, max_pixels], replicating the edges."""
        h, w = x.shape[-2:]
        dx = int(torch.randint(-max_pixels, max_pixels + 1, (), generator=self.generator))
        dy = int(torch.randint(-max_pixels, max_pixels + 1, (), generator=self.generator))
        if dx == 0 and dy == 0:
            return x
        pad = (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0))
        padded = F.pad(_as_float(x) if not x.is_floating_point() else x, pad, mode="replicate")
        top, left = max(-dy, 0), max(-dx, 0)
        out = padded[..., top : top + h, left : left + w]
        return out if x.is_floating_point() else _as_uint8(out)

    def _drift(self, x: torch.Tensor, drift: Any) -> torch.Tensor:
        """Brightness offset, contrast change about the mean and Gaussian noise on float tiles in [0, 1]."""
        offset = self._uniform(-drift.brightness, drift.brightness)
        gain = self._uniform(1.0 - drift.contrast, 1.0 + drift.contrast)
        sigma = self._uniform(0.0, drift.noise)
        mean = x.mean(dim=(-3, -2, -1), keepdim=True)
        x = (x - mean) * gain + mean + offset
        if sigma > 0:
            x = x + sigma * torch.randn(x.shape, generator=self.generator, dtype=x.dtype)
        return x.clamp_(0.0, 1.0)

    def _crop(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        side = math.sqrt(self._uniform(*_CROP_AREA))
        ch, cw = max(1, round(h * side)), max(1, round(w * side))
        top = int(self._rand() * (h - ch + 1))
        left = int(self._rand() * (w - cw + 1))
        crop = x[..., top : top + ch, left : left + cw]
        if (ch, cw) == (h, w):
            return crop
        return F.interpolate(_as_float(crop), size=(h, w), mode="bilinear", align_corners=False)

    def _jitter(self, x: torch.Tensor, color: Any) -> torch.Tensor:
        b = self._uniform(max(0.0, 1 - color.brightness), 1 + color.brightness)
        c = self._uniform(max(0.0, 1 - color.contrast), 1 + color.contrast)
        s = self._uniform(max(0.0, 1 - color.saturation), 1 + color.saturation)
        hue = self._uniform(-color.hue, color.hue)
        x = (x * b).clamp(0, 1)
        mean = _grayscale(x).mean(dim=(-3, -2, -1), keepdim=True)
        x = ((x - mean) * c + mean).clamp(0, 1)
        gray = _grayscale(x)
        x = ((x - gray) * s + gray).clamp(0, 1)
        if hue:
            hsv = rgb_to_hsv(x)
            hsv[:, 0] = (hsv[:, 0] + hue) % 1.0
            x = hsv_to_rgb(hsv)
        return x


def _as_uint8(x: torch.Tensor) -> torch.Tensor:
    """float in [0, 1] -> uint8 0..255 (rounded); uint8 tensors as they are."""
    return x if not x.is_floating_point() else (x * 255.0).round_().clamp_(0, 255).to(torch.uint8)


def _as_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 in [0, 1]; float tensors as they are."""
    return x if x.is_floating_point() else x.float().div_(255.0)


def _is_right_angle(angle: float, x: torch.Tensor) -> bool:
    """Whether rotating ``x`` by ``angle`` is an exact quarter-turn that keeps its shape (no resampling)."""
    quarter = angle / 90.0
    return quarter == int(quarter) and (x.shape[-1] == x.shape[-2] or int(quarter) % 2 == 0)


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return _GRAY[0] * r + _GRAY[1] * g + _GRAY[2] * b


def rotate_tiles(x: torch.Tensor, angle: float) -> torch.Tensor:
    """Rotate (N, C, H, W) counter-clockwise by ``angle`` degrees about the centre, keeping the size (corners 0)."""
    h, w = x.shape[-2:]
    if _is_right_angle(angle, x):
        return torch.rot90(x, int(angle / 90.0) % 4, dims=(-2, -1)).contiguous()
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    # affine_grid maps output coords to input coords in normalised units; correct for the aspect ratio.
    matrix = torch.tensor([[cos, -sin * h / w, 0.0], [sin * w / h, cos, 0.0]], dtype=x.dtype)
    grid = F.affine_grid(matrix.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W); sigma below 0.1 px is a no-op (uint8 in: float out)."""
    if sigma < 0.1:
        return x
    x = _as_float(x)
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    n, c, h, w = x.shape
    flat = x.reshape(n * c, 1, h, w)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    return flat.reshape(n, c, h, w)


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> HSV with hue in [0, 1)."""
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    maxc, _ = x.max(dim=1)
    minc, _ = x.min(dim=1)
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    hue = torch.where(maxc == r, ((g - b) / safe) % 6, torch.where(maxc == g, (b - r) / safe + 2, (r - g) / safe + 4))
    hue = torch.where(delta > 0, hue / 6.0, torch.zeros_like(hue)) % 1.0
    sat = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), torch.zeros_like(maxc))
    return torch.stack([hue, sat, maxc], dim=1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_hsv`."""
    h, s, v = x[:, 0], x[:, 1], x[:, 2]
    k = torch.stack([(5 + h * 6) % 6, (3 + h * 6) % 6, (1 + h * 6) % 6], dim=1)
    v, s = v.unsqueeze(1), s.unsqueeze(1)
    return v - v * s * torch.clamp(torch.minimum(k, 4 - k), 0, 1)
