"""Reading and validating a TAO Optical Inspection ``dataset.csv``.

Columns are read by name (``input_path, golden_path, label, object_name``); extra columns are kept in order so that
inference can write them back. Labels follow TAO: exactly ``PASS`` is good (0), anything else is a defect (1). Labels
that look like PASS but are not exactly ``PASS`` (``pass``, ``PASS `` ...) stay defects, as in TAO, but produce a
warning naming the rows, because they are almost always typing mistakes.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optical_inspection.data.errors import DatasetError

__all__ = ["REQUIRED_COLUMNS", "PASS_LABEL", "DatasetTable", "read_dataset_csv", "format_rows"]

REQUIRED_COLUMNS = ("input_path", "golden_path", "label", "object_name")
PASS_LABEL = "PASS"
_MAX_ROWS_LISTED = 5

_log = logging.getLogger(__name__)


@dataclass
class DatasetTable:
    """A validated dataset CSV.

    ``rows`` keep every column as text; ``labels`` is 0 for PASS and 1 for a defect; ``row_numbers`` are the
    1-based line numbers a spreadsheet shows (the header is row 1).
    """

    columns: list[str]
    rows: list[dict[str, str]]
    labels: np.ndarray
    warnings: list[str] = field(default_factory=list)
    path: Path | None = None
    row_numbers: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def n_defect(self) -> int:
        return int(self.labels.sum())

    @property
    def n_pass(self) -> int:
        return len(self.rows) - self.n_defect

    def row_number(self, index: int) -> int:
        """Spreadsheet row number of data row ``index`` (0-based)."""
        return self.row_numbers[index] if self.row_numbers else index + 2


def format_rows(numbers: list[int], limit: int = _MAX_ROWS_LISTED) -> str:
    """``rows 2, 5, 9 and 12 more`` style summary of row numbers."""
    shown = ", ".join(str(n) for n in numbers[:limit])
    more = len(numbers) - limit
    return f"{'row' if len(numbers) == 1 else 'rows'} {shown}" + (f" and {more} more" if more > 0 else "")


def read_dataset_csv(csv_path: str | Path, *, require_label: bool = True) -> DatasetTable:
    """Read and validate a dataset CSV; raise :class:`DatasetError` on a missing file, column, value or empty file.

    ``require_label=False`` (inference) accepts a CSV without a ``label`` column; its rows then count as PASS.
    """
    path = Path(csv_path)
    if not path.is_file():
        hint = "it is a folder; point csv_path at the CSV file inside it" if path.is_dir() else "check csv_path"
        raise DatasetError(f"Dataset CSV not found: {path} ({hint}).")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            records: list[tuple[int, list[str]]] = []
            for record in reader:
                if not record or all(not cell.strip() for cell in record):
                    continue
                records.append((reader.line_num, record))
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not a UTF-8 text CSV ({exc}); save it as CSV (UTF-8).") from None
    except csv.Error as exc:
        raise DatasetError(f"{path} is not a valid CSV: {exc}.") from None

    if header is None or all(not cell.strip() for cell in header):
        raise DatasetError(
            f"{path} is empty; a dataset CSV needs the header {','.join(REQUIRED_COLUMNS)} and one row per pair."
        )
    columns = [cell.strip() for cell in header]
    needed = REQUIRED_COLUMNS if require_label else tuple(c for c in REQUIRED_COLUMNS if c != "label")
    missing = [name for name in needed if name not in columns]
    if missing:
        near = {c.lower(): c for c in columns}
        hints = [f"'{near[m]}' should be '{m}'" for m in missing if m in near]
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}. "
            f"The header must name {', '.join(needed)} (extra columns are kept)"
            + (f"; {'; '.join(hints)}." if hints else ".")
        )
    if not records:
        raise DatasetError(f"{path} has a header but no data rows; add one row per (test, golden) pair.")

    rows: list[dict[str, str]] = []
    row_numbers: list[int] = []
    for line_num, record in records:
        if len(record) < len(columns):
            raise DatasetError(
                f"{path} row {line_num}: {len(record)} value(s) for {len(columns)} columns ({','.join(columns)}); "
                "fill in the missing values or fix the quoting."
            )
        row = dict(zip(columns, record, strict=False))
        for name in needed:
            if not row[name].strip():
                raise DatasetError(f"{path} row {line_num}: column '{name}' is empty; every pair needs it.")
        rows.append(row)
        row_numbers.append(line_num)

    has_label = "label" in columns
    labels = np.fromiter((has_label and row["label"] != PASS_LABEL for row in rows), dtype=np.int64, count=len(rows))
    warnings = _near_miss_warnings(path, rows, row_numbers) if has_label else []
    for message in warnings:
        _log.warning(message)
    return DatasetTable(columns, rows, labels, warnings, path, row_numbers)


def _near_miss_warnings(path: Path, rows: list[dict[str, str]], row_numbers: list[int]) -> list[str]:
    near = [(n, row["label"]) for n, row in zip(row_numbers, rows, strict=True) if _is_near_pass(row["label"])]
    if not near:
        return []
    examples = ", ".join(f"{n} ({label!r})" for n, label in near[:_MAX_ROWS_LISTED])
    more = len(near) - _MAX_ROWS_LISTED
    return [
        f"{path}: {len(near)} label(s) look like PASS but are not exactly 'PASS', so they count as defects (as in "
        f"TAO): rows {examples}" + (f" and {more} more" if more > 0 else "") + ". Write exactly PASS if they are good."
    ]


def _is_near_pass(label: str) -> bool:
    return label != PASS_LABEL and label.strip().upper() == PASS_LABEL
