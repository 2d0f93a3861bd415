"""Dataset CSV validation: columns by name, empty files, near-miss PASS labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from optical_inspection.data import REQUIRED_COLUMNS, DatasetError, read_dataset_csv


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dataset.csv"
    path.write_text(text)
    return path


def test_reads_columns_by_name_and_keeps_extra_columns(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "object_name,label,extra,golden_path,input_path\nC1@1,PASS,x,golden/p,b1\nC2@1,bridge,y,golden/p,b1\n",
    )
    table = read_dataset_csv(path)
    assert table.columns == ["object_name", "label", "extra", "golden_path", "input_path"]
    assert table.rows[1]["extra"] == "y" and table.rows[1]["input_path"] == "b1"
    assert table.labels.tolist() == [0, 1]
    assert (table.n_pass, table.n_defect) == (1, 1)
    assert table.row_numbers == [2, 3]
    assert table.warnings == []


def test_missing_column_names_file_missing_and_found_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "input_path,Golden_Path,label\nb1,golden/p,PASS\n")
    with pytest.raises(DatasetError) as info:
        read_dataset_csv(path)
    message = str(info.value)
    assert str(path) in message
    assert "missing column(s) golden_path, object_name" in message
    assert "found input_path, Golden_Path, label" in message
    assert "'Golden_Path' should be 'golden_path'" in message


@pytest.mark.parametrize("text", ["", "\n\n", ",".join(REQUIRED_COLUMNS) + "\n"])
def test_empty_csv_is_a_clear_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(DatasetError, match="empty|no data rows"):
        read_dataset_csv(_write(tmp_path, text))


def test_missing_file_and_short_row_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        read_dataset_csv(tmp_path / "nope.csv")
    path = _write(tmp_path, "input_path,golden_path,label,object_name\nb1,golden/p,PASS,C1\nb1,golden/p\n")
    with pytest.raises(DatasetError, match="row 3"):
        read_dataset_csv(path)


def test_near_miss_labels_warn_with_rows_and_stay_defects(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lines = ["input_path,golden_path,label,object_name"]
    labels = ["PASS", "pass", "PASS ", " Pass", "missing", "PASS"] + ["pass"] * 6
    lines += [f"b1,golden/p,{label},C{i}" for i, label in enumerate(labels)]
    table = read_dataset_csv(_write(tmp_path, "\n".join(lines) + "\n"))
    assert table.labels.tolist() == [0, 1, 1, 1, 1, 0] + [1] * 6  # TAO: only exactly PASS is good
    assert len(table.warnings) == 1
    warning = table.warnings[0]
    assert "9 label(s) look like PASS" in warning
    assert "rows 3 ('pass'), 4 ('PASS '), 5 (' Pass'), 8 ('pass'), 9 ('pass') and 4 more" in warning
    assert warning in caplog.text


def test_label_column_optional_only_when_asked(tmp_path: Path) -> None:
    path = _write(tmp_path, "input_path,golden_path,object_name\nb1,golden/p,C1\n")
    with pytest.raises(DatasetError, match="missing column\\(s\\) label"):
        read_dataset_csv(path)
    table = read_dataset_csv(path, require_label=False)
    assert table.labels.tolist() == [0] and table.columns == ["input_path", "golden_path", "object_name"]
