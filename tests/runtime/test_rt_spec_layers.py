"""Spec layering as the agent sees it: spec files (-f) in order, inline overrides over them, ``???`` an error only
where the action reads the key, ``${...}`` references resolved before validation, and NVIDIA's published Optical
Inspection specs (rebuilt in ``nvidia_specs``) planning cleanly except for their one genuine error."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tao_skill import api
from tao_skill import overrides as ov
from tao_skill.errors import UserError
from tao_skill.store import JobStore

sys.path.insert(0, str(Path(__file__).parent))
from nvidia_specs import deploy_experiment, skill_bank_template, tutorial_experiment  # noqa: E402

SKILL = "tao-train-optical-inspection"


def _write(folder: Path, name: str, data: dict[str, Any]) -> str:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


def _plan(action: str, files: list[str] = (), **kwargs: Any):
    return api.plan(SKILL, action, override_files=list(files), automl_policy="off", **kwargs)


def _sources(synth_data: dict[str, Path]) -> dict[str, str]:
    return {"train_datasets": str(synth_data["train"]), "eval_dataset": str(synth_data["val"])}


def _jobs(store: JobStore) -> dict[str, str]:
    """Finished parents: a train job (two checkpoints, 32x32 Siamese_3), an export job, a gen_trt_engine job."""
    train = store.create(
        skill=SKILL,
        action="train",
        spec={"model": {"model_type": "Siamese_3"}, "dataset": {"image_width": 32, "image_height": 32, "num_input": 4}},
    )
    folder = Path(train.results_dir) / "train"
    folder.mkdir(parents=True)
    lines = []
    for epoch, acc in enumerate((60.0, 80.0)):
        name = f"model_epoch_{epoch:03d}_step_{(epoch + 1) * 10:05d}.pth"
        (folder / name).write_bytes(b"weights")
        lines.append(json.dumps({"status": "RUNNING", "epoch": epoch, "kpi": {"val_acc": acc}}))
    os.symlink(name, folder / "oi_model_latest.pth")
    (folder / "status.json").write_text("\n".join(lines) + "\n")
    store.update(train.id, state="done")
    jobs = {"train": train.id}
    for action, artifact in (("export", "model.onnx"), ("gen_trt_engine", "model.engine")):
        job = store.create(skill=SKILL, action=action, spec={})
        Path(job.results_dir).mkdir(parents=True)
        (Path(job.results_dir) / artifact).write_bytes(b"model")
        store.update(job.id, state="done")
        jobs[action] = job.id
    return jobs


def _assert_clean(plan: Any) -> None:
    """Nothing unresolved left: no placeholder, no reference; the trainer's strict loader takes the spec as is."""
    from optical_inspection.spec import load_spec

    leaves = ov.flatten(plan.spec)
    assert not [k for k, v in leaves.items() if v in ("???", "<required>")], leaves
    assert not [k for k, v in leaves.items() if isinstance(v, str) and "${" in v]
    path = Path(plan.results_dir).parent / f"{plan.job_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(plan.spec), encoding="utf-8")
    load_spec(path)  # strict: unknown keys, types, bounds


# ------------------------------------------------------------------------------------------------ order
def test_inline_overrides_beat_spec_files_and_later_files_beat_earlier(synth_data, tmp_path: Path) -> None:
    first = _write(tmp_path, "a.yaml", {"train": {"num_epochs": 7, "seed": 1}, "model": {"margin": 3.0}})
    second = _write(tmp_path, "b.yaml", {"train": {"seed": 2}, "num_epochs": 9})
    plan = _plan("train", [first, second], overrides=["num_epochs=4"], data_sources=_sources(synth_data))
    assert plan.spec["train"]["num_epochs"] == 4 and plan.provenance["train.num_epochs"] == "shorthand:num_epochs"
    assert plan.spec["train"]["seed"] == 2 and plan.provenance["train.seed"] == f"override_file:{second}"
    assert plan.spec["model"]["margin"] == 3.0 and plan.provenance["model.margin"] == f"override_file:{first}"
    # a file's data paths give way to the data sources, as its results_dir gives way to the job's
    third = _write(tmp_path, "c.yaml", {"dataset": {"train_dataset": {"csv_path": "/data/x.csv"}}, "results_dir": "/r"})
    plan = _plan("train", [third], data_sources=_sources(synth_data))
    assert plan.spec["dataset"]["train_dataset"]["csv_path"].endswith("dataset.csv")
    assert plan.spec["results_dir"] == plan.results_dir


