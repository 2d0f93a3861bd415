"""board_crops: defect crops centred on boxes, PASS crops away from every box, single- and multi-light."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from optical_inspection.tools._common import ToolError
from optical_inspection.tools.board_crops import convert_board_pairs


def _board(seed: int, size=(96, 160)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _overlap(row: dict[str, str], box: tuple[int, int, int, int]) -> bool:
    x1, y1, x2, y2 = (int(row[k]) for k in ("x1", "y1", "x2", "y2"))
    return x1 < box[2] and box[0] < x2 and y1 < box[3] and box[1] < y2


def test_single_light_crops(tmp_path: Path) -> None:
    golden, test = tmp_path / "golden", tmp_path / "test"
    golden.mkdir(), test.mkdir()
    boxes = {"b1": [(30, 20, 40, 28, "scratch"), (140, 80, 158, 95, "missing part")], "b2": []}
    for k, board in enumerate(boxes):
        Image.fromarray(_board(k)).save(golden / f"{board}.png")
        Image.fromarray(_board(k + 10)).save(test / f"{board}.png")
    (test / "b1.txt").write_text("# x1 y1 x2 y2 class\n30 20 40 28 scratch\n140,80,158,95,missing part\n")
    result = convert_board_pairs(golden, test, tmp_path / "out", crop_size=32, pass_per_board=6, image_ext=".png")
    rows = _rows(result.csv_path)
    assert (result.n_defect, result.n_pass) == (2, 12) and len(rows) == 14
    defects = [r for r in rows if r["label"] != "PASS"]
    assert [r["label"] for r in defects] == ["scratch", "missing part"]
    assert (defects[0]["x1"], defects[0]["y1"]) == ("19", "8")  # centred on the box
    assert (defects[1]["x1"], defects[1]["y1"]) == ("128", "64")  # pushed inside the 160x96 board
    for row in rows:
        if row["label"] == "PASS":
            assert not any(_overlap(row, box[:4]) for box in boxes[row["input_path"]])
        x, y = int(row["x1"]), int(row["y1"])
        crop = np.asarray(Image.open(result.images_dir / row["input_path"] / f"{row['object_name']}.png"))
        gold = np.asarray(Image.open(result.images_dir / row["golden_path"] / f"{row['object_name']}.png"))
        k = list(boxes).index(row["input_path"])
        assert np.array_equal(crop, _board(k + 10)[y : y + 32, x : x + 32])
        assert np.array_equal(gold, _board(k)[y : y + 32, x : x + 32])
        assert row["golden_path"] == f"golden/{row['input_path']}"


def test_multi_light_with_one_shared_golden(tmp_path: Path) -> None:
    golden, test = tmp_path / "golden", tmp_path / "test"
    golden.mkdir(), test.mkdir()
    lights = ["WhiteLight", "UniformLight"]
    for light in lights:
        Image.fromarray(_board(1)).save(golden / f"design_{light}.jpg")
        for board in ("p1", "p2"):
            Image.fromarray(_board(2)).save(test / f"{board}_{light}.jpg")
    (test / "p2.txt").write_text("10 10 20 20 bridge\n")
    result = convert_board_pairs(golden, test, tmp_path / "out", crop_size=24, pass_per_board=3, lights=lights)
    rows = _rows(result.csv_path)
    assert {r["input_path"] for r in rows} == {"p1", "p2"} and result.n_defect == 1
    for row in rows:
        for light in lights:
            assert (result.images_dir / row["input_path"] / f"{row['object_name']}_{light}.jpg").is_file()
            assert (result.images_dir / row["golden_path"] / f"{row['object_name']}_{light}.jpg").is_file()


def test_errors_and_cli(tmp_path: Path) -> None:
    golden, test = tmp_path / "golden", tmp_path / "test"
    golden.mkdir(), test.mkdir()
    Image.fromarray(_board(0)).save(golden / "b1.png")
    Image.fromarray(_board(1)).save(test / "b1.png")
    (test / "b1.txt").write_text("10 10 5 20 bridge\n")
    with pytest.raises(ToolError, match="b1.txt line 1"):
        convert_board_pairs(golden, test, tmp_path / "out", crop_size=32)
    assert not (tmp_path / "out" / "dataset.csv").exists()
    (test / "b1.txt").write_text("10 10 20 20 bridge\n")
    with pytest.raises(ToolError, match="smaller than crop_size 128"):
        convert_board_pairs(golden, test, tmp_path / "out")
    command = [sys.executable, "-m", "optical_inspection.tools.board_crops", str(golden), str(test)]
    done = subprocess.run(
        command + [str(tmp_path / "cli"), "--crop-size", "32", "--pass-per-board", "2"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "Wrote 3 crops (2 PASS, 1 defect)" in done.stdout
    bad = subprocess.run(command + [str(tmp_path / "cli2"), "--image-ext", "gif"], capture_output=True, text=True)
    assert bad.returncode == 2 and "board_crops: error: image_ext" in bad.stderr and "Traceback" not in bad.stderr
