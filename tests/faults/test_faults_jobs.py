"""Items 4 and 8: supervision and the job store, with real jobs (``tao-skill run`` starts the supervisor and the
trainer as real processes), real signals and a real SQLite file.

- SIGKILL of a job's supervisor leaves no trainer behind (parent-death signal, then the group is killed when the
  runtime next looks at the job); ``cancel`` stops every process of a job and reports ``cancelled``;
- a damaged job store is a clear failure (JSON under ``--json``), one unreadable row hides no other job, and
  ``tao-skill jobs`` refreshes the state of jobs recorded as running.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tao_skill import api
from tao_skill.launchers.local import job_processes
from tao_skill.models import Job
from tao_skill.store import JobStore

pytestmark = pytest.mark.slow
SKILL = "tao-train-optical-inspection"
SLOW_TRAIN = ["num_epochs=200", "batch_size=4", "image_width=32", "image_height=32", "dataset.workers=2"]


def start_job(tao_skill, packaged_data) -> dict:
    run = tao_skill(
        "run", SKILL, "train", "--automl-policy", "off", "--data", f"train_datasets={packaged_data['train']}",
        "--data", f"eval_dataset={packaged_data['val']}", *SLOW_TRAIN, "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def wait_until(predicate, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def training_started(job: dict) -> bool:
    status = Path(job["results_dir"]) / "train" / "status.json"
    return status.is_file() and '"RUNNING"' in status.read_text()


def processes(job: dict) -> list[int]:
    return job_processes(Job.model_validate(job))


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_trainer_does_not_outlive_a_killed_supervisor(packaged_data, tao_skill) -> None:
    job = start_job(tao_skill, packaged_data)
    wait_until(lambda: training_started(job), "the first epoch")
    before = processes(job)
    assert job["pid"] in before and len(before) >= 3, before  # supervisor, trainer, data workers

    (trainer,) = [p for p in before if parent_of(p) == job["pid"]]
    os.kill(job["pid"], signal.SIGKILL)
    # the trainer gets SIGKILL with its supervisor (parent-death signal), before anyone looks at the job
    wait_until(lambda: trainer not in processes(job), "the trainer to die with its supervisor")

    status = tao_skill("status", job["id"], "--json")
    assert status.returncode == 0, status.stderr
    record = json.loads(status.stdout)
    assert record["state"] == "failed" and "supervisor" in record["error"]
    wait_until(lambda: processes(job) == [], "the data workers to be stopped")


def test_cancel_stops_every_process_and_reports_cancelled(packaged_data, tao_skill) -> None:
    job = start_job(tao_skill, packaged_data)
    wait_until(lambda: training_started(job), "the first epoch")
    assert len(processes(job)) >= 3

    cancelled = api.cancel(job["id"])  # what the CLI and the MCP server call

    assert cancelled.state == "cancelled" and cancelled.ended_at
    assert processes(job) == []
    jobs = json.loads(tao_skill("jobs", "--json").stdout)
    assert [j["state"] for j in jobs if j["id"] == job["id"]] == ["cancelled"]


def test_damaged_job_store_is_a_clear_failure(tao_skill) -> None:
    home = Path(os.environ["TAO_SKILL_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "jobs.db").write_bytes(b"this is not an SQLite database, it was overwritten" * 100)
    for args in (("jobs", "--json"), ("status", "train-0123456789ab", "--json")):
        run = tao_skill(*args)
        assert run.returncode == 1, run.stdout + run.stderr
        assert "Traceback" not in run.stderr
        error = json.loads(run.stdout)
        assert error["error"] == "failure" and "jobs.db" in error["message"] and "Move it aside" in error["message"]
    run = tao_skill("jobs")
    assert run.returncode == 1 and "Move it aside" in run.stderr and "Traceback" not in run.stderr


def test_an_unreadable_row_hides_no_other_job(tao_skill) -> None:
    store = JobStore()
    good = store.create(skill=SKILL, action="train", spec={}, state="done")
    bad = store.create(skill=SKILL, action="evaluate", spec={}, state="done")
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE jobs SET progress = '{not json' WHERE id = ?", (bad.id,))
        conn.execute("UPDATE jobs SET state = 'exploded' WHERE id = ?", (good.id,))
    third = store.create(skill=SKILL, action="export", spec={}, state="done")

    run = tao_skill("jobs", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert [j["id"] for j in json.loads(run.stdout)] == [third.id]
    assert bad.id in run.stderr and good.id in run.stderr and "unreadable" in run.stderr

    status = tao_skill("status", bad.id, "--json")
    assert status.returncode == 1 and "Traceback" not in status.stderr
    assert bad.id in json.loads(status.stdout)["message"]


def test_jobs_refreshes_states(tao_skill, tmp_path: Path) -> None:
    """A job recorded as running whose supervisor is gone (a real process that exited) is listed as failed."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    store = JobStore()
    job = store.create(skill=SKILL, action="train", spec={}, state="running", results_dir=str(tmp_path / "r"))
    store.update(job.id, pid=int(gone.stdout))
    run = tao_skill("jobs", "--json")
    assert run.returncode == 0, run.stderr
    (listed,) = json.loads(run.stdout)
    assert listed["id"] == job.id and listed["state"] == "failed" and listed["ended_at"]
