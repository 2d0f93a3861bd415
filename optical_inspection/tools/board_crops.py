"""Cut aligned full-board (golden, test) image pairs with defect boxes into a TAO-ready component-crop dataset.

Input: ``test_dir/<board>.<ext>`` (single light) or ``test_dir/<board>_<Light>.<ext>`` (``lights`` given), a box
file ``test_dir/<board>.txt`` with one ``x1 y1 x2 y2 class`` per line (pixels; commas also accepted; ``#``
comments), and the aligned golden image(s) with the same name in ``golden_dir`` (or, when ``golden_dir`` holds a
single board, that one for every test board). A board without a box file has no defects.

Output (``out_dir``): ``images/<board>/`` and ``images/golden/<board>/`` crops named ``crop@<x>-<y>[_<Light>]<ext>``
and ``dataset.csv`` (TAO columns plus the crop box ``x1,y1,x2,y2``). Each defect box gives one crop centred on it
(shifted to stay inside the image), labelled with its class; ``pass_per_board`` PASS crops are sampled at random
(seeded) where they overlap no defect box.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from optical_inspection.tools._common import IMAGE_FORMATS, SynthResult, ToolError, staged_output, write_csv

__all__ = ["convert_board_pairs", "read_boxes", "DefectBox", "add_arguments", "main"]

_INPUT_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_COLUMNS = ("input_path", "golden_path", "label", "object_name", "x1", "y1", "x2", "y2")
_TRIES_PER_CROP = 200


@dataclass(frozen=True)
class DefectBox:
    """A defect box in board pixels (x2, y2 exclusive) and its class."""

    x1: int
    y1: int
    x2: int
    y2: int
    label: str

    def overlaps(self, x: int, y: int, size: int) -> bool:
        return x < self.x2 and self.x1 < x + size and y < self.y2 and self.y1 < y + size


def read_boxes(path: Path) -> list[DefectBox]:
    """Parse a box file; raise :class:`ToolError` naming the file and line of a malformed entry."""
    boxes = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].replace(",", " ").split()
        if not text:
            continue
        try:
            x1, y1, x2, y2 = (round(float(v)) for v in text[:4])
            label = " ".join(text[4:])
            if not label or x2 <= x1 or y2 <= y1:
                raise ValueError
        except ValueError:
            raise ToolError(
                f"{path} line {number}: expected 'x1 y1 x2 y2 class' with x2 > x1 and y2 > y1, got {line.strip()!r}."
            ) from None
        boxes.append(DefectBox(x1, y1, x2, y2, label))
    return boxes


def _find(folder: Path, stem: str) -> Path | None:
    for ext in _INPUT_EXTS:
        for candidate in (folder / f"{stem}{ext}", folder / f"{stem}{ext.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def _boards(test_dir: Path, lights: Sequence[str] | None) -> list[str]:
    stems = sorted({p.stem for p in test_dir.iterdir() if p.suffix.lower() in _INPUT_EXTS})
    if lights:
        first = f"_{lights[0]}"
        return sorted({s[: -len(first)] for s in stems if s.endswith(first)})
    return stems


def _load(folder: Path, board: str, lights: Sequence[str] | None, what: str) -> list[np.ndarray]:
    images = []
    for light in lights or (None,):
        stem = f"{board}_{light}" if light else board
        path = _find(folder, stem)
        if path is None:
            raise ToolError(f"{what} image {folder / stem}.<{'|'.join(e[1:] for e in _INPUT_EXTS)}> not found.")
        with Image.open(path) as image:
            images.append(np.asarray(image.convert("RGB")))
    return images


def _save(array: np.ndarray, path: Path) -> None:
    fmt = IMAGE_FORMATS[path.suffix.lower()]
    Image.fromarray(array).save(path, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))


def convert_board_pairs(
    golden_dir: str | Path,
    test_dir: str | Path,
    out_dir: str | Path,
    *,
    crop_size: int = 128,
    pass_per_board: int = 20,
    seed: int = 0,
    image_ext: str = ".jpg",
    lights: Sequence[str] | None = None,
) -> SynthResult:
    """Write crops and ``dataset.csv`` into ``out_dir``; returns paths and counts (tarball is None)."""
    golden_dir, test_dir, out = Path(golden_dir), Path(test_dir), Path(out_dir)
    for folder, what in ((golden_dir, "golden_dir"), (test_dir, "test_dir")):
        if not folder.is_dir():
            raise ToolError(f"{what} {folder} is not a folder.")
    if image_ext.lower() not in IMAGE_FORMATS:
        raise ToolError(f"image_ext must be one of {', '.join(IMAGE_FORMATS)} (with the dot), got {image_ext!r}.")
    if crop_size < 8 or pass_per_board < 0:
        raise ToolError(f"crop_size must be >= 8 and pass_per_board >= 0, got {crop_size} and {pass_per_board}.")
    lights = list(lights) if lights else None
    boards = _boards(test_dir, lights)
    if not boards:
        named = "<board>_<Light>.<ext>" if lights else "<board>.<ext>"
        raise ToolError(f"No test board images named {named} in {test_dir}.")
    golden_boards = _boards(golden_dir, lights)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, str]] = []
    with staged_output(out, ["dataset.csv", "images"]) as stage:
        for board in boards:
            golden_board = board if board in golden_boards else (golden_boards[0] if len(golden_boards) == 1 else None)
            if golden_board is None:
                raise ToolError(f"No golden image for board {board} in {golden_dir} (same file name expected).")
            tests = _load(test_dir, board, lights, "Test")
            goldens = _load(golden_dir, golden_board, lights, "Golden")
            height, width = tests[0].shape[:2]
            if any(img.shape != tests[0].shape for img in tests + goldens):
                raise ToolError(f"Board {board}: golden and test images (all lights) must have the same size.")
            if height < crop_size or width < crop_size:
                raise ToolError(f"Board {board} is {width}x{height}, smaller than crop_size {crop_size}.")
            box_file = test_dir / f"{board}.txt"
            boxes = read_boxes(box_file) if box_file.is_file() else []
            crops: list[tuple[int, int, str]] = []
            for box in boxes:
                x = int(np.clip((box.x1 + box.x2) // 2 - crop_size // 2, 0, width - crop_size))
                y = int(np.clip((box.y1 + box.y2) // 2 - crop_size // 2, 0, height - crop_size))
                crops.append((x, y, box.label))
            taken = {(x, y) for x, y, _ in crops}
            found = 0
            for _ in range(pass_per_board * _TRIES_PER_CROP):
                if found == pass_per_board:
                    break
                x, y = int(rng.integers(0, width - crop_size + 1)), int(rng.integers(0, height - crop_size + 1))
                if (x, y) in taken or any(b.overlaps(x, y, crop_size) for b in boxes):
                    continue
                taken.add((x, y))
                crops.append((x, y, "PASS"))
                found += 1
            test_rel, golden_rel = board, f"golden/{board}"
            (stage / "images" / test_rel).mkdir(parents=True, exist_ok=True)
            (stage / "images" / golden_rel).mkdir(parents=True, exist_ok=True)
            for x, y, label in crops:
                name = f"crop@{x}-{y}"
                for k, light in enumerate(lights or (None,)):
                    file = f"{name}_{light}{image_ext}" if light else f"{name}{image_ext}"
                    _save(tests[k][y : y + crop_size, x : x + crop_size], stage / "images" / test_rel / file)
                    golden_file = stage / "images" / golden_rel / file
                    if not golden_file.exists():
                        _save(goldens[k][y : y + crop_size, x : x + crop_size], golden_file)
                rows.append(
                    {
                        "input_path": test_rel,
                        "golden_path": golden_rel,
                        "label": label,
                        "object_name": name,
                        "x1": str(x),
                        "y1": str(y),
                        "x2": str(x + crop_size),
                        "y2": str(y + crop_size),
                    }
                )
        write_csv(stage / "dataset.csv", _COLUMNS, rows)
    n_defect = sum(r["label"] != "PASS" for r in rows)
    return SynthResult(out, out / "dataset.csv", out / "images", None, len(rows) - n_defect, n_defect)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of the ``board_crops`` CLI verb."""
    parser.add_argument("golden_dir", help="Folder of golden board images.")
    parser.add_argument("test_dir", help="Folder of test board images and <board>.txt defect boxes.")
    parser.add_argument("out_dir", help="Output folder (gets dataset.csv and images/).")
    parser.add_argument("--crop-size", type=int, default=128, help="Crop side in pixels.")
    parser.add_argument("--pass-per-board", type=int, default=20, help="PASS crops sampled per board.")
    parser.add_argument("--seed", type=int, default=0, help="Random seed of the PASS crop positions.")
    parser.add_argument("--image-ext", default=".jpg", help="Output image extension with the dot.")
    parser.add_argument("--lights", default="", help="Comma-separated light names (files <board>_<Light>.<ext>).")


def main(args: argparse.Namespace) -> int:
    """Run ``board_crops`` from parsed arguments; exit code 2 with a one-line error on a usage problem."""
    lights = [name.strip() for name in str(args.lights or "").split(",") if name.strip()] or None
    try:
        result = convert_board_pairs(
            args.golden_dir,
            args.test_dir,
            args.out_dir,
            crop_size=args.crop_size,
            pass_per_board=args.pass_per_board,
            seed=args.seed,
            image_ext=args.image_ext,
            lights=lights,
        )
    except ToolError as exc:
        print(f"board_crops: error: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {result.n_pass + result.n_defect} crops ({result.n_pass} PASS, {result.n_defect} defect)")
    print(f"  csv_path:   {result.csv_path}")
    print(f"  images_dir: {result.images_dir}")
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(
        prog="python -m optical_inspection.tools.board_crops", description=__doc__.split("\n")[0]
    )
    add_arguments(_parser)
    raise SystemExit(main(_parser.parse_args()))
