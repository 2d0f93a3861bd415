"""The docker backend through plan + staging + record: TAO-ready spec, images, mounts. No Docker engine runs here, so
a fake client object records the container request instead of starting it (the only fake in these tests)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from tao_skill import api
from tao_skill.launchers.docker import DockerLauncher
from tao_skill.store import JobStore

SKILL = "tao-train-optical-inspection"


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


def test_docker_train_and_engine_evaluate(synth_data, monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-SECRET-docker")
    monkeypatch.setenv("TAO_ENCRYPTION_KEY", "enc-SECRET-docker")
    client = _FakeClient()
    plan = api.plan(
        SKILL,
        "train",
        automl_policy="off",
        backend="docker",
        data_sources={"train_datasets": str(synth_data["train"]), "eval_dataset": str(synth_data["val"])},
        overrides=["model_type=Siamese_3", "num_epochs=1"],
    )
    job = api.launch_plan(plan, launcher=DockerLauncher(client))
    call = client.containers.calls[0]
    assert call["image"].endswith("-pyt") and job.container_id == "cid1" and job.state == "running"
    spec_file = Path(job.results_dir) / "spec.yaml"
    written = yaml.safe_load(spec_file.read_text())
    assert "target_recall" not in written["train"] and "threshold" not in written.get("evaluate", {})
    assert "train.target_recall" in job.plan.dropped_extension_keys
    assert written["encryption_key"] is None
    # the container reads the private spec holding the key; the recorded command and the stored spec do not
    assert call["command"][-1].endswith(".spec.run.yaml") and job.plan.command[-1] == str(spec_file)
    home = os.environ["TAO_SKILL_HOME"]
    assert call["volumes"][f"{home}/results"]["mode"] == "rw" and call["volumes"][f"{home}/data"]["mode"] == "ro"
    assert written["dataset"]["train_dataset"]["images_dir"].startswith(f"{home}/data/")
    assert call["environment"]["AWS_SECRET_ACCESS_KEY"] == "aws-SECRET-docker"
    stored = JobStore().get(job.id).model_dump_json()
    assert "aws-SECRET-docker" not in stored and "enc-SECRET-docker" not in stored

    engine_job = JobStore().create(skill=SKILL, action="gen_trt_engine", spec={})
    engine = Path(engine_job.results_dir) / "model.engine"
    engine.parent.mkdir(parents=True)
    engine.write_bytes(b"engine")
    JobStore().update(engine_job.id, state="done", spec={"gen_trt_engine": {"trt_engine": str(engine)}})
    evaluate = api.plan(
        SKILL,
        "evaluate",
        backend="docker",
        parent_job_id=engine_job.id,
        data_sources={"eval_dataset": str(synth_data["val"])},
        overrides=["model_type=Siamese_3"],
    )
    assert evaluate.spec["evaluate"]["trt_engine"] == str(engine) and evaluate.spec["evaluate"]["checkpoint"] is None
    api.launch_plan(evaluate, launcher=DockerLauncher(client))
    assert client.containers.calls[1]["image"].endswith("-deploy")
