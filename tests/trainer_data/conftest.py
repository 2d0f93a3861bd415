"""Fixtures of the data-side tests: tiny synthetic datasets (32x32) and configs pointing at them."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from optical_inspection.config import ExperimentConfig
from optical_inspection.tools.synth import SynthResult, generate

LIGHTS = ("LowAngleLight", "SolderLight", "UniformLight", "WhiteLight")


@pytest.fixture(scope="session")
def small_synth(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """24 pairs, 4 lights of 32x32, 25% defects; shared by read-only tests."""
    return generate(tmp_path_factory.mktemp("synth") / "ds", pairs=24, defect_fraction=0.25, image_size=32, seed=3)


def _make_cfg(csv_path: Path | str, images_dir: Path | str, *, size: int = 32, **dataset: object) -> ExperimentConfig:
    """A config whose four splits all point at one dataset (.png images); ``dataset`` overrides cfg.dataset keys."""
    cfg = ExperimentConfig()
    for split in ("train_dataset", "validation_dataset", "test_dataset", "infer_dataset"):
        section = getattr(cfg.dataset, split)
        section.csv_path, section.images_dir = str(csv_path), str(images_dir)
    cfg.dataset.image_height = cfg.dataset.image_width = size
    cfg.dataset.workers = 0
    cfg.dataset.image_ext = ".png"
    for key, value in dataset.items():
        setattr(cfg.dataset, key, value)
    return cfg


def _write_pairs(root: Path, rows: list[dict[str, str]], *, lights=LIGHTS, ext=".png", size=(8, 6)) -> Path:
    """Write a CSV and solid-colour images for ``rows``; pixel value = a counter, so every tile is distinct.

    Returns the CSV path; images go under ``root/images``.
    """
    images = root / "images"
    value = 10
    for row in rows:
        for column in ("input_path", "golden_path"):
            folder = images / row[column]
            folder.mkdir(parents=True, exist_ok=True)
            for light in lights or (None,):
                name = f"{row['object_name']}_{light}{ext}" if light else f"{row['object_name']}{ext}"
                if not (folder / name).exists():
                    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(folder / name)
                    value += 5
    csv_path = root / "dataset.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return csv_path


@pytest.fixture
def make_cfg():
    """Factory: ``make_cfg(csv_path, images_dir, size=32, **dataset_keys) -> ExperimentConfig``."""
    return _make_cfg


@pytest.fixture
def write_pairs():
    """Factory: ``write_pairs(root, rows, lights=LIGHTS, ext='.png') -> csv path`` (images under root/images)."""
    return _write_pairs
