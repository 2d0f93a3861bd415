"""``dataset_convert``: TAO's raw factory (AOI camera system) layout -> ``train_combined.csv`` / ``valid_combined.csv``.

Raw layout, as TAO's converter reads it (all folders relative to ``root_dataset_dir`` unless absolute):

- ``train_pcb_dataset_dir`` / ``val_pcb_dataset_dir``: which per-board CSVs belong to each split (their file names);
  the CSVs themselves are read from ``all_pcb_dataset_dir`` (default: the split folder itself). File names encode
  project, side and board: ``<prefix>_<Project>_<TOP|BOT>_<BoardSN>[_...].csv`` or
  ``<prefix>_<Project>~<TOP|BOT>_<BoardSN>[_...].csv``.
- A per-board CSV has one row per component per light: ``Project, BoardSN, TOP_BOT, CompName, TB_Panel,
  directory, LightingCondition, ConfirmDefect`` (and optionally ``image_name``, ``MachineDefect``, ...).
  Components without exactly 4 light rows are dropped; an empty ``ConfirmDefect`` means PASS; the label is PASS
  when every light says PASS, else the sorted distinct defect names joined by ``_``. A ``directory`` not starting
  with the project gets ``<Project>/AOI_T|AOI_B/`` prepended.
- ``golden_csv_dir/<Project><TOP|BOT>.csv``: ``CompName, TOP_BOT, TB_Panel, directory``; the golden directory is
  used from its ``golden`` path component on. Components without a golden are dropped (with a warning).

Output columns: ``input_path`` (board directory), ``golden_path``, ``label``, ``object_name`` (``image_name``
without the light suffix and extension, else ``<CompName>@<TB_Panel>``). Unlike TAO: paths are joined with pathlib
(not string concatenation), ``bot_top`` accepts TOP, BOT or both/all in any case, and a missing folder, file or
column is a clear error instead of a crash.
"""

from __future__ import annotations

import csv
import logging
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from optical_inspection.tools._common import ToolError, write_csv

__all__ = ["convert_raw_dataset", "run", "parse_board_filename", "parse_sides", "BoardFile"]

BOARD_COLUMNS = (
    "Project",
    "BoardSN",
    "TOP_BOT",
    "CompName",
    "TB_Panel",
    "directory",
    "LightingCondition",
    "ConfirmDefect",
)
GOLDEN_COLUMNS = ("CompName", "TOP_BOT", "TB_Panel", "directory")
OUTPUT_COLUMNS = ("input_path", "golden_path", "label", "object_name")
LIGHTS_PER_COMPONENT = 4
_SIDE_FOLDERS = {"TOP": "AOI_T", "BOT": "AOI_B"}
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoardFile:
    """A per-board CSV and what its name says."""

    name: str
    project: str
    side: str
    board: str


def parse_board_filename(name: str) -> BoardFile | None:
    """``x_PROJ_TOP_SN1.csv`` or ``x_PROJ~TOP_SN1.csv`` -> BoardFile; None when the name does not fit."""
    parts = Path(name).stem.split("_")
    if len(parts) >= 3 and "~" in parts[1]:
        project, side = parts[1].split("~", 1)
        board = parts[2]
    elif len(parts) >= 4:
        project, side, board = parts[1], parts[2], parts[3]
    else:
        return None
    side = side.upper()
    return BoardFile(name, project, side, board) if project and side in _SIDE_FOLDERS else None


def parse_sides(bot_top: Any) -> set[str]:
    """``bot_top`` -> {'TOP'}, {'BOT'} or both; accepts TOP/BOT/both/all (any case), a list, or 'TOP,BOT'."""
    if bot_top is None:
        return set(_SIDE_FOLDERS)
    items = bot_top if isinstance(bot_top, (list, tuple)) else str(bot_top).replace(",", " ").split()
    sides: set[str] = set()
    for item in items:
        word = str(item).strip().upper()
        if word in ("ALL", "BOTH"):
            sides |= set(_SIDE_FOLDERS)
        elif word in ("TOP", "T"):
            sides.add("TOP")
        elif word in ("BOT", "BOTTOM", "B"):
            sides.add("BOT")
        else:
            raise ToolError(f"dataset_convert.bot_top must be TOP, BOT or both, got {bot_top!r}.")
    return sides or set(_SIDE_FOLDERS)


