"""Job store under concurrent processes; the local launcher (real detached processes); the docker request."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tao_skill import api
from tao_skill.errors import UserError
from tao_skill.launchers.docker import DockerLauncher, describe_request
from tao_skill.launchers.local import LocalLauncher
from tao_skill.store import JobStore

WRITER = """
import sys
from tao_skill.store import JobStore
store = JobStore(sys.argv[1])
for i in range(15):
    job = store.create(skill="s", action="train", spec={"i": i}, plan={"command": [sys.argv[2]]})
    store.update(job.id, state="running", study={"metric": f"step{i}"})
    store.update(job.id, study={"direction": "maximize"})  # merged into the stored record
"""


def test_store_is_safe_for_concurrent_processes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(home), str(n)]) for n in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    jobs = JobStore(home).list()
    assert len(jobs) == 60 and len({j.id for j in jobs}) == 60
    assert all(j.state == "running" and j.plan.command and j.study.metric.startswith("step") for j in jobs)
    assert all(j.study.direction == "maximize" for j in jobs)
    assert JobStore(home).list(state="running", limit=5)[0].state == "running"
    with pytest.raises(UserError):
        JobStore(home).list(colour="red")


def _job(store: JobStore, **parts):
    job = store.create(skill="tao-train-optical-inspection", action="train", spec={}, **parts)
    Path(job.results_dir).mkdir(parents=True)
    return job


def test_local_launcher_records_exit_code_and_logs() -> None:
    store = JobStore()
    job = _job(store)
    handle = LocalLauncher().launch(
        job,
        Path(job.results_dir) / "spec.yaml",
        [sys.executable, "-c", "print('hello from the job'); raise SystemExit(3)"],
    )
    store.update(job.id, pid=handle.pid, state="running")
    done = api.wait(job.id, timeout=60)
    assert done.state == "failed" and done.exit_code == 3
    assert "hello from the job" in api.logs(job.id)
    assert "exited with code 3" in api.logs(job.id, tail=1)


def test_local_cancel_stops_the_process_group(tmp_path: Path) -> None:
    store = JobStore()
    job = _job(store)
    marker = tmp_path / "child.pid"
    script = (
        "import os, subprocess, sys, time; "
        f"c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
        f"open({str(marker)!r} + '.tmp', 'w').write(str(c.pid)); os.rename({str(marker)!r} + '.tmp', {str(marker)!r}); "
        "time.sleep(120)"
    )
    secret_file = Path(job.results_dir) / ".spec.run.yaml"
    secret_file.write_text("encryption_key: x")
    handle = LocalLauncher().launch(
        job, Path(job.results_dir) / "spec.yaml", [sys.executable, "-c", script], cleanup=[secret_file]
    )
    store.update(job.id, pid=handle.pid, state="running")
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    grandchild = int(marker.read_text())
    assert api.status(job.id).state == "running"
    api.cancel(job.id)
    final = api.wait(job.id, timeout=60)
    assert final.state == "cancelled"
    deadline = time.monotonic() + 10
    while _running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(grandchild)
    assert not secret_file.exists()


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (an orphan may wait for a reaper in a container)."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


class _FakeContainers:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def run(self, **kwargs):
        self.calls.append(kwargs)
        return type("Container", (), {"id": "c0ffee"})()


class _FakeDockerClient:
    """Stands in for docker.DockerClient: no Docker engine runs on this machine, so only the request is checked."""

    def __init__(self) -> None:
        self.containers = _FakeContainers()


def test_docker_request(monkeypatch) -> None:
    """The docker launcher's request (image, GPUs, shm, mounts, AWS env). A fake client object records it because no
    Docker engine can run here."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-SECRET-value")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    store = JobStore()
    job = store.create(
        skill="tao-train-optical-inspection",
        action="gen_trt_engine",
        spec={"gen_trt_engine": {"gpu_id": 1}},
        container={"image": "tao:deploy", "image_kind": "deploy", "mounts": [{"path": "/data/cache", "mode": "ro"}]},
    )
    client = _FakeDockerClient()
    launcher = DockerLauncher(client, shm_size="8g")
    spec = Path(job.results_dir) / "spec.yaml"
    handle = launcher.launch(job, spec, ["optical_inspection", "gen_trt_engine", "-e", str(spec)])
    assert handle.container_id == "c0ffee"
    call = client.containers.calls[0]
    assert call["image"] == "tao:deploy" and call["shm_size"] == "8g" and call["detach"] is True
    assert call["command"] == ["optical_inspection", "gen_trt_engine", "-e", str(spec)]
    assert call["volumes"]["/data/cache"] == {"bind": "/data/cache", "mode": "ro"}
    assert call["volumes"][job.results_dir]["mode"] == "rw"
    assert call["environment"]["AWS_SECRET_ACCESS_KEY"] == "aws-SECRET-value"
    requests = call["device_requests"]
    assert [
        list(r["DeviceIDs"] if hasattr(r, "__getitem__") and "DeviceIDs" in r else r["device_ids"]) for r in requests
    ] == [["1"]]
    shown = describe_request(launcher.last_request)
    assert "aws-SECRET-value" not in repr(shown) and "AWS_SECRET_ACCESS_KEY" in shown["environment"]
    assert "aws-SECRET-value" not in store.get(job.id).model_dump_json()


