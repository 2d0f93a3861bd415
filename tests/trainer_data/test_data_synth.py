"""Synthetic dataset: TAO layout, shared goldens, labels, determinism, packaging, CLI."""

from __future__ import annotations

import csv
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from optical_inspection.tools._common import ToolError
from optical_inspection.tools.synth import DEFAULT_LIGHTS, DEFECT_KINDS, generate


def _rows(csv_path: Path) -> list[dict[str, str]]:
    with csv_path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_layout_labels_and_shared_goldens(small_synth) -> None:
    result = small_synth
    assert result.csv_path == result.root / "dataset.csv" and result.images_dir == result.root / "images"
    assert result.tarball is None and (result.n_pass, result.n_defect) == (18, 6)
    rows = _rows(result.csv_path)
    assert list(rows[0]) == ["input_path", "golden_path", "label", "object_name"]
    assert len(rows) == 24 and sum(r["label"] != "PASS" for r in rows) == 6
    assert {r["label"] for r in rows} - {"PASS"} <= set(DEFECT_KINDS)
    assert len({r["label"] for r in rows} - {"PASS"}) == 5  # 6 defects spread over the five kinds
    assert all(r["golden_path"].startswith("golden/") for r in rows)
    goldens = {(r["golden_path"], r["object_name"]) for r in rows}
    assert len(goldens) < len(rows)  # one golden per component position, shared by every board
    boards = {r["input_path"] for r in rows}
    assert len(boards) > 1 and all((result.images_dir / b).is_dir() for b in boards)
    for row in rows:
        for light in DEFAULT_LIGHTS:
            for column in ("input_path", "golden_path"):
                path = result.images_dir / row[column] / f"{row['object_name']}_{light}.jpg"
                with Image.open(path) as image:
                    assert image.size == (32, 32) and image.mode == "RGB"
    assert sorted(p.name for p in result.root.iterdir()) == ["dataset.csv", "images"]


def test_lights_render_differently_and_tests_differ_from_golden(small_synth) -> None:
    row = _rows(small_synth.csv_path)[0]
    golden = [
        np.asarray(Image.open(small_synth.images_dir / row["golden_path"] / f"{row['object_name']}_{light}.jpg"))
        for light in DEFAULT_LIGHTS
    ]
    test = np.asarray(
        Image.open(small_synth.images_dir / row["input_path"] / f"{row['object_name']}_LowAngleLight.jpg")
    )
    means = [float(g.mean()) for g in golden]
    assert len({round(m) for m in means}) == 4  # four distinct light renderings
    assert means[0] < means[3]  # low-angle light is darker than white light
    assert 0 < np.abs(test.astype(int) - golden[0].astype(int)).mean() < 40


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", pairs=10, image_size=24, seed=5, lights=("UniformLight", "Ring"), image_ext=".png")
    b = generate(tmp_path / "b", pairs=10, image_size=24, seed=5, lights=("UniformLight", "Ring"), image_ext=".png")
    c = generate(tmp_path / "c", pairs=10, image_size=24, seed=6, lights=("UniformLight", "Ring"), image_ext=".png")
    assert a.csv_path.read_bytes() == b.csv_path.read_bytes()
    files = sorted(p.relative_to(a.images_dir) for p in a.images_dir.rglob("*.png"))
    assert files and all((a.images_dir / f).read_bytes() == (b.images_dir / f).read_bytes() for f in files)
    assert any(
        (c.images_dir / f).is_file() and (a.images_dir / f).read_bytes() != (c.images_dir / f).read_bytes()
        for f in files
    )
    assert any(f.name.endswith("_Ring.png") for f in files)


@pytest.mark.parametrize("wrapper", [False, True])
def test_package_tarball_members_and_wrapper(tmp_path: Path, wrapper: bool) -> None:
    result = generate(tmp_path / "out", pairs=8, image_size=16, package=True, images_wrapper=wrapper)
    expected_root = tmp_path / "out" / "images" / "images" if wrapper else tmp_path / "out" / "images"
    assert result.images_dir == expected_root and (expected_root / "golden").is_dir()
    assert result.tarball == tmp_path / "out" / "images.tar.gz"
    with tarfile.open(result.tarball) as tar:
        names = tar.getnames()
        assert all(n.startswith("images/") for n in names)
        prefix = "images/images/" if wrapper else "images/"
        assert any(n.startswith(prefix + "golden/") for n in names)
        row = _rows(result.csv_path)[0]
        member = f"{prefix}{row['input_path']}/{row['object_name']}_WhiteLight.jpg"
        assert tar.extractfile(member).read() == (expected_root / member.removeprefix(prefix)).read_bytes()


