"""Spec loading: YAML + overrides into the config dataclasses, strict checks with key paths, results_dir rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from optical_inspection.spec import (
    REDACTED,
    SpecError,
    dump_spec,
    load_spec,
    parse_overrides,
    task_results_dir,
)


def test_overrides_are_yaml_typed(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("train:\n  num_epochs: 4\nmodel:\n  margin: 3\n")
    cfg = load_spec(
        spec,
        [
            "train.optim.lr=1e-3",
            "dataset.input_map={A: 0, B: 1}",
            "dataset.num_input=2",
            "train.tensorboard.enabled=true",
        ],
    )
    assert cfg.train.num_epochs == 4
    assert cfg.model.margin == 3.0 and isinstance(cfg.model.margin, float)
    assert cfg.train.optim.lr == pytest.approx(1e-3)
    assert cfg.dataset.input_map == {"A": 0, "B": 1}
    assert cfg.train.tensorboard.enabled is True
    assert parse_overrides(["a.b=[1, 2]"]) == [("a.b", [1, 2])]


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        (["train.num_epoch=3"], "train.num_epoch", "Did you mean train.num_epochs"),
        (["train.num_epochs=three"], "train.num_epochs", "integer"),
        (["model.model_type=Siamese3"], "model.model_type", "Siamese_3"),
        (["train.optim.lr=-1"], "train.optim.lr", "> 0"),
        (["dataset.train_dataset=5"], "dataset.train_dataset", "section"),
        (["train.gpu_ids=[a]"], "train.gpu_ids[0]", "integer"),
    ],
)
def test_bad_values_name_the_key(overrides: list[str], key: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(None, overrides)
    assert info.value.key == key
    assert key in str(info.value) and words in str(info.value)


def test_missing_marker_and_required_keys(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("results_dir: out\ndataset:\n  train_dataset:\n    csv_path: ???\n")
    with pytest.raises(SpecError, match=r"dataset\.train_dataset\.csv_path.*'\?\?\?'"):
        load_spec(spec, action="train")
    with pytest.raises(SpecError, match=r"evaluate\.checkpoint or evaluate\.trt_engine"):
        load_spec(None, ["dataset.test_dataset.csv_path=a", "dataset.test_dataset.images_dir=b"], action="evaluate")
    # A ??? in a section the action does not read is not an error for that action.
    overrides = ["inference.checkpoint=???", "export.checkpoint=m.pth"]
    cfg = load_spec(None, overrides, action="export")
    assert cfg.inference.checkpoint == "???"


def test_bad_yaml_file(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("train: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML at line"):
        load_spec(spec)
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "absent.yaml")


def test_results_dir_rule_and_redaction(tmp_path: Path) -> None:
    cfg = load_spec(
        None, [f"results_dir={tmp_path}", "encryption_key=s3cr3t", f"evaluate.results_dir={tmp_path / 'ev'}"]
    )
    assert task_results_dir(cfg, "train") == tmp_path / "train"
    assert task_results_dir(cfg, "evaluate") == tmp_path / "ev"
    out = dump_spec(cfg, tmp_path / "experiment.yaml")
    text = out.read_text()
    assert "s3cr3t" not in text
    assert yaml.safe_load(text)["encryption_key"] == REDACTED
    # The dumped spec loads back to the same values.
    again = load_spec(out)
    assert again.evaluate.results_dir == str(tmp_path / "ev")
