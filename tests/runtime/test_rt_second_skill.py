"""The second model skill, tao-train-visual-changenet (TAO's VisualChangeNet-Classification, generated from TAO
Core's visual_changenet config): it plans, validates, resolves parents and launches with the container backend, its
image and command coming from its contract. There is no Docker engine here, so a fake client object records the
container request instead of starting it (the only fake in these tests)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from tao_skill import api
from tao_skill.errors import UserError
from tao_skill.launchers.docker import DockerLauncher
from tao_skill.store import JobStore

SKILL = "tao-train-visual-changenet"


class _Containers:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def run(self, **kwargs):
        self.calls.append(kwargs)
        return type("Container", (), {"id": f"cid{len(self.calls)}"})()


class _FakeClient:
    """Records containers.run(...) (stands in for docker.DockerClient; there is no engine on this machine)."""

    def __init__(self) -> None:
        self.containers = _Containers()


def _sources(synth_data: dict[str, Path]) -> dict[str, str]:
    return {"train_datasets": str(synth_data["train"]), "eval_dataset": str(synth_data["val"])}


def test_plans_train_in_its_container_with_its_keys(synth_data) -> None:
    plan = api.plan(SKILL, "train", automl_policy="off", data_sources=_sources(synth_data), overrides=["num_epochs=2"])
    assert plan.backend == "docker"  # the skill's only backend, from its contract
    assert plan.command[:2] == ["visual_changenet", "train"] and plan.command[-1].endswith("spec.yaml")
    classify = plan.spec["dataset"]["classify"]
    assert classify["train_dataset"]["csv_path"] == str(synth_data["train"] / "dataset.csv")
    assert plan.provenance["dataset.classify.validation_dataset.images_dir"] == "data_source:eval_dataset"
    assert plan.spec["task"] == "classify" and "segment" not in plan.spec["dataset"]
    assert plan.spec["train"]["num_epochs"] == 2 and plan.provenance["train.num_epochs"] == "shorthand:num_epochs"
    assert api.plan(SKILL, "train", data_sources=_sources(synth_data)).route == "automl"
    with pytest.raises(UserError) as err:
        api.plan(SKILL, "train", backend="local", data_sources=_sources(synth_data))
    assert err.value.issues[0].rule == "skill_backend" and "--backend docker" in err.value.issues[0].hint


def test_validates_with_its_schema_and_rules(synth_data) -> None:
    with pytest.raises(UserError) as err:
        api.plan(
            SKILL,
            "train",
            automl_policy="off",
            data_sources={"train_datasets": str(synth_data["train"])},
            overrides=["num_input=3", "train.validation_interval=50", "dataset.classify.batchsize=4", "task=segment"],
        )
    issues = {i.path: i for i in err.value.issues}
    assert issues["dataset.classify.num_input"].rule == "num_input_matches_input_map"
    assert "has 4 light(s)" in issues["dataset.classify.num_input"].message
    assert issues["train.validation_interval"].rule == "interval_le_num_epochs"
    assert "batch_size" in issues["dataset.classify.batchsize"].hint
    assert issues["task"].rule == "schema.enum"
    assert issues["dataset.classify.validation_dataset.csv_path"].rule == "mandatory_input"
    assert "--data eval_dataset=" in issues["dataset.classify.validation_dataset.csv_path"].hint


def test_launches_with_image_and_command_from_its_contract(synth_data, monkeypatch) -> None:
    monkeypatch.setenv("TAO_ENCRYPTION_KEY", "enc-SECRET-vcn")
    client = _FakeClient()
    plan = api.plan(SKILL, "train", automl_policy="off", data_sources=_sources(synth_data))
    job = api.launch_plan(plan, launcher=DockerLauncher(client))
    call = client.containers.calls[0]
    assert call["image"] == "nvcr.io/nvidia/tao/tao-toolkit:6.0.0-pyt" and job.container.image_kind == "pyt"
    assert call["command"][:2] == ["visual_changenet", "train"] and call["command"][-1].endswith(".spec.run.yaml")
    home = os.environ["TAO_SKILL_HOME"]
    assert call["volumes"][f"{home}/results"]["mode"] == "rw" and call["volumes"][f"{home}/data"]["mode"] == "ro"
    written = yaml.safe_load((Path(job.results_dir) / "spec.yaml").read_text())
    staged = written["dataset"]["classify"]["train_dataset"]
    assert staged["images_dir"].startswith(f"{home}/data/") and (Path(staged["images_dir"]) / "golden").is_dir()
    assert written["encryption_key"] is None and "enc-SECRET-vcn" not in JobStore().get(job.id).model_dump_json()


def _fake_train_job(store: JobStore, accs: list[float], fprs: list[float]) -> str:
    """A VisualChangeNet train job's results as TAO's container leaves them (its checkpoint names, its KPIs)."""
    job = store.create(
        skill=SKILL,
        action="train",
        backend="docker",
        spec={"model": {"backbone": {"type": "vit_large_nvdinov2"}}, "dataset": {"classify": {"image_width": 100}}},
    )
    folder = Path(job.results_dir) / "train"
    folder.mkdir(parents=True)
    lines = []
    for epoch, (acc, fpr) in enumerate(zip(accs, fprs, strict=True)):
        ckpt = folder / f"model_epoch_{epoch:03d}_step_{(epoch + 1) * 7:05d}.pth"
        ckpt.write_bytes(b"weights")
        lines.append(json.dumps({"status": "RUNNING", "epoch": epoch, "kpi": {"val_acc": acc, "val_fpr": fpr}}))
    os.symlink(ckpt.name, folder / "changenet_model_classify_latest.pth")
    (folder / "status.json").write_text("\n".join(lines) + "\n")
    store.update(job.id, state="done")
    return job.id


def test_resolves_parents_through_its_checkpoint_names_and_ranking(synth_data) -> None:
    store = JobStore()
    parent = _fake_train_job(store, [90.0, 97.0, 97.0, 95.0], [0.3, 0.2, 0.1, 0.0])
    evaluate = api.plan(SKILL, "evaluate", parent_job_id=parent, data_sources={"eval_dataset": str(synth_data["val"])})
    assert evaluate.parent.model_path.endswith("model_epoch_002_step_00021.pth")  # val_acc tie: lower val_fpr
    assert "val_acc=97" in evaluate.parent.reason and "val_fpr=0.1 (min) decided" in evaluate.parent.reason
    assert evaluate.spec["evaluate"]["checkpoint"] == evaluate.parent.model_path
    assert evaluate.spec["model"]["backbone"]["type"] == "vit_large_nvdinov2"
    assert evaluate.provenance["dataset.classify.image_width"] == f"parent:{parent}"
    latest = api.plan(SKILL, "export", parent_job_id=parent, checkpoint="latest")
    assert latest.spec["export"]["checkpoint"].endswith("model_epoch_003_step_00028.pth")
    assert "changenet_model_classify_latest.pth points to it" in latest.parent.reason
    report = api.checkpoints(parent)
    assert (report.metric, report.tie_breaker, report.chosen.epoch) == ("val_acc", "val_fpr", 2)

    client = _FakeClient()
    export_job = api.launch_plan(latest, launcher=DockerLauncher(client))
    Path(export_job.spec["export"]["onnx_file"]).write_bytes(b"onnx")
    store.update(export_job.id, state="done")
    engine = api.plan(SKILL, "gen_trt_engine", parent_job_id=export_job.id)
    assert engine.spec["gen_trt_engine"]["onnx_file"] == export_job.spec["export"]["onnx_file"]
    api.launch_plan(engine, launcher=DockerLauncher(client))
    assert client.containers.calls[1]["image"].endswith("-deploy")
    assert client.containers.calls[1]["command"][:2] == ["visual_changenet", "gen_trt_engine"]
    with pytest.raises(UserError) as err:
        api.plan(SKILL, "export", parent_job_id=export_job.id)
    assert err.value.issues[0].rule == "parent_action"
