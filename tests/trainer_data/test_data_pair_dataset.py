"""Pair images: path building, concat shapes, normalisation, missing/unreadable images, tile cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from optical_inspection.data import DatasetError, PairDataset, build_dataset, input_shape

LIGHTS = ("LowAngleLight", "SolderLight", "UniformLight", "WhiteLight")
ROWS = [
    {"input_path": "b1", "golden_path": "golden/p", "label": "PASS", "object_name": "C1@1", "note": "a"},
    {"input_path": "b2", "golden_path": "golden/p", "label": "bridge", "object_name": "C1@1", "note": "b"},
    {"input_path": "b2", "golden_path": "golden/p", "label": "PASS", "object_name": "R2@1", "note": "c"},
]


def test_paths_follow_input_map_key_order(tmp_path: Path, make_cfg, write_pairs) -> None:
    csv_path = write_pairs(tmp_path, ROWS)
    input_map = {"WhiteLight": 0, "LowAngleLight": 3, "SolderLight": 1, "UniformLight": 2}  # values ignored
    ds = build_dataset(make_cfg(csv_path, tmp_path / "images", input_map=input_map), "test", train=False)
    test_paths, golden_paths = ds.tile_paths(1)
    root = tmp_path / "images"
    assert test_paths == [root / "b2" / f"C1@1_{light}.png" for light in input_map]
    assert golden_paths == [root / "golden" / "p" / f"C1@1_{light}.png" for light in input_map]


def test_no_input_map_means_one_unsuffixed_image(tmp_path: Path, make_cfg, write_pairs) -> None:
    csv_path = write_pairs(tmp_path, ROWS, lights=None, ext=".jpg")
    cfg = make_cfg(csv_path, tmp_path / "images", input_map=None, num_input=1, image_ext=".jpg")
    ds = build_dataset(cfg, "test", train=False)
    assert ds.tile_paths(0) == ([tmp_path / "images/b1/C1@1.jpg"], [tmp_path / "images/golden/p/C1@1.jpg"])
    test, golden, label, index = ds[0]
    assert test.shape == golden.shape == (3, 32, 32) == input_shape(cfg)


def test_num_input_must_match_lights(tmp_path: Path, make_cfg, write_pairs) -> None:
    csv_path = write_pairs(tmp_path, ROWS)
    with pytest.raises(DatasetError, match="num_input is 3 but dataset.input_map has 4 light"):
        build_dataset(make_cfg(csv_path, tmp_path / "images", num_input=3), "train", train=False)


def test_linear_concat_stacks_lights_down_in_order(tmp_path: Path, make_cfg, write_pairs) -> None:
    csv_path = write_pairs(tmp_path, ROWS)
    cfg = make_cfg(csv_path, tmp_path / "images", size=4)
    cfg.dataset.augmentation_config.rgb_input_mean = [0.0, 0.0, 0.0]
    cfg.dataset.augmentation_config.rgb_input_std = [1.0, 1.0, 1.0]
    ds = build_dataset(cfg, "validation", train=False)
    test, golden, label, index = ds[1]
    assert test.shape == (3, 16, 4) and input_shape(cfg) == (3, 16, 4)
    assert label.dtype == torch.float32 and label.shape == () and float(label) == 1.0 and index == 1
    tests, goldens = ds.tile_paths(1)
    for k, (tpath, gpath) in enumerate(zip(tests, goldens, strict=True)):
        from PIL import Image

        expected_t = np.asarray(Image.open(tpath))[0, 0, 0] / 255.0
        expected_g = np.asarray(Image.open(gpath))[0, 0, 0] / 255.0
        assert torch.allclose(test[:, 4 * k : 4 * (k + 1)], torch.tensor(expected_t, dtype=torch.float32))
        assert torch.allclose(golden[:, 4 * k : 4 * (k + 1)], torch.tensor(expected_g, dtype=torch.float32))


def test_grid_concat_puts_x_across_y_down(tmp_path: Path, make_cfg, write_pairs) -> None:
    csv_path = write_pairs(tmp_path, ROWS)
    cfg = make_cfg(csv_path, tmp_path / "images", size=4, concat_type="grid", grid_map={"x": 2, "y": 2})
    cfg.dataset.augmentation_config.rgb_input_mean = [0.0, 0.0, 0.0]
    cfg.dataset.augmentation_config.rgb_input_std = [1.0, 1.0, 1.0]
    ds = build_dataset(cfg, "test", train=False)
    test, _, _, _ = ds[0]
    assert test.shape == (3, 8, 8) == input_shape(cfg)
    linear = build_dataset(make_cfg(csv_path, tmp_path / "images", size=4), "test", train=False)
    lin = linear[0][0] * torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1) + torch.tensor([0.485, 0.456, 0.406]).view(
        3, 1, 1
    )
    tiles = [lin[:, 4 * k : 4 * (k + 1)] for k in range(4)]
    assert torch.allclose(test[:, :4, :4], tiles[0], atol=1e-5)
    assert torch.allclose(test[:, :4, 4:], tiles[1], atol=1e-5)
    assert torch.allclose(test[:, 4:, :4], tiles[2], atol=1e-5)
    assert torch.allclose(test[:, 4:, 4:], tiles[3], atol=1e-5)
    cfg.dataset.grid_map = {"x": 3, "y": 2}
    with pytest.raises(DatasetError, match="x\\*y == 4"):
        input_shape(cfg)


def test_normalisation_uses_rgb_mean_and_std(tmp_path: Path, make_cfg, write_pairs) -> None:
    csv_path = write_pairs(tmp_path, ROWS)
    cfg = make_cfg(csv_path, tmp_path / "images", size=4)
    cfg.dataset.augmentation_config.rgb_input_mean = [0.5, 0.25, 0.0]
    cfg.dataset.augmentation_config.rgb_input_std = [0.5, 0.25, 2.0]
    ds = build_dataset(cfg, "test", train=False)
    raw = 10 / 255.0  # first tile written by write_pairs has value 10
    test = ds[0][0]
    expected = torch.tensor([(raw - 0.5) / 0.5, (raw - 0.25) / 0.25, raw / 2.0])
    assert torch.allclose(test[:, 0, 0], expected, atol=1e-6)


def test_real_images_resize_bilinear_to_configured_size(small_synth, make_cfg) -> None:
    cfg = make_cfg(small_synth.csv_path, small_synth.images_dir, size=16, image_ext=".jpg")
    cfg.dataset.image_width = 24
    test, golden, _, _ = build_dataset(cfg, "infer", train=False)[0]
    assert test.shape == (3, 64, 24) and torch.isfinite(test).all()
    assert -3 < float(test.min()) < float(test.max()) < 3


def test_missing_image_names_row_column_and_path(tmp_path: Path, make_cfg, write_pairs) -> None:
    csv_path = write_pairs(tmp_path, ROWS)
    missing = tmp_path / "images" / "b2" / "R2@1_SolderLight.png"
    missing.unlink()
    with pytest.raises(DatasetError) as info:
        build_dataset(make_cfg(csv_path, tmp_path / "images"), "train", train=False)
    message = str(info.value)
    assert "row 4, column input_path" in message and str(missing) in message
    assert "1 of" in message


def test_wrapper_folder_hint(tmp_path: Path, make_cfg, write_pairs) -> None:
    csv_path = write_pairs(tmp_path / "images", ROWS)  # images end up in tmp/images/images
    with pytest.raises(DatasetError, match="set images_dir to that folder"):
        build_dataset(make_cfg(csv_path, tmp_path / "images"), "train", train=False)


def test_unreadable_image_names_row_and_path(tmp_path: Path, make_cfg, write_pairs) -> None:
    csv_path = write_pairs(tmp_path, ROWS)
    broken = tmp_path / "images" / "golden" / "p" / "R2@1_WhiteLight.png"
    broken.write_bytes(b"not an image")
    ds = build_dataset(make_cfg(csv_path, tmp_path / "images"), "test", train=False)
    ds[0]
    with pytest.raises(DatasetError) as info:
        ds[2]
    assert "row 4, column golden_path: image unreadable" in str(info.value) and str(broken) in str(info.value)


def test_unset_split_paths_error(tmp_path: Path, make_cfg) -> None:
    cfg = make_cfg("x.csv", "imgs")
    cfg.dataset.infer_dataset.csv_path = None
    with pytest.raises(DatasetError, match="dataset.infer_dataset.csv_path is not set"):
        build_dataset(cfg, "infer", train=False)


@pytest.mark.parametrize("kind", ["shared", "lru"])
def test_cache_decodes_each_tile_once_and_shares_goldens(tmp_path: Path, kind: str, make_cfg, write_pairs) -> None:
    csv_path = write_pairs(tmp_path, ROWS)
    ds = build_dataset(make_cfg(csv_path, tmp_path / "images"), "test", train=False, cache=kind)
    assert ds.cache.kind == kind
    unique = len(ds.paths)
    assert unique == (3 + 2) * len(LIGHTS)  # 3 test objects + 2 golden objects (C1 golden shared by two rows)
    first = [ds[i][0] for i in range(len(ds))]
    assert ds.cache.misses == unique and ds.cache.hits == len(LIGHTS)  # row 1 reuses row 0's golden tiles
    again = [ds[i][0] for i in range(len(ds))]
    assert ds.cache.misses == unique and ds.cache.hits == len(LIGHTS) + 2 * len(ds) * len(LIGHTS)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    uncached = build_dataset(make_cfg(csv_path, tmp_path / "images"), "test", train=False, cache="none")
    assert all(torch.equal(uncached[i][0], first[i]) for i in range(len(ds)))
    assert uncached.cache.hits == 0


def test_lru_cache_evicts_within_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_cfg, write_pairs) -> None:
    csv_path = write_pairs(tmp_path, ROWS)
    tile_bytes = 32 * 32 * 3
    monkeypatch.setenv("OI_LOADER_LRU_CACHE_MB", str(5 * tile_bytes / 2**20))
    ds = build_dataset(make_cfg(csv_path, tmp_path / "images"), "test", train=False, cache="lru")
    for i in range(len(ds)):
        ds[i]
    assert len(ds.cache) == 5 and ds.cache.nbytes == 5 * tile_bytes


def test_auto_cache_falls_back_to_lru_over_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_cfg, write_pairs
) -> None:
    csv_path = write_pairs(tmp_path, ROWS)
    monkeypatch.setenv("OI_LOADER_SHARED_CACHE_MB", "0.001")
    assert build_dataset(make_cfg(csv_path, tmp_path / "images"), "test", train=False).cache.kind == "lru"
    monkeypatch.delenv("OI_LOADER_SHARED_CACHE_MB")
    assert build_dataset(make_cfg(csv_path, tmp_path / "images"), "test", train=False).cache.kind == "shared"


def test_pair_dataset_is_a_torch_dataset(small_synth, make_cfg) -> None:
    ds = build_dataset(make_cfg(small_synth.csv_path, small_synth.images_dir, image_ext=".jpg"), "train", train=False)
    assert isinstance(ds, PairDataset) and isinstance(ds, torch.utils.data.Dataset)
    assert len(ds) == 24 and int(ds.table.labels.sum()) == 6


def test_grid_with_odd_light_count_falls_back_to_linear(tmp_path: Path, make_cfg, write_pairs, caplog) -> None:
    lights = ("A", "B", "C")
    csv_path = write_pairs(tmp_path, ROWS, lights=lights)
    cfg = make_cfg(
        csv_path, tmp_path / "images", size=4, concat_type="grid", num_input=3, input_map={k: 0 for k in lights}
    )
    assert input_shape(cfg) == (3, 12, 4)
    assert "odd; using linear concat" in caplog.text
    assert build_dataset(cfg, "test", train=False)[0][0].shape == (3, 12, 4)


def test_preload_fills_the_shared_cache(small_synth, make_cfg) -> None:
    cfg = make_cfg(small_synth.csv_path, small_synth.images_dir, image_ext=".jpg")
    ds = build_dataset(cfg, "test", train=False, cache="shared")
    assert ds.preload() == len(ds.paths) and ds.cache.filled == len(ds.paths)
    ds[5]
    assert ds.cache.misses == len(ds.paths) and ds.cache.hits == 8
    assert build_dataset(cfg, "test", train=False, cache="lru").preload() == 0


def test_batch_assembly_restores_the_torch_thread_count(small_synth, make_cfg) -> None:
    ds = build_dataset(make_cfg(small_synth.csv_path, small_synth.images_dir, image_ext=".jpg"), "test", train=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ds[0]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