def _read_csv(path: Path, required: tuple[str, ...], what: str) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or []]
            reader.fieldnames = columns
            rows = [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except OSError as exc:
        raise ToolError(f"Cannot read {what} {path}: {exc.strerror or exc}.") from None
    missing = [c for c in required if c not in columns]
    if missing:
        raise ToolError(
            f"{what} {path} lacks column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}. "
            f"It needs {', '.join(required)}."
        )
    return rows


def _folder(root: Path, value: str | None, key: str, required: bool = True) -> Path | None:
    if not value:
        if required:
            raise ToolError(
                f"dataset_convert.{key} is not set; give a folder (relative to root_dataset_dir or absolute)."
            )
        return None
    path = Path(value) if Path(value).is_absolute() else root / value
    if not path.is_dir():
        raise ToolError(f"dataset_convert.{key}: folder {path} does not exist; check the path.")
    return path


def _golden_path(directory: str) -> str:
    parts = PurePosixPath(directory.replace("\\", "/")).parts
    return "/".join(parts[parts.index("golden") :]) if "golden" in parts else "/".join(parts)


def _object_name(row: dict[str, str]) -> str:
    image_name = row.get("image_name", "")
    if image_name:
        stem = PurePosixPath(image_name).stem if "." in image_name else image_name
        light = row["LightingCondition"]
        return stem[: -len(light) - 1] if light and stem.endswith(f"_{light}") else stem.split("_")[0]
    return f"{row['CompName']}@{row['TB_Panel']}"


def _aggregate(labels: list[str]) -> str:
    defects = sorted({label for label in labels if label != "PASS"})
    return "_".join(defects) if defects else "PASS"


def _golden_index(golden_dir: Path, project: str, side: str) -> dict[tuple[str, str, str], str]:
    path = golden_dir / f"{project}{side}.csv"
    if not path.is_file():
        raise ToolError(
            f"No golden CSV for project {project} side {side}: expected {path} (golden_csv_dir/<Project><TOP|BOT>.csv)."
        )
    index = {}
    for row in _read_csv(path, GOLDEN_COLUMNS, "golden CSV"):
        index[(row["CompName"], row["TOP_BOT"].upper(), row["TB_Panel"])] = _golden_path(row["directory"])
    return index


def _split_rows(boards: list[BoardFile], source: Path, golden_dir: Path) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    goldens: dict[tuple[str, str], dict] = {}
    dropped_lights = no_golden = 0
    for board in boards:
        path = source / board.name
        if not path.is_file():
            raise ToolError(f"Board CSV {board.name} is listed but {path} does not exist; check all_pcb_dataset_dir.")
        groups: dict[tuple, list[dict[str, str]]] = defaultdict(list)
        for row in _read_csv(path, BOARD_COLUMNS, "board CSV"):
            directory = row["directory"].replace("\\", "/").strip("/")
            if directory.split("/")[0] != row["Project"]:
                side_folder = _SIDE_FOLDERS.get(row["TOP_BOT"].upper(), "AOI_T")
                directory = f"{row['Project']}/{side_folder}/{directory}"
            row["directory"] = directory
            key = tuple(row[c] for c in ("Project", "BoardSN", "TOP_BOT", "CompName", "TB_Panel")) + (directory,)
            groups[key].append(row)
        for (project, _, side, comp, panel, directory), rows in groups.items():
            if len(rows) != LIGHTS_PER_COMPONENT:
                dropped_lights += 1
                continue
            index = goldens.get((project, side.upper()))
            if index is None:
                index = goldens[(project, side.upper())] = _golden_index(golden_dir, project, side.upper())
            golden = index.get((comp, side.upper(), panel))
            if golden is None:
                no_golden += 1
                continue
            label = _aggregate([r["ConfirmDefect"] or "PASS" for r in rows])
            out.append(
                {"input_path": directory, "golden_path": golden, "label": label, "object_name": _object_name(rows[0])}
            )
    if dropped_lights:
        _log.warning("Dropped %d component(s) without exactly %d light images.", dropped_lights, LIGHTS_PER_COMPONENT)
    if no_golden:
        _log.warning("Dropped %d component(s) with no golden entry (CompName, TOP_BOT, TB_Panel).", no_golden)
    return out


def _list_boards(folder: Path, key: str, sides: set[str], project: str | None) -> list[BoardFile]:
    names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() == ".csv")
    parsed = [parse_board_filename(name) for name in names]
    bad = [n for n, b in zip(names, parsed, strict=True) if b is None]
    if bad:
        _log.warning(
            "Skipped %d CSV name(s) in %s not shaped <prefix>_<Project>_<TOP|BOT>_<BoardSN>: %s",
            len(bad),
            folder,
            ", ".join(bad[:5]),
        )
    boards = [b for b in parsed if b is not None and b.side in sides and (project is None or b.project == project)]
    if not boards:
        raise ToolError(
            f"dataset_convert.{key}: no board CSV in {folder} matches bot_top={'/'.join(sorted(sides))}"
            + (f" and project_name={project}" if project else "")
            + "; board CSV names look like <prefix>_<Project>_<TOP|BOT>_<BoardSN>.csv."
        )
    return boards


