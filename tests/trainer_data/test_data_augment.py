"""Training augmentation: identical geometry on both images of a pair, TAO's switches respected."""

from __future__ import annotations

import torch

from optical_inspection.config import AugmentationConfig
from optical_inspection.data.augment import PairAugmenter, gaussian_blur, hsv_to_rgb, rgb_to_hsv, rotate_tiles


def _config(**switches) -> AugmentationConfig:
    aug = AugmentationConfig()
    aug.augment = True
    aug.random_flip.enable = switches.get("flip", False)
    aug.random_rotate.enable = switches.get("rotate", False)
    aug.random_color.enable = switches.get("color", False)
    aug.with_random_blur = switches.get("blur", False)
    aug.with_random_crop = switches.get("crop", False)
    aug.random_shift.enable = switches.get("shift", False)
    aug.random_drift.enable = switches.get("drift", False)
    return aug


def _pair(n: int = 4, size: int = 16) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(n, 3, size, size)


def test_same_geometric_transform_on_both_sides() -> None:
    base = _pair()
    aug = _config(flip=True, rotate=True, crop=True, blur=True, color=True)
    aug.random_flip.hflip_probability = aug.random_flip.vflip_probability = 0.5
    aug.random_rotate.rotate_probability = 0.9
    augmenter = PairAugmenter(aug, generator=torch.Generator().manual_seed(1))
    changed = 0
    for _ in range(20):
        test, golden = augmenter(base.clone(), base.clone())  # identical inputs must stay identical
        assert torch.allclose(test, golden)
        assert test.shape == base.shape and float(test.min()) >= 0.0 and float(test.max()) <= 1.0
        changed += not torch.allclose(test, base)
    assert changed >= 15


def test_geometry_moves_pixels_together() -> None:
    test = torch.zeros(2, 3, 8, 8)
    golden = torch.zeros(2, 3, 8, 8)
    test[:, :, 0, 1] = 1.0  # a mark near the top-left corner of the test tiles
    golden[:, :, 0, 1] = 0.5
    aug = _config(flip=True, rotate=True)
    aug.random_flip.hflip_probability = aug.random_flip.vflip_probability = 1.0
    aug.random_rotate.rotate_probability = 1.0
    aug.random_rotate.angle_list = [90.0]
    t, g = PairAugmenter(aug)(test, golden)
    expected = torch.rot90(torch.flip(test, dims=(-1, -2)), 1, dims=(-2, -1))
    assert torch.equal(t, expected)
    assert torch.equal((g > 0), (t > 0))


def test_switches_off_means_identity() -> None:
    base = _pair()
    t, g = PairAugmenter(_config())(base.clone(), base.clone() * 0.5)
    assert torch.equal(t, base) and torch.equal(g, base * 0.5)


def test_rotation_and_blur_helpers() -> None:
    x = _pair(1, 9)
    assert torch.allclose(rotate_tiles(x, 360.0), x)
    wide = torch.rand(1, 3, 6, 10)
    assert rotate_tiles(wide, 90.0).shape == wide.shape  # non-square: size kept, corners filled with 0
    assert torch.equal(gaussian_blur(x, 0.05), x)
    blurred = gaussian_blur(x, 1.0)
    assert float(blurred.std()) < float(x.std())
    assert torch.allclose(blurred.mean(), x.mean(), atol=0.05)


def test_hsv_round_trip() -> None:
    x = _pair(2, 8)
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(x)), x, atol=1e-5)


def test_uint8_tiles_follow_the_float_path_and_stay_uint8() -> None:
    """The dataset augments cached uint8 tiles: flips and right angles exact, float steps rounded back."""
    torch.manual_seed(3)
    tiles = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    for switches in (
        {"flip": True, "rotate": True},
        {"flip": True, "rotate": True, "crop": True, "blur": True, "color": True},
    ):
        aug = _config(**switches)
        aug.random_rotate.rotate_probability = aug.random_color.color_probability = 1.0
        as_int = PairAugmenter(aug, generator=torch.Generator().manual_seed(7))
        as_float = PairAugmenter(aug, generator=torch.Generator().manual_seed(7))
        for _ in range(5):
            t8, g8 = as_int(tiles, tiles)
            tf, _ = as_float(tiles.float() / 255.0, tiles.float() / 255.0)
            assert t8.dtype == torch.uint8 and torch.equal(t8, g8)
            diff = (t8.float() - tf * 255.0).abs().max()
            assert diff == 0 if len(switches) == 2 else diff <= 0.5 + 1e-3


def test_shift_and_drift_change_the_test_side_only() -> None:
    """Registration error and lighting drift happen to the test image on a real line: the golden side stays as it
    is, and a shift moves all lights of the test side together by whole pixels (edges replicated)."""
    tiles = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    aug = _config(shift=True)
    aug.random_shift.probability, aug.random_shift.max_pixels = 1.0, 3
    augmenter = PairAugmenter(aug, generator=torch.Generator().manual_seed(3))
    moved = 0
    for _ in range(6):
        test, golden = augmenter(tiles, tiles)
        assert torch.equal(golden, tiles) and test.dtype == torch.uint8
        found = [
            (dy, dx)
            for dy in range(-3, 4)
            for dx in range(-3, 4)
            if torch.equal(test[..., 3:13, 3:13], tiles[..., 3 - dy : 13 - dy, 3 - dx : 13 - dx])
        ]
        assert found, "the test side is a whole-pixel shift of the input, the same for every light"
        moved += found[0] != (0, 0)
    assert moved >= 3
    aug = _config(drift=True)
    aug.random_drift.probability = 1.0
    test, golden = PairAugmenter(aug, generator=torch.Generator().manual_seed(4))(tiles, tiles)
    assert torch.equal(golden, tiles) and not torch.equal(test, tiles) and test.dtype == torch.uint8
