"""dataset_convert on a small raw factory layout written by the test."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from optical_inspection.config import DatasetConvertConfig, ExperimentConfig
from optical_inspection.data import read_dataset_csv
from optical_inspection.tools._common import ToolError
from optical_inspection.tools.dataset_convert import convert_raw_dataset, parse_board_filename, parse_sides, run

LIGHTS = ("LowAngleLight", "SolderLight", "UniformLight", "WhiteLight")
HEADER = [
    "Project",
    "BoardSN",
    "TOP_BOT",
    "CompName",
    "TB_Panel",
    "directory",
    "LightingCondition",
    "ConfirmDefect",
    "MachineDefect",
    "image_name",
]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _board_rows(project: str, sn: str, side: str, directory: str, comps: dict[str, list[str]]) -> list[list[str]]:
    rows = []
    for comp, labels in comps.items():
        for light, label in zip(LIGHTS, labels, strict=False):
            rows.append([project, sn, side, comp, "1", directory, light, label, "X", f"{comp}@1_{light}.jpg"])
    return rows


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    root = tmp_path / "raw"
    ok = ["PASS", "PASS", "", "PASS"]  # an empty ConfirmDefect means PASS
    # train: two TOP boards of PRJA (one named with '~'), one BOT board; validation: one TOP board
    _write(
        root / "all" / "AOI_PRJA_TOP_SN001.csv",
        HEADER,
        _board_rows(
            "PRJA", "SN001", "TOP", "SN001_dir", {"R1": ok, "C2": ["PASS", "bridge", "PASS", "short"], "U3": ok[:3]}
        ),
    )
    _write(
        root / "all" / "AOI_PRJA~TOP_SN002_x.csv",
        HEADER,
        _board_rows("PRJA", "SN002", "TOP", "PRJA/AOI_T/SN002_dir", {"R1": ["missing"] * 4, "Q9": ok}),
    )
    _write(
        root / "all" / "AOI_PRJA_BOT_SN003.csv", HEADER, _board_rows("PRJA", "SN003", "BOT", "SN003_dir", {"R7": ok})
    )
    _write(
        root / "all" / "AOI_PRJA_TOP_SN004.csv",
        HEADER,
        _board_rows("PRJA", "SN004", "TOP", "SN004_dir", {"R1": ok, "C2": ok}),
    )
    for split, names in {
        "train": ["AOI_PRJA_TOP_SN001.csv", "AOI_PRJA~TOP_SN002_x.csv", "AOI_PRJA_BOT_SN003.csv"],
        "val": ["AOI_PRJA_TOP_SN004.csv"],
    }.items():
        for name in names:  # the split folders list the boards; the content is read from all/
            _write(root / split / name, ["unused"], [])
    golden_header = ["CompName", "directory", "TB_Panel", "BoardSN", "Project", "TOP_BOT"]
    _write(
        root / "golden_csv" / "PRJATOP.csv",
        golden_header,
        [[c, "/data/dlout/golden/images/PRJATOP/", "1", "SN000", "PRJA", "TOP"] for c in ("R1", "C2", "U3")],
    )
    _write(
        root / "golden_csv" / "PRJABOT.csv",
        golden_header,
        [["R7", "golden/images/PRJABOT/", "1", "SN000", "PRJA", "BOT"]],
    )
    return root


def _cfg(root: Path, out: Path, **overrides: object) -> ExperimentConfig:
    cfg = ExperimentConfig()
    cfg.dataset_convert = DatasetConvertConfig(
        root_dataset_dir=str(root),
        data_convert_output_dir=str(out),
        train_pcb_dataset_dir="train",
        val_pcb_dataset_dir="val",
        all_pcb_dataset_dir="all",
        golden_csv_dir="golden_csv",
        project_name="all",
        bot_top="TOP",
    )
    for key, value in overrides.items():
        setattr(cfg.dataset_convert, key, value)
    return cfg


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_converts_train_and_valid(raw: Path, tmp_path: Path) -> None:
    written = convert_raw_dataset(_cfg(raw, tmp_path / "out"))
    assert written == [tmp_path / "out" / "train_combined.csv", tmp_path / "out" / "valid_combined.csv"]
    train = _rows(written[0])
    assert list(train[0]) == ["input_path", "golden_path", "label", "object_name"]
    got = {(r["input_path"], r["object_name"]): (r["golden_path"], r["label"]) for r in train}
    assert got == {
        ("PRJA/AOI_T/SN001_dir", "R1@1"): ("golden/images/PRJATOP", "PASS"),
        ("PRJA/AOI_T/SN001_dir", "C2@1"): ("golden/images/PRJATOP", "bridge_short"),
        ("PRJA/AOI_T/SN002_dir", "R1@1"): ("golden/images/PRJATOP", "missing"),
    }  # U3 has 3 lights (dropped), Q9 has no golden (dropped), the BOT board is filtered out
    valid = _rows(written[1])
    assert sorted(r["object_name"] for r in valid) == ["C2@1", "R1@1"] and {r["label"] for r in valid} == {"PASS"}
    assert read_dataset_csv(written[0]).labels.tolist().count(1) == 2  # readable by the loader


@pytest.mark.parametrize("bot_top", ["both", "ALL", "top,bot", None])
def test_bot_top_both_sides(raw: Path, tmp_path: Path, bot_top) -> None:
    train = _rows(convert_raw_dataset(_cfg(raw, tmp_path / "out", bot_top=bot_top))[0])
    assert ("PRJA/AOI_B/SN003_dir", "golden/images/PRJABOT") in {(r["input_path"], r["golden_path"]) for r in train}


def test_parsers() -> None:
    assert parse_board_filename("AOI_P1_bot_SN9.csv").side == "BOT"
    assert parse_board_filename("AOI_P1~TOP_SN9_rest.csv").board == "SN9"
    assert parse_board_filename("summary.csv") is None
    assert parse_sides("Top") == {"TOP"} and parse_sides("bottom") == {"BOT"} and parse_sides(["TOP"]) == {"TOP"}
    with pytest.raises(ToolError, match="TOP, BOT or both"):
        parse_sides("left")


def test_clear_errors_and_no_partial_output(raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    with pytest.raises(ToolError, match="val_pcb_dataset_dir: folder .*nope does not exist"):
        convert_raw_dataset(_cfg(raw, out, val_pcb_dataset_dir="nope"))
    (raw / "golden_csv" / "PRJATOP.csv").rename(raw / "golden_csv" / "old.csv")
    with pytest.raises(ToolError, match="expected .*PRJATOP.csv"):
        convert_raw_dataset(_cfg(raw, out))
    assert not list(out.glob("*.csv"))
    _write(raw / "golden_csv" / "PRJATOP.csv", ["CompName", "TB_Panel"], [["R1", "1"]])
    with pytest.raises(ToolError, match="lacks column\\(s\\) TOP_BOT, directory"):
        convert_raw_dataset(_cfg(raw, out))
    with pytest.raises(ToolError, match="project_name=PRJB"):
        convert_raw_dataset(_cfg(raw, out, project_name="PRJB"))
    assert run(_cfg(raw, out, root_dataset_dir=None)) == 2
    assert "dataset_convert: error: dataset_convert.root_dataset_dir is not set" in capsys.readouterr().err
