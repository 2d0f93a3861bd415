"""AutoML studies end to end: real trial processes of the embedded trainer, real Optuna storage, real workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tao_skill import api
from tao_skill.automl.storage import open_storage, read_config
from tao_skill.store import JobStore

from .conftest import SKILL, TINY, as_json, tao_skill, wait_for

pytestmark = pytest.mark.slow
SECRET = "k3y-that-must-not-leak"


def data_args(tiny_data: dict[str, Path]) -> list[str]:
    return ["--data", f"train_datasets={tiny_data['train']}", "--data", f"eval_dataset={tiny_data['val']}"]


def start_study(tiny_data: dict[str, Path], *args: str, **settings: object) -> dict:
    """``tao-skill run`` of a train job on the tiny data with ``--automl-setting KEY=VALUE`` per keyword; its JSON."""
    pairs = [arg for key, value in settings.items() for arg in ("--automl-setting", f"{key}={value}")]
    return as_json(tao_skill("run", SKILL, "train", *data_args(tiny_data), *TINY, *args, *pairs, "--json"))


def load(job_id: str) -> optuna.Study:
    config = read_config(JobStore().get(job_id))
    return optuna.load_study(study_name=config["study"], storage=open_storage(config["storage"]))


def test_default_policy_runs_a_study_whose_parent_feeds_evaluate(tiny_data: dict[str, Path]) -> None:
    """Also: an encryption_key given on the command line reaches no file of the study, its trials or the store."""
    started = start_study(tiny_data, f"encryption_key={SECRET}", max_trials=2, parallel=2, algorithm="random")
    assert started["kind"] == "automl" and started["plan"]["automl"]["source"] == "default"
    parent = api.wait(started["id"], timeout=400)
    assert parent.state == "done", parent
    trials = JobStore().list(group_id=parent.id)
    assert len([t for t in trials if t.state == "done"]) == 2
    first, second = sorted(trials, key=lambda t: t.started_at or 0)
    assert second.started_at < first.ended_at, "parallel=2 runs both trials at once"
    assert parent.best_child_id in {t.id for t in trials}
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
    assert evaluated["plan"]["parent"]["model_path"] == report["best"]["checkpoint"]
    home = Path(os.environ["TAO_SKILL_HOME"])
    leaked = [p for p in home.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaked == [], f"the secret was written to {leaked}"
    assert all(SECRET not in json.dumps(t.model_dump(mode="json")) for t in JobStore().list())
    assert {t.plan.provenance.get("encryption_key") for t in trials} == {"override"}, "trials get the key"


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
    started = start_study(
        tiny_data,
        "--automl-policy",
        "on",
        max_trials=2,
        algorithm="asha",
        reduction_factor=2,
        max_epochs=3,
        metric="val_loss",
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
    assert job.trial.pruned is True and job.trial.pruned_at_epoch == 0
    assert job.state == "cancelled"
    assert len(trials[0].intermediate_values) == 1
    assert parent.state in ("done", "failed")  # only the seeded trial completed


def test_a_second_machine_joins_from_the_storage_and_a_failing_trial_does_not_stop_the_study(
    tiny_data: dict[str, Path], tmp_path: Path
) -> None:
    """Two workers share one SQLite study: the second has its own TAO_SKILL_HOME (as on another machine) and joins
    with --study/--storage only. A queued trial resuming from a corrupt checkpoint fails (Optuna FAIL, job failed)
    and the study still completes its budget."""
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    started = start_study(tiny_data, max_trials=2, algorithm="random", storage=storage)
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint")
    study = optuna.load_study(study_name=started["id"], storage=storage)
    study.enqueue_trial({}, user_attrs={"resume_from": str(corrupt)})
    other_home = tmp_path / "other_machine"
    second = subprocess.Popen(
        [sys.executable, "-m", "tao_skill.cli", "automl", "worker", "--study", started["id"], "--storage", storage],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TAO_SKILL_HOME": str(other_home)},
    )
    try:
        parent = api.wait(started["id"], timeout=400)
        assert second.wait(timeout=300) == 0, second.stdout.read().decode() if second.stdout else ""
    finally:
        if second.poll() is None:
            second.kill()
    assert parent.state == "done", parent
    trials = optuna.load_study(study_name=started["id"], storage=storage).get_trials()
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") >= 2 and states.count("FAIL") == 1
    assert len({t.user_attrs["worker_pid"] for t in trials}) == 2
    failed = next(t for t in trials if t.state.name == "FAIL")
    homes = {None: JobStore(), str(other_home): JobStore(str(other_home))}
    failed_job = next(
        store.get(failed.user_attrs["job_id"])
        for store in homes.values()
        if failed.user_attrs["job_id"] in {j.id for j in store.list()}
    )
    assert failed_job.state == "failed" and failed_job.kind == "trial"
    joined = JobStore(str(other_home)).get(started["id"])
    assert joined.kind == "automl" and joined.study.joined is True
    assert {j.group_id for j in JobStore(str(other_home)).list(kind="trial")} == {started["id"]}


def test_a_killed_worker_resumes_and_completes_the_budget(tiny_data: dict[str, Path]) -> None:
    """The worker killed, then its trial's job stopped too: resume re-queues the trial with the same values."""
    started = start_study(tiny_data, max_trials=1, algorithm="random")
    first = wait_for(lambda: JobStore().list(group_id=started["id"]), 120, "the first trial job")[0]
    os.kill(started["pid"], signal.SIGKILL)
    api.cancel(first.id)  # nothing left running to take over
    interrupted = wait_for(
        lambda: (j := api.status(started["id"])).state == "failed" and j, 60, "the study to be seen interrupted"
    )
    assert interrupted.interrupted is True and "automl resume" in interrupted.error
    resumed = as_json(tao_skill("automl", "resume", started["id"], "--json"))
    assert resumed["state"] == "running"
    parent = api.wait(started["id"], timeout=400)
    assert parent.state == "done", parent
    trials = load(started["id"]).get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"]
    assert trials[1].user_attrs["requeued_from"] == 0 and trials[1].params == trials[0].params
    first_job = api.status(trials[0].user_attrs["job_id"])
    assert first_job.state in ("cancelled", "failed", "done") and first_job.interrupted is True
    again = tao_skill("automl", "resume", started["id"], check=False)
    assert again.returncode == 2 and "already finished its budget" in again.stderr + again.stdout


def test_bad_settings_exit_2_and_record_nothing(tiny_data: dict[str, Path]) -> None:
    for setting, rule in (("algorithm=grid", "grid_too_large"), ("parameters_add=dataset.num_input", "disabled")):
        result = tao_skill(
            "run", SKILL, "train", *data_args(tiny_data), *TINY, "--automl-setting", setting, "--json", check=False
        )
        assert result.returncode == 2, result.stderr
        assert rule in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert JobStore().list() == []


def test_cancel_stops_the_worker_and_its_running_trial(tiny_data: dict[str, Path]) -> None:
    started = start_study(tiny_data, max_trials=3, max_epochs=20)
    trial = wait_for(lambda: JobStore().list(group_id=started["id"]), 120, "the first trial job")[0]
    tao_skill("cancel", started["id"])
    assert api.status(started["id"]).state == "cancelled"
    assert api.wait(trial.id, timeout=60).state == "cancelled"
    wait_for(lambda: not _alive(started["pid"]), 60, "the worker to exit")
    assert len(JobStore().list(group_id=started["id"])) == 1, "no trial starts after a cancel"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has exited
    except (ProcessLookupError, FileNotFoundError):
        return False