def test_docker_without_engine_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(UserError) as err:
        DockerLauncher().check()
    assert err.value.issues[0].rule == "docker_unavailable" and "--backend local" in err.value.issues[0].hint


OLD_SCHEMA = """
CREATE TABLE jobs (id TEXT PRIMARY KEY, skill TEXT NOT NULL, action TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'job',
    parent_id TEXT, group_id TEXT, state TEXT NOT NULL, backend TEXT NOT NULL, results_dir TEXT NOT NULL,
    spec TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL, ended_at REAL, exit_code INTEGER, pid INTEGER,
    container_id TEXT, extra TEXT NOT NULL DEFAULT '{}');
"""


def test_store_written_by_the_untyped_version_is_migrated(tmp_path: Path) -> None:
    """A jobs.db from the version that kept job state in one `extra` JSON column opens with typed fields."""
    import json
    import sqlite3

    home = tmp_path / "home"
    home.mkdir()
    conn = sqlite3.connect(home / "jobs.db")
    conn.executescript(OLD_SCHEMA)
    rows = [
        ("automl-1", "automl", {"best_child_job_id": "train-2", "best_value": 0.9, "metric": "val_roc_auc",
                                "trial_counts": {"COMPLETE": 2}, "cancel_requested": True, "automl": {
                                    "enabled": True, "reason": "r", "source": "default", "runnable": True}}),
        ("train-2", "trial", {"trial_number": 1, "study": "automl-1", "params": {"model.margin": 2.5}, "pruned": True,
                              "pruned_at_epoch": 0, "progress": {"epoch": 0, "kpi": {"val_acc": 0.5}},
                              "command": ["optical_inspection", "train"], "image": "tao:pyt", "image_kind": "pyt",
                              "mounts": [{"path": "/r", "mode": "rw"}], "error": "boom"}),
    ]  # fmt: skip
    for job_id, kind, extra in rows:
        conn.execute(
            "INSERT INTO jobs VALUES (?, 's', 'train', ?, NULL, NULL, 'done', 'local', '/r', '{}', 1.0, NULL, NULL, "
            "NULL, NULL, NULL, ?)",
            (job_id, kind, json.dumps(extra)),
        )
    conn.commit()
    conn.close()
    store = JobStore(home)
    study, trial = store.get("automl-1"), store.get("train-2")
    assert study.best_child_id == "train-2" and study.cancel_requested is True
    assert study.study.best_value == 0.9 and study.study.trial_counts == {"COMPLETE": 2}
    assert study.plan.automl.source == "default"
    assert (trial.trial.number, trial.trial.pruned, trial.trial.params) == (1, True, {"model.margin": 2.5})
    assert trial.progress.kpi == {"val_acc": 0.5} and trial.plan.command[0] == "optical_inspection"
    assert trial.container.image == "tao:pyt" and trial.container.mounts[0].mode == "rw" and trial.error == "boom"
    assert len(store.list()) == 2 and store.update("train-2", state="failed").state == "failed"