def test_parent_shape_beats_a_spec_file_but_not_an_inline_override(synth_data, tmp_path: Path) -> None:
    parent = _jobs(JobStore())["train"]
    spec_file = _write(tmp_path, "e.yaml", {"dataset": {"image_width": 128}})
    plan = _plan("evaluate", [spec_file], parent_job_id=parent, data_sources={"eval_dataset": str(synth_data["val"])})
    assert plan.spec["dataset"]["image_width"] == 32
    assert any("image_width=128" in w and parent in w for w in plan.warnings), plan.warnings
    forced = _plan(
        "evaluate",
        [spec_file],
        parent_job_id=parent,
        overrides=["image_width=64"],
        data_sources={"eval_dataset": str(synth_data["val"])},
    )
    assert forced.spec["dataset"]["image_width"] == 64


# ------------------------------------------------------------------------------------------------ ???
def test_placeholder_is_an_error_only_where_the_action_reads_it(synth_data, tmp_path: Path) -> None:
    unread = _write(tmp_path, "u.yaml", {"dataset": {"infer_dataset": {"csv_path": "???", "images_dir": "???"}}})
    plan = _plan("train", [unread], data_sources=_sources(synth_data))
    assert plan.spec["dataset"]["infer_dataset"] == {"csv_path": None, "images_dir": None}
    assert "not read by train" in plan.provenance["dataset.infer_dataset.csv_path"]
    read = _write(tmp_path, "r.yaml", {"train": {"optim": {"lr": "???"}}, "dataset": {"batch_size": "<required>"}})
    with pytest.raises(UserError) as err:
        _plan("train", [read], data_sources=_sources(synth_data))
    found = {i.path: i for i in err.value.issues}
    assert set(found) == {"train.optim.lr", "dataset.batch_size"}
    assert {i.rule for i in found.values()} == {"mandatory_value"}
    assert found["train.optim.lr"].hint == "set train.optim.lr=<value>"


def test_no_layer_writes_null_where_the_schema_forbids_it(tmp_path: Path) -> None:
    export_job = _jobs(JobStore())["export"]
    spec_file = _write(tmp_path, "g.yaml", skill_bank_template("gen_trt_engine"))
    plan = _plan("gen_trt_engine", [spec_file], parent_job_id=export_job, overrides=["trt_data_type=fp16"])
    calibration = plan.spec["gen_trt_engine"]["tensorrt"]["calibration"]
    assert calibration["cal_image_dir"] == []  # an array in the schema: its default, not null
    assert calibration["cal_cache_file"].endswith("cal.bin")
    _assert_clean(plan)


# ------------------------------------------------------------------------------------------------ ${...}
def test_references_resolve_before_validation(synth_data, tmp_path: Path) -> None:
    spec_file = _write(
        tmp_path,
        "i.yaml",
        {
            "dataset": {"batch_size": 6},
            "train": {"checkpoint_interval": 2, "validation_interval": "${train.checkpoint_interval}"},
        },
    )
    plan = _plan("train", [spec_file], overrides=["num_epochs=4"], data_sources=_sources(synth_data))
    assert plan.spec["train"]["validation_interval"] == 2
    assert "${train.checkpoint_interval}" in plan.provenance["train.validation_interval"]
    # the reference sees the final value, inline overrides included
    plan = _plan(
        "train",
        [spec_file],
        overrides=["num_epochs=4", "train.checkpoint_interval=4"],
        data_sources=_sources(synth_data),
    )
    assert plan.spec["train"]["validation_interval"] == 4


