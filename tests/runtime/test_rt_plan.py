"""plan(): spec layers with provenance, validation with every issue at once, parents, secrets, docker compat."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tao_skill import api
from tao_skill.errors import UserError
from tao_skill.store import JobStore

SKILL = "optical_inspection"


def _plain(**kwargs):
    return api.plan(SKILL, kwargs.pop("action", "train"), automl_policy="off", **kwargs)


def _sources(synth_data: dict[str, Path]) -> dict[str, str]:
    return {"train_datasets": str(synth_data["train"]), "eval_dataset": str(synth_data["val"])}


def test_layers_and_provenance(synth_data, tmp_path: Path) -> None:
    override_file = tmp_path / "more.yaml"
    override_file.write_text("train:\n  optim:\n    momentum: 0.5\nmargin: 3.0\n")
    plan = _plain(
        overrides=["num_epochs=3", "train.seed=7", "dataset.input_map={A: 0, B: 1}", "num_input=2"],
        override_files=[str(override_file)],
        data_sources=_sources(synth_data),
    )
    spec, prov = plan.spec, plan.provenance
    assert spec["train"]["num_epochs"] == 3 and prov["train.num_epochs"] == "shorthand:num_epochs"
    assert spec["train"]["seed"] == 7 and prov["train.seed"] == "override"
    assert spec["dataset"]["input_map"] == {"A": 0, "B": 1} and prov["dataset.input_map"] == "override"
    assert (
        spec["train"]["optim"]["momentum"] == 0.5 and prov["train.optim.momentum"] == f"override_file:{override_file}"
    )
    assert spec["model"]["margin"] == 3.0
    assert prov["model.model_type"] == "template"
    train_dir = str(synth_data["train"])
    assert spec["dataset"]["train_dataset"]["csv_path"] == f"{train_dir}/dataset.csv"
    assert prov["dataset.train_dataset.images_dir"] == "data_source:train_datasets"
    assert prov["dataset.test_dataset.csv_path"] == "data_source:eval_dataset"
    assert spec["results_dir"] == plan.results_dir and prov["results_dir"] == "spec_param:output_dir"
    assert plan.results_dir.endswith(plan.job_id)
    assert plan.command == ["optical_inspection", "train", "-e", str(Path(plan.results_dir) / "spec.yaml")]
    assert plan.route == "direct" and plan.automl.source == "explicit"
    # pure: nothing recorded, no folder
    assert JobStore().list() == [] and not Path(plan.results_dir).exists()


def test_every_problem_reported_at_once(synth_data) -> None:
    with pytest.raises(UserError) as err:
        _plain(
            overrides=[
                "num_epoch=2",
                "train.optim.lr=fast",
                "batch_size=1",
                "num_input=3",
                "train.validation_interval=9",
                "num_epochs=2",
            ],
            data_sources={"train_dataset": str(synth_data["train"])},
        )
    issues = {i.path: i for i in err.value.issues}
    assert "did you mean 'num_epochs'" in issues["num_epoch"].hint
    assert issues["train.optim.lr"].rule == "schema.type" and issues["train.optim.lr"].value == "fast"
    assert issues["dataset.batch_size"].rule == "train_batch_size"
    assert issues["dataset.num_input"].rule == "num_input_matches_input_map"
    assert issues["train.validation_interval"].rule == "interval_le_num_epochs"
    assert "train_datasets" in issues["data.train_dataset"].hint
    assert issues["dataset.validation_dataset.csv_path"].rule in ("mandatory_input", "mandatory_value")
    assert "--data eval_dataset=" in issues["dataset.validation_dataset.csv_path"].hint
    for issue in err.value.issues:
        assert issue.message and issue.rule


def test_bad_override_syntax_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        _plain(overrides=["num_epochs"])
    assert err.value.issues[0].rule == "override_syntax"
    with pytest.raises(UserError) as err:
        _plain(override_files=[str(tmp_path / "nope.yaml")])
    assert err.value.issues[0].rule == "file_exists"
    with pytest.raises(UserError) as err:
        _plain(data_sources={"train_datasets": str(tmp_path / "missing"), "eval_dataset": str(tmp_path)})
    assert any(i.path == "data.train_datasets" and i.rule == "file_exists" for i in err.value.issues)
    assert any(i.path == "data.eval_dataset" and "dataset.csv not found" in i.message for i in err.value.issues)


def _fake_train_job(
    store: JobStore, epochs_auc: list[float], *, state: str = "done", fars: list[float] | None = None
) -> str:
    """A recorded train job whose results folder holds checkpoints and status.json lines as the trainer writes (the
    skill ranks by val_roc_auc, ties by val_far_at_target)."""
    job = store.create(
        skill="tao-train-optical-inspection",
        action="train",
        spec={"model": {"model_type": "Siamese_3"}, "dataset": {"image_width": 32, "image_height": 32, "num_input": 4}},
    )
    folder = Path(job.results_dir) / "train"
    folder.mkdir(parents=True)
    lines = []
    for epoch, auc in enumerate(epochs_auc):
        ckpt = folder / f"model_epoch_{epoch:03d}_step_{(epoch + 1) * 10:05d}.pth"
        ckpt.write_bytes(b"weights")
        kpi = {"val_acc": 100 - epoch, "val_roc_auc": auc, **({"val_far_at_target": fars[epoch]} if fars else {})}
        lines.append(json.dumps({"status": "RUNNING", "epoch": epoch, "kpi": kpi}))
    if epochs_auc:
        os.symlink(ckpt.name, folder / "oi_model_latest.pth")
    (folder / "status.json").write_text("\n".join(lines) + "\n")
    store.update(job.id, state=state)
    return job.id


def test_parent_chain_uses_resolver_and_inherits_shape(synth_data) -> None:
    store = JobStore()
    parent = _fake_train_job(store, [0.5, 0.9, 0.7])
    plan = api.plan(SKILL, "evaluate", parent_job_id=parent, data_sources={"eval_dataset": str(synth_data["val"])})
    assert plan.parent.model_path.endswith("model_epoch_001_step_00020.pth")
    assert "val_roc_auc=0.9" in plan.parent.reason
    assert plan.spec["evaluate"]["checkpoint"] == plan.parent.model_path
    assert plan.provenance["evaluate.checkpoint"] == "spec_param:parent_model"
    assert plan.spec["model"]["model_type"] == "Siamese_3" and plan.provenance["model.model_type"] == f"parent:{parent}"
    assert plan.spec["evaluate"]["trt_engine"] is None  # a .pth is no engine
    latest = api.plan(SKILL, "export", parent_job_id=parent, checkpoint="latest")
    assert latest.spec["export"]["checkpoint"].endswith("model_epoch_002_step_00030.pth")
    assert latest.spec["export"]["input_height"] == 4 * 32 and latest.spec["export"]["input_width"] == 32
    assert latest.spec["export"]["onnx_file"] == str(Path(latest.results_dir) / "model.onnx")
    epoch0 = api.plan(SKILL, "export", parent_job_id=parent, checkpoint="epoch=0")
    assert epoch0.spec["export"]["checkpoint"].endswith("model_epoch_000_step_00010.pth")


def test_best_parent_checkpoint_ties_go_to_the_lower_false_alarm_rate() -> None:
    """The skill's contract ranks by val_roc_auc and breaks ties by val_far_at_target (lower is better)."""
    parent = _fake_train_job(JobStore(), [0.99, 1.0, 1.0, 1.0], fars=[0.0, 0.2, 0.05, 0.3])
    plan = api.plan(SKILL, "export", parent_job_id=parent)
    assert plan.parent.model_path.endswith("model_epoch_002_step_00030.pth")
    assert "val_far_at_target=0.05 (min) decided" in plan.parent.reason
    report = api.checkpoints(parent)
    assert (report.metric, report.mode, report.tie_breaker) == ("val_roc_auc", "max", "val_far_at_target")
    assert report.chosen.epoch == 2


