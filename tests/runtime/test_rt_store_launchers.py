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
    job = store.create(skill="s", action="train", spec={"i": i}, extra={"writer": sys.argv[2]})
    store.update(job.id, state="running", extra={"step": i})
"""


def test_store_is_safe_for_concurrent_processes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(home), str(n)]) for n in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    jobs = JobStore(home).list()
    assert len(jobs) == 60 and len({j.id for j in jobs}) == 60
    assert all(j.state == "running" and "writer" in j.extra and "step" in j.extra for j in jobs)
    assert JobStore(home).list(state="running", limit=5)[0].state == "running"
    with pytest.raises(UserError):
        JobStore(home).list(colour="red")


def _job(store: JobStore, **extra):
    job = store.create(skill="tao-train-optical-inspection", action="train", spec={}, extra=extra)
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
        extra={"image_kind": "deploy", "mounts": [{"path": "/data/cache", "mode": "ro"}]},
    )
    client = _FakeDockerClient()
    launcher = DockerLauncher(client, images={"pyt": "tao:pyt", "deploy": "tao:deploy"}, shm_size="8g")
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