def test_broken_references_are_issues_and_resolvers_are_refused(synth_data, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SOME_SECRET", "s3cr3t-value")
    spec_file = _write(
        tmp_path,
        "b.yaml",
        {
            "train": {"num_epochs": "${train.nope}", "seed": "${oc.env:SOME_SECRET}"},
            "dataset": {"infer_dataset": {"csv_path": "${nowhere.at_all}"}},
        },
    )
    with pytest.raises(UserError) as err:
        _plan("train", [spec_file], data_sources=_sources(synth_data))
    found = {i.path: i for i in err.value.issues}
    assert set(found) == {"train.num_epochs", "train.seed"}, found  # the unread infer split is not an error
    assert found["train.num_epochs"].rule == "interpolation" and "train.nope" in found["train.num_epochs"].message
    assert "resolver" in found["train.seed"].message
    assert "s3cr3t-value" not in str(err.value)


# ------------------------------------------------------------------------------------------------ NVIDIA's specs
@pytest.mark.parametrize("action", ["train", "evaluate", "inference", "export"])
def test_nvidia_skill_bank_templates_plan_cleanly(action: str, synth_data, tmp_path: Path) -> None:
    jobs = _jobs(JobStore())
    spec_file = _write(tmp_path, f"spec_template_{action}.yaml", skill_bank_template(action))
    kwargs: dict[str, Any] = {
        "train": {"data_sources": _sources(synth_data)},
        "evaluate": {"parent_job_id": jobs["train"], "data_sources": {"eval_dataset": str(synth_data["val"])}},
        "inference": {"parent_job_id": jobs["train"], "data_sources": {"inference_dataset": str(synth_data["val"])}},
        "export": {"parent_job_id": jobs["train"]},
    }[action]
    plan = _plan(action, [spec_file], **kwargs)
    _assert_clean(plan)
    assert plan.spec["model"]["model_type"] == "Siamese_3"
    assert not [w for w in plan.warnings if "your value was replaced" in w], plan.warnings


def test_nvidia_gen_trt_engine_template_keeps_its_one_genuine_error(tmp_path: Path) -> None:
    export_job = _jobs(JobStore())["export"]
    spec_file = _write(tmp_path, "spec_template_gen_trt_engine.yaml", skill_bank_template("gen_trt_engine"))
    with pytest.raises(UserError) as err:
        _plan("gen_trt_engine", [spec_file], parent_job_id=export_job)
    (issue,) = err.value.issues
    assert issue.path == "gen_trt_engine.tensorrt.data_type" and issue.value == "fp32,fp16"
    assert "pick one" in issue.hint and "gen_trt_engine.tensorrt.data_type=fp16" in issue.hint


@pytest.mark.parametrize("action", ["gen_trt_engine", "evaluate", "inference"])
def test_nvidia_deploy_spec_plans_cleanly(action: str, synth_data, tmp_path: Path) -> None:
    jobs = _jobs(JobStore())
    spec_file = _write(tmp_path, "spec_template_deploy_experiment.yaml", deploy_experiment())
    kwargs: dict[str, Any] = {
        "gen_trt_engine": {"parent_job_id": jobs["export"]},
        "evaluate": {"parent_job_id": jobs["gen_trt_engine"], "data_sources": {"eval_dataset": str(synth_data["val"])}},
        "inference": {
            "parent_job_id": jobs["gen_trt_engine"],
            "data_sources": {"inference_dataset": str(synth_data["val"])},
        },
    }[action]
    plan = _plan(action, [spec_file], **kwargs)
    _assert_clean(plan)
    if action != "evaluate":
        assert plan.spec[action]["batch_size"] == 32  # ${dataset.batch_size}
    if action != "gen_trt_engine":
        assert plan.spec[action]["trt_engine"].endswith("model.engine")
        assert plan.spec[action]["checkpoint"] is None  # <required>, but the engine is the model here


def test_nvidia_tutorial_spec_resolves_and_reports_its_missing_pretrained_model(synth_data, tmp_path: Path) -> None:
    spec_file = _write(tmp_path, "experiment.yaml", tutorial_experiment())
    with pytest.raises(UserError) as err:
        _plan("train", [spec_file], data_sources=_sources(synth_data))
    (issue,) = err.value.issues
    assert issue.path == "train.pretrained_model_path" and issue.rule == "file_exists"
    assert "train.pretrained_model_path=''" in issue.hint
    plan = _plan("train", [spec_file], overrides=["train.pretrained_model_path=''"], data_sources=_sources(synth_data))
    assert plan.spec["train"]["validation_interval"] == 5  # ${train.checkpoint_interval}
    assert plan.spec["train"]["results_dir"] is None and any("/results/train" in w for w in plan.warnings)
    _assert_clean(plan)


def test_describe_states_the_layer_order() -> None:
    described = api.describe(SKILL, "evaluate")
    layers = described["spec_layers"]
    assert (
        layers.index("spec files (-f/--override-file), in the order given")
        < layers.index("inline overrides (key=value, -o): shorthands, then dotted keys")
        < layers.index("data sources (--data)")
    )
    assert "only on keys evaluate reads" in described["placeholders"]