def test_parent_errors(synth_data) -> None:
    store = JobStore()
    parent = _fake_train_job(store, [0.8])
    export_job = store.create(skill="tao-train-optical-inspection", action="export", spec={})
    with pytest.raises(UserError) as err:
        api.plan(SKILL, "gen_trt_engine", parent_job_id=parent)
    assert err.value.issues[0].rule == "parent_action" and "export" in err.value.issues[0].hint
    with pytest.raises(UserError) as err:
        api.plan(SKILL, "export", parent_job_id=export_job.id)
    assert err.value.issues[0].rule == "parent_action"
    empty = _fake_train_job(store, [], state="failed")
    with pytest.raises(UserError) as err:
        api.plan(SKILL, "export", parent_job_id=empty)
    assert err.value.issues[0].rule == "checkpoint_missing"
    with pytest.raises(UserError) as err:
        api.plan(SKILL, "export", parent_job_id=parent, checkpoint="epoch=5")
    assert "available epochs: 0" in err.value.issues[0].hint
    with pytest.raises(UserError) as err:
        api.plan(SKILL, "export", parent_job_id="train-doesnotexist")
    assert err.value.issues[0].rule == "unknown_job"


def test_automl_parent_resolves_best_child() -> None:
    store = JobStore()
    child = _fake_train_job(store, [60.0, 75.0])
    study = store.create(
        skill="tao-train-optical-inspection", action="train", kind="automl", spec={}, best_child_id=child
    )
    plan = api.plan(SKILL, "export", parent_job_id=study.id)
    assert plan.parent.job_id == study.id and f"best trial {child}" in plan.parent.reason
    pending = store.create(skill="tao-train-optical-inspection", action="train", kind="automl", spec={})
    with pytest.raises(UserError) as err:
        api.plan(SKILL, "export", parent_job_id=pending.id)
    assert err.value.issues[0].rule == "parent_not_ready"