def _write_atomic(path: Path, rows: list[dict[str, str]]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_csv(tmp, OUTPUT_COLUMNS, rows)
        if path.exists():
            _log.info("Replacing %s", path)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def convert_raw_dataset(cfg: Any) -> list[Path]:
    """Convert the raw layout named by ``cfg.dataset_convert`` (or a DatasetConvertConfig); returns written CSVs."""
    dc = getattr(cfg, "dataset_convert", cfg)
    if not dc.root_dataset_dir:
        raise ToolError("dataset_convert.root_dataset_dir is not set; give the root folder of the raw dataset.")
    root = Path(dc.root_dataset_dir)
    if not root.is_dir():
        raise ToolError(f"dataset_convert.root_dataset_dir: folder {root} does not exist.")
    sides = parse_sides(dc.bot_top)
    project = None if not dc.project_name or str(dc.project_name).lower() == "all" else str(dc.project_name)
    train_dir = _folder(root, dc.train_pcb_dataset_dir, "train_pcb_dataset_dir")
    val_dir = _folder(root, dc.val_pcb_dataset_dir, "val_pcb_dataset_dir")
    all_dir = _folder(root, dc.all_pcb_dataset_dir, "all_pcb_dataset_dir", required=False)
    golden_dir = _folder(root, dc.golden_csv_dir, "golden_csv_dir")
    if not dc.data_convert_output_dir:
        raise ToolError("dataset_convert.data_convert_output_dir is not set; give the folder for the output CSVs.")
    out_dir = Path(dc.data_convert_output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = [
        ("train_pcb_dataset_dir", train_dir, "train_combined.csv"),
        ("val_pcb_dataset_dir", val_dir, "valid_combined.csv"),
    ]
    results = []
    for key, folder, out_name in splits:
        boards = _list_boards(folder, key, sides, project)
        rows = _split_rows(boards, all_dir or folder, golden_dir)
        if not rows:
            raise ToolError(
                f"dataset_convert.{key}: no component with {LIGHTS_PER_COMPONENT} lights and a golden entry in "
                f"{len(boards)} board CSV(s); check LightingCondition rows and the golden CSVs."
            )
        results.append((out_dir / out_name, rows))
    written = []
    for path, rows in results:  # write only once both splits converted: no half-done output
        _write_atomic(path, rows)
        _log.info("Wrote %s: %d pairs (%d defect).", path, len(rows), sum(r["label"] != "PASS" for r in rows))
        written.append(path)
    return written


def run(cfg: Any) -> int:
    """CLI entry for ``dataset_convert -e spec.yaml``: 0 on success, 2 (user error) with a one-line message."""
    try:
        paths = convert_raw_dataset(cfg)
    except ToolError as exc:
        print(f"dataset_convert: error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"Wrote {path}")
    return 0
