"""Checks of a staged data source: the CSV header, the TAO-ready root folder, and a sample of the images."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from tao_skill.contract import DatasetLayout
from tao_skill.errors import Issue, UserError
from tao_skill.staging_cache import ARCHIVE, CSV_NAME

__all__ = ["check_csv", "check_images", "find_tao_root", "first_components", "SAMPLE_ROWS"]

SAMPLE_ROWS = 20


def first_components(csv_path: Path, columns: list[str]) -> set[str]:
    names: set[str] = set()
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            for column in columns:
                value = (row.get(column) or "").strip().strip("/")
                if value:
                    names.add(value.split("/")[0])
    return names


def check_csv(csv_path: Path, source: str, required: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Check the header; return the column names. A missing column is a UserError naming file and column."""
    if not csv_path.is_file():
        raise UserError.single(
            f"data.{source}",
            f"{CSV_NAME} not found for data source '{source}': {csv_path}",
            rule="file_exists",
            hint=f"the source must hold {CSV_NAME} next to {ARCHIVE}",
        )
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), [])
    columns = [c.strip() for c in header]
    missing = [c for c in required if c not in columns]
    if missing:
        raise UserError(
            f"{csv_path} (data source '{source}') lacks column(s) {', '.join(missing)}",
            [
                Issue(
                    path=f"data.{source}:{CSV_NAME}",
                    value=columns,
                    rule="csv_columns",
                    message=f"{csv_path}: column '{name}' is missing (header: {', '.join(columns) or 'empty'})",
                    hint=f"the CSV needs the columns {', '.join(required)}",
                )
                for name in missing
            ],
        )
    return columns


def find_tao_root(base: Path, wanted: set[str], max_depth: int = 4) -> Path | None:
    """The shallowest folder under ``base`` holding every name in ``wanted`` (the skill's root folders and the CSV's);
    with nothing wanted, ``base`` itself."""
    if not wanted:
        return base
    level = [base]
    for _ in range(max_depth + 1):
        next_level: list[Path] = []
        for folder in level:
            try:
                children = {p.name: p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")}
            except OSError:
                continue
            if wanted <= set(children):
                return folder
            next_level.extend(children[name] for name in sorted(children))
        level = next_level
    return None


def check_images(
    csv_path: Path, images_dir: Path, source: str, layout: DatasetLayout, lights: Any, image_ext: str
) -> None:
    """Check that the images of the first rows exist (``<folder>/<stem>[_<light>]<ext>``); name the first missing."""
    if not layout.name_column or not layout.folder_columns:
        return
    names = list(lights) if isinstance(lights, dict) and lights else [None]
    missing: list[str] = []
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        for index, row in enumerate(csv.DictReader(handle)):
            if index >= SAMPLE_ROWS:
                break
            for column in layout.folder_columns:
                folder = images_dir / (row.get(column) or "").strip()
                for light in names:
                    name = f"{(row.get(layout.name_column) or '').strip()}{'_' + light if light else ''}{image_ext}"
                    if not (folder / name).is_file():
                        missing.append(str((folder / name).relative_to(images_dir)))
    if missing:
        raise UserError.single(
            f"data.{source}",
            f"data source '{source}': {len(missing)} image(s) named by the first {SAMPLE_ROWS} rows of {csv_path.name} "
            f"are missing under {images_dir}, first: {', '.join(missing[:5])}",
            rule="images_exist",
            value=missing[:5],
            hint=f"check {layout.image_ext_key or 'the image extension'} and {layout.lights_key or 'the lights'}, and "
            "that the archive holds the folders the CSV names",
        )
