"""AutoML studies end to end: real trial processes of the embedded trainer, real Optuna storage, real workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from runtime import api
from runtime.automl.study import open_storage, read_config
from runtime.store import JobStore

from .conftest import SKILL, TINY, as_json, tao_skill, wait_for

pytestmark = pytest.mark.slow


def data_args(tiny_data: dict[str, Path]) -> list[str]:
    return ["--data", f"train_datasets={tiny_data['train']}", "--data", f"eval_dataset={tiny_data['val']}"]


def load(job_id: str) -> optuna.Study:
    config = read_config(JobStore().get(job_id))
    return optuna.load_study(study_name=config["study"], storage=open_storage(config["storage"]))


def test_default_policy_runs_a_study_whose_parent_feeds_evaluate(tiny_data: dict[str, Path]) -> None:
    started = as_json(
        tao_skill(
            "run",
            SKILL,
            "train",
            *data_args(tiny_data),
            *TINY,
            "--automl-setting",
            "max_trials=2",
            "--automl-setting",
            "algorithm=random",
            "--json",
        )
    )
    assert started["kind"] == "automl" and started["extra"]["automl"]["source"] == "default"
    parent = api.wait(started["id"], timeout=400)
    assert parent.state == "done", parent.extra
    trials = JobStore().list(group_id=parent.id)
    assert len([t for t in trials if t.state == "done"]) == 2
    assert parent.extra["best_child_job_id"] in {t.id for t in trials}
    report = as_json(tao_skill("automl", "report", parent.id, "--json"))
    assert report["trial_counts"] == {"COMPLETE": 2}
    assert report["best"]["checkpoint"].endswith(".pth")
    assert any(p.endswith("optimization_history.png") for p in report["plots"])
    assert all(Path(p).stat().st_size > 1000 for p in report["plots"])
    evaluated = as_json(
        tao_skill(
            "run",
            SKILL,
            "evaluate",
            "--parent",
            parent.id,
            "--data",
            f"eval_dataset={tiny_data['val']}",
            "image_width=32",
            "image_height=32",
            "dataset.workers=0",
            "--wait",
            "--json",
        )
    )
    assert evaluated["state"] == "done"
    assert evaluated["extra"]["parent"]["model_path"] == report["best"]["checkpoint"]


def test_plain_training_in_the_request_trains_directly(tiny_data: dict[str, Path]) -> None:
    plan = as_json(
        tao_skill(
            "plan", SKILL, "train", *data_args(tiny_data), *TINY, "--request", "plain training please, no HPO", "--json"
        )
    )
    assert plan["route"] == "direct" and plan["automl"]["enabled"] is False
    assert plan["automl"]["source"] == "request_text"


def test_a_trial_worse_than_the_rung_is_pruned_and_its_process_stopped(tiny_data: dict[str, Path]) -> None:
    """The study is seeded with a recorded trial that reached val_loss 0 at every epoch (as if another worker had
    run it); ASHA must then prune the real trial after its first epoch of three and stop its train process."""
    started = as_json(
        tao_skill(
            "run",
            SKILL,
            "train",
            *data_args(tiny_data),
            *TINY,
            "--automl-setting",
            "max_trials=2",
            "--automl-setting",
            "algorithm=asha",
            "--automl-setting",
            "reduction_factor=2",
            "--automl-setting",
            "max_epochs=3",
            "--automl-setting",
            "metric=val_loss",
            "--automl-policy",
            "on",
            "--json",
        )
    )
    study = load(started["id"])
    study.add_trial(
        optuna.trial.create_trial(
            value=0.0,
            intermediate_values={1: 0.0, 2: 0.0, 3: 0.0},
            system_attrs={"completed_rung_0": 0.0, "completed_rung_1": 0.0},
        )
    )
    parent = api.wait(started["id"], timeout=300)
    trials = [t for t in load(started["id"]).get_trials() if t.user_attrs.get("job_id")]
    assert [t.state.name for t in trials] == ["PRUNED"]
    job = JobStore().get(trials[0].user_attrs["job_id"])
    assert job.extra["pruned"] is True and job.extra["pruned_at_epoch"] == 0
    assert job.state == "cancelled"
    assert len(trials[0].intermediate_values) == 1
    assert parent.state in ("done", "failed")  # only the seeded trial completed


def test_two_workers_share_one_study(tiny_data: dict[str, Path]) -> None:
    started = as_json(
        tao_skill(
            "run",
            SKILL,
            "train",
            *data_args(tiny_data),
            *TINY,
            "--automl-setting",
            "max_trials=3",
            "--automl-setting",
            "algorithm=random",
            "--json",
        )
    )
    second = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "automl", "worker", started["id"]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        parent = api.wait(started["id"], timeout=400)
        assert second.wait(timeout=300) == 0
    finally:
        if second.poll() is None:
            second.kill()
    assert parent.state == "done"
    trials = [t for t in load(started["id"]).get_trials() if t.state.name == "COMPLETE"]
    assert len(trials) >= 3
    assert len({t.user_attrs["worker_pid"] for t in trials}) == 2


def test_a_killed_worker_resumes_and_completes_the_budget(tiny_data: dict[str, Path]) -> None:
    started = as_json(
        tao_skill(
            "run",
            SKILL,
            "train",
            *data_args(tiny_data),
            *TINY,
            "--automl-setting",
            "max_trials=2",
            "--automl-setting",
            "algorithm=random",
            "--json",
        )
    )
    wait_for(lambda: JobStore().list(group_id=started["id"]), 120, "the first trial job")
    os.kill(started["pid"], signal.SIGKILL)
    interrupted = wait_for(
        lambda: (j := api.status(started["id"])).state == "failed" and j, 60, "the study to be seen interrupted"
    )
    assert interrupted.extra["interrupted"] is True and "automl resume" in interrupted.extra["error"]
    resumed = as_json(tao_skill("automl", "resume", started["id"], "--json"))
    assert resumed["state"] == "running"
    parent = api.wait(started["id"], timeout=400)
    assert parent.state == "done", parent.extra
    states = [t.state.name for t in load(started["id"]).get_trials()]
    assert states.count("COMPLETE") >= 2
    assert "FAIL" in states  # the trial the dead worker was running, queued again
