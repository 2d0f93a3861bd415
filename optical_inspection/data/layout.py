"""Where a pair's images live and how the per-light tiles are joined (TAO-COMPAT section 2).

Image path: ``images_dir/<input_path>/<object_name>_<Light><image_ext>`` for every light of ``input_map`` in KEY
order (the values are ignored, as in TAO); without ``input_map`` there is one image per side and no ``_<Light>``
suffix. Golden images use ``golden_path`` the same way. ``linear`` concat stacks the tiles along the height,
giving (3, n*H, W); ``grid`` (only with an even number of lights, as in TAO) lays ``grid_map.x`` tiles across and
``grid_map.y`` rows down, giving (3, y*H, x*W).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optical_inspection.data.errors import DatasetError

__all__ = ["TileLayout", "tile_layout", "image_path", "input_shape", "normalise_ext"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TileLayout:
    """Lights (None: one unsuffixed image per side), tile size and how tiles are joined."""

    lights: tuple[str, ...] | None
    height: int
    width: int
    image_ext: str
    rows: int  # tiles down
    cols: int  # tiles across

    @property
    def num_tiles(self) -> int:
        return len(self.lights) if self.lights else 1

    @property
    def shape(self) -> tuple[int, int, int]:
        """(3, H', W') of one side after concatenation."""
        return 3, self.rows * self.height, self.cols * self.width


def normalise_ext(ext: str | None) -> str:
    """``jpg`` -> ``.jpg``; empty stays empty (file names then carry no extension)."""
    ext = (ext or "").strip()
    return ext if not ext or ext.startswith(".") else f".{ext}"


def tile_layout(cfg: Any) -> TileLayout:
    """Read and check the layout keys of ``cfg.dataset``; raise :class:`DatasetError` when they disagree."""
    ds = cfg.dataset
    input_map = ds.input_map
    lights = tuple(str(key) for key in input_map) if input_map else None
    count = len(lights) if lights else 1
    num_input = int(ds.num_input)
    if num_input != count:
        where = f"input_map has {count} light(s) ({', '.join(lights)})" if lights else "input_map is empty (1 image)"
        raise DatasetError(
            f"dataset.num_input is {num_input} but dataset.{where}; num_input must equal the number of lights "
            f"(it sizes the model's first dense layer). Set dataset.num_input={count} or edit dataset.input_map."
        )
    height, width = int(ds.image_height), int(ds.image_width)
    if height < 1 or width < 1:
        raise DatasetError(f"dataset.image_height/image_width must be >= 1, got {height}x{width}.")
    rows, cols = count, 1
    if (ds.concat_type or "linear") == "grid":
        if count % 2:
            _log.warning("dataset.concat_type is grid but %d light(s) is odd; using linear concat, as TAO does.", count)
        else:
            grid = ds.grid_map or {}
            cols, rows = int(grid.get("x", 0)), int(grid.get("y", 0))
            if cols * rows != count:
                raise DatasetError(
                    f"dataset.grid_map x={cols}, y={rows} holds {cols * rows} tiles but there are {count} lights; "
                    f"set grid_map so that x*y == {count} (e.g. x=2, y={count // 2})."
                )
    elif ds.concat_type not in (None, "linear"):
        raise DatasetError(f"dataset.concat_type must be 'linear' or 'grid', got {ds.concat_type!r}.")
    return TileLayout(lights, height, width, normalise_ext(ds.image_ext), rows, cols)


def image_path(images_dir: Path, folder: str, object_name: str, light: str | None, image_ext: str) -> Path:
    """``images_dir/<folder>/<object_name>[_<light>]<image_ext>``."""
    name = f"{object_name}_{light}{image_ext}" if light else f"{object_name}{image_ext}"
    return images_dir / folder.strip() / name


def input_shape(cfg: Any) -> tuple[int, int, int]:
    """(3, H', W') of one model input after concatenation, e.g. (3, 512, 128) for 4 linear lights of 128x128."""
    return tile_layout(cfg).shape