def test_calibration_source_is_a_list_and_engine_params(tmp_path: Path) -> None:
    store = JobStore()
    job = store.create(skill="tao-train-optical-inspection", action="export", spec={})
    onnx = Path(job.results_dir) / "model.onnx"
    onnx.parent.mkdir(parents=True)
    onnx.write_bytes(b"onnx")
    cal = tmp_path / "cal"
    cal.mkdir()
    plan = api.plan(SKILL, "gen_trt_engine", parent_job_id=job.id, data_sources={"calibration_dataset": str(cal)})
    gen = plan.spec["gen_trt_engine"]
    assert gen["onnx_file"] == str(onnx)
    assert gen["tensorrt"]["calibration"]["cal_image_dir"] == [f"{cal}/images.tar.gz"]
    assert gen["trt_engine"].endswith("model.engine") and gen["tensorrt"]["calibration"]["cal_cache_file"].endswith(
        "cal.bin"
    )


def test_encryption_key_never_in_plan(synth_data, monkeypatch) -> None:
    secret = "enc-key-SECRET-777"
    monkeypatch.setenv("TAO_ENCRYPTION_KEY", secret)
    plan = _plain(data_sources=_sources(synth_data), overrides=["encryption_key=other-SECRET-888"])
    dumped = plan.model_dump_json()
    assert secret not in dumped and "other-SECRET-888" not in dumped
    assert plan.provenance["encryption_key"] == "spec_param:key"
    assert plan._secrets["encryption_key"] == secret


def test_docker_backend_refuses_extensions(synth_data) -> None:
    with pytest.raises(UserError) as err:
        _plain(data_sources=_sources(synth_data), backend="docker", overrides=["train.target_recall=0.9"])
    rules = {i.path: i.rule for i in err.value.issues}
    assert rules == {"model.model_type": "tao_container_compat", "train.target_recall": "tao_container_compat"}
    ok = _plain(data_sources=_sources(synth_data), backend="docker", overrides=["model_type=Siamese_3"])
    from tao_skill.skill import load_skill
    from tao_skill.tao_compat import container_spec

    spec, issues, dropped = container_spec(ok.spec, load_skill(SKILL).schema("train"))
    assert not issues and "train.target_recall" in dropped and "target_recall" not in spec["train"]