def test_refuses_to_overwrite_and_rejects_bad_arguments(tmp_path: Path) -> None:
    generate(tmp_path / "out", pairs=4, image_size=16)
    before = (tmp_path / "out" / "dataset.csv").read_bytes()
    with pytest.raises(ToolError, match="already holds dataset.csv, images"):
        generate(tmp_path / "out", pairs=6, image_size=16, seed=9)
    assert (tmp_path / "out" / "dataset.csv").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dataset.csv", "images"]
    for kwargs, match in [
        ({"pairs": 0}, "pairs"),
        ({"defect_fraction": 1.5}, "defect_fraction"),
        ({"image_ext": "jpg"}, "with the dot"),
        ({"lights": ("A", "A")}, "distinct"),
        ({"image_size": 4}, "image_size"),
    ]:
        with pytest.raises(ToolError, match=match):
            generate(tmp_path / "bad", **kwargs)


def test_cli_in_a_real_subprocess(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "optical_inspection.tools.synth", str(tmp_path / "cli")]
    done = subprocess.run(command + ["--pairs", "6", "--image-size", "16", "--package"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Wrote 6 pairs" in done.stdout and (tmp_path / "cli" / "images.tar.gz").is_file()
    again = subprocess.run(command + ["--pairs", "6"], capture_output=True, text=True)
    assert again.returncode == 2 and "synth: error:" in again.stderr and "Traceback" not in again.stderr


def test_tools_do_not_import_torch() -> None:
    code = (
        "import sys, optical_inspection.tools.synth, optical_inspection.tools.board_crops, "
        "optical_inspection.tools.dataset_convert; assert 'torch' not in sys.modules, 'torch imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    pos, neg = scores[positive], scores[~positive]
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def _aligned_difference(test: np.ndarray, golden: np.ndarray, reach: int = 2) -> float:
    """Largest 3x3-averaged difference after the best shift within ``reach`` px and per-light gain/offset matching."""
    n = test.shape[1]
    crop = slice(reach, n - reach)

    def standardise(x: np.ndarray) -> np.ndarray:
        return (x - x.mean((1, 2), keepdims=True)) / (x.std((1, 2), keepdims=True) + 1e-3)

    g = standardise(golden[:, crop, crop])
    best = np.inf
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            t = standardise(test[:, reach + dy : n - reach + dy, reach + dx : n - reach + dx])
            d = np.pad(np.abs(t - g).mean(0), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
            local = d[3:, 3:] - d[:-3, 3:] - d[3:, :-3] + d[:-3, :-3]
            best = min(best, float(local.max()) / 9)
    return best


def test_defects_are_visible_but_registration_and_drift_are_not(tmp_path: Path) -> None:
    """A simple registration-compensated comparison separates defects from PASS rows almost perfectly, while a plain
    pixel difference does not: registration error and lighting drift dominate it (the task is not trivial)."""
    result = generate(tmp_path / "d", pairs=120, defect_fraction=0.3, image_size=48, seed=11)
    rows = _rows(result.csv_path)

    def load(folder: str, name: str) -> np.ndarray:
        return np.stack(
            [
                np.asarray(Image.open(result.images_dir / folder / f"{name}_{light}.jpg"), np.float32).mean(2)
                for light in DEFAULT_LIGHTS
            ]
        )

    pairs = [(load(r["input_path"], r["object_name"]), load(r["golden_path"], r["object_name"])) for r in rows]
    defect = np.array([r["label"] != "PASS" for r in rows])
    aligned = np.array([_aligned_difference(t, g) for t, g in pairs])
    plain = np.array([np.abs(t - g).mean() for t, g in pairs])
    assert _auc(aligned, defect) >= 0.97
    assert _auc(plain, defect) <= 0.85
