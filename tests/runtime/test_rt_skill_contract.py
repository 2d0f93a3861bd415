"""The skill contract: skill_info.yaml, manifest, schemas and templates load into typed models; broken files are
named with the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tao_skill import api
from tao_skill.errors import UserError
from tao_skill.skill import SkillInfo, load_skill

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "skills" / "tao-train-optical-inspection" / "references" / "skill_info.yaml"
NVIDIA_KEYS = {
    "name", "network_arch", "automl_enabled", "container_image", "data_format", "gpu_spec_key", "actions",
    "data_sources", "spec_params", "key_defaults", "spec_shorthand_keys", "spec_templates",
}  # fmt: skip


def test_shipped_skill_info_has_every_tao_key_and_gen_trt_engine() -> None:
    data = yaml.safe_load(SHIPPED.read_text())
    assert set(data) >= NVIDIA_KEYS
    info = SkillInfo.model_validate(data)
    assert set(info.actions) == {"train", "evaluate", "inference", "export", "gen_trt_engine"}
    for action in info.actions.values():
        assert action.command.endswith("-e {config_path}")
        assert action.config_format == "yaml" and action.mode == "config" and action.upload_excludes
    assert info.spec_shorthand_keys["learning_rate"] == "train.optim.lr"
    assert info.data_sources["gen_trt_engine"]["gen_trt_engine.tensorrt.calibration.cal_image_dir"].as_list
    ranking = info.runtime.ranking
    assert (ranking.metric, ranking.mode, ranking.tie_breaker.metric, ranking.tie_breaker.mode) == (
        "val_roc_auc",
        "max",
        "val_far_at_target",
        "min",
    )
    assert info.runtime.checkpoints.latest == "oi_model_latest.pth" and info.runtime.training_keys is not None
    assert info.runtime.parent_actions["gen_trt_engine"] == ["export"]
    assert {"pyt", "deploy"} <= set(info.runtime.container_images)


def test_load_by_name_and_network_arch() -> None:
    assert load_skill("tao-train-optical-inspection").name == "tao-train-optical-inspection"
    assert load_skill("optical_inspection").info.network_arch == "optical_inspection"
    skill = load_skill("optical_inspection")
    assert skill.schema("train")["type"] == "object"
    assert skill.template("train")["dataset"]["train_dataset"]["csv_path"] == "???"


def test_unknown_skill_and_action_suggest_names() -> None:
    with pytest.raises(UserError) as err:
        load_skill("tao-train-optical-inspectoin")
    assert "did you mean 'tao-train-optical-inspection'" in err.value.issues[0].hint
    with pytest.raises(UserError) as err:
        load_skill("optical_inspection").action("evalute")
    assert "evaluate" in err.value.issues[0].hint


def _copy_bank(skill_bank_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bank = tmp_path / "bank"
    shutil.copytree(skill_bank_dir, bank)
    monkeypatch.setenv("TAO_SKILL_BANK", str(bank))
    return bank / "tao-train-optical-inspection"


def test_broken_skill_info_names_file_and_field(skill_bank_dir: Path, tmp_path: Path, monkeypatch) -> None:
    skill = _copy_bank(skill_bank_dir, tmp_path, monkeypatch)
    info_path = skill / "references" / "skill_info.yaml"
    data = yaml.safe_load(info_path.read_text())
    del data["network_arch"]
    data["actions"]["train"]["inputs"]["dataset.train_dataset.csv_path"]["type"] = "blob"
    info_path.write_text(yaml.safe_dump(data))
    with pytest.raises(UserError) as err:
        load_skill("tao-train-optical-inspection")
    paths = [i.path for i in err.value.issues]
    assert "skill_info.yaml:network_arch" in paths
    assert "skill_info.yaml:actions.train.inputs.dataset.train_dataset.csv_path.type" in paths
    assert str(info_path) in err.value.issues[0].message


def test_unparseable_files_are_named(skill_bank_dir: Path, tmp_path: Path, monkeypatch) -> None:
    skill = _copy_bank(skill_bank_dir, tmp_path, monkeypatch)
    (skill / "schemas" / "train.schema.json").write_text("{ not json")
    with pytest.raises(UserError) as err:
        load_skill("optical_inspection").schema("train")
    assert "train.schema.json" in err.value.message and err.value.issues[0].rule == "skill_contract.parse_error"
    (skill / "references" / "spec_template_export.yaml").write_text("a: [unclosed\n")
    with pytest.raises(UserError) as err:
        load_skill("optical_inspection").template("export")
    assert "spec_template_export.yaml" in err.value.message and "line" in err.value.message


def test_missing_schema_blocks_plan_and_automl(skill_bank_dir: Path, tmp_path: Path, monkeypatch) -> None:
    skill = _copy_bank(skill_bank_dir, tmp_path, monkeypatch)
    (skill / "schemas" / "train.schema.json").unlink()
    with pytest.raises(UserError) as err:
        api.plan("optical_inspection", "train")
    text = str(err.value)
    assert "train.schema.json" in text
    assert "AutoML is enabled but not runnable for this model until schemas are generated" in text
    assert "make schemas" in err.value.issues[0].hint
    summary = {s.name: s for s in api.list_skills()}["tao-train-optical-inspection"]
    assert summary.schemas_ready is False


def test_describe_lists_sources_params_and_parents() -> None:
    whole = api.describe("optical_inspection")
    assert whole["data_sources"]["train"] == ["eval_dataset", "train_datasets"]
    one = api.describe("optical_inspection", "export")
    assert one["spec_params"]["export.onnx_file"] == "create_onnx_file"
    assert one["parent_actions"] == ["train"]
    assert one["template"]["export"]["opset_version"] == 17
