"""Jobs and AutoML studies on a real Ray cluster (head + a second node process), results on moto's S3, a study on
a real PostgreSQL server. One cluster serves the module; jobs train on 16 tiny pairs (AutoML trials
for three epochs)."""

from __future__ import annotations

import json
import os
import signal
import sys
import urllib.request
from pathlib import Path

import pytest

from devtools import engines

sys.path.insert(0, str(Path(__file__).parent))

from cluster_cli import SKILL, TINY, as_json, data_args, tao_skill, wait_for  # noqa: E402

pytestmark = pytest.mark.slow


def _ray_job(address: str, job_id: str) -> dict:
    with urllib.request.urlopen(f"{address}/api/jobs/{job_id}", timeout=10) as answer:
        return json.loads(answer.read())


def _processes_of(job_id: str) -> list[int]:
    """Processes on this machine started for the job (the job's environment names it)."""
    found = []
    marker = f"TAO_SKILL_JOB_ID={job_id}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_train_then_evaluate_chained_on_ray_with_results_on_s3(on_cluster) -> None:
    """A train job on the cluster mirrors its results to S3; the runtime lists its checkpoints there; an evaluate
    chained by job id runs on the cluster from the S3 checkpoint, an export here from the same checkpoint; local
    data is refused for the cluster."""
    train = as_json(
        tao_skill(
            "run", SKILL, "train", "--backend", "ray", "--automl-policy", "off", *data_args(on_cluster),
            *TINY, "num_epochs=2", "--wait", "--json",
        )
    )  # fmt: skip
    assert train["state"] == "done", train
    assert train["results_dir"] == f"s3://results/runs/{train['id']}"
    assert train["progress"]["status"] == "SUCCESS" and train["cluster"]["resources"]["num_cpus"] == 1.0

    report = as_json(tao_skill("checkpoints", train["id"], "--json"))
    names = [c["path"] for c in report["candidates"]]
    assert len(names) == 2 and all(n.startswith(f"{train['results_dir']}/train/model_epoch_") for n in names)
    latest = as_json(tao_skill("checkpoints", train["id"], "--select", "latest", "--json"))
    assert latest["chosen"]["path"] == names[-1] and "points to it" in latest["chosen"]["reason"]
    assert "Trainer.fit" in tao_skill("logs", train["id"]).stdout

    evaluate = as_json(
        tao_skill(
            "run", SKILL, "evaluate", "--backend", "ray", "--parent", train["id"],
            "--data", f"eval_dataset={on_cluster['eval_dataset']}", "--wait", "--json",
        )
    )  # fmt: skip
    assert evaluate["state"] == "done", evaluate
    assert evaluate["plan"]["parent"]["model_path"] in names
    assert "roc_auc" in evaluate["progress"]["kpi"]

    exported = as_json(
        tao_skill("run", SKILL, "export", "--backend", "local", "--parent", train["id"], "--wait", "--json")
    )
    assert exported["state"] == "done", exported  # here, from the checkpoint the cluster left on S3
    assert exported["plan"]["parent"]["model_path"] in names and Path(exported["spec"]["export"]["onnx_file"]).is_file()

    local = tao_skill(
        "plan", SKILL, "evaluate", "--backend", "ray", "--parent", train["id"], "--data",
        f"eval_dataset={Path.cwd()}", "--json", check=False,
    )  # fmt: skip
    assert local.returncode == 2
    assert "local_path_on_cluster" in {i["rule"] for i in as_json(local)["issues"]}


def test_cancel_stops_a_running_ray_job(on_cluster, ray_cluster) -> None:
    """Cancel stops the job on the cluster (Ray says STOPPED), leaves no process of it, and what it wrote so far
    is on S3."""
    job = as_json(
        tao_skill(
            "run", SKILL, "train", "--backend", "ray", "--automl-policy", "off", *data_args(on_cluster),
            *TINY, "num_epochs=200", "--json",
        )
    )  # fmt: skip
    wait_for(
        lambda: (as_json(tao_skill("status", job["id"], "--json")).get("progress") or {}).get("epoch") is not None,
        240,
        "the job's first epoch in its status.json on S3",
    )
    cancelled = as_json(tao_skill("cancel", job["id"], "--timeout", "90", "--json"))
    assert cancelled["state"] == "cancelled"
    assert _ray_job(ray_cluster.address, job["id"])["status"] == "STOPPED"
    wait_for(lambda: not _processes_of(job["id"]), 30, "the job's processes to end")
    checkpoints = as_json(tao_skill("checkpoints", job["id"], "--select", "latest", "--json"))
    assert checkpoints["chosen"]["path"].startswith(f"s3://results/runs/{job['id']}/")


def _trainers_of(job_id: str) -> list[int]:
    """The trainer processes of a job (its ``optical_inspection`` command) on this machine."""
    found = []
    for pid in _processes_of(job_id):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"optical_inspection") for part in cmdline):
            found.append(pid)
    return found


def _training_on(address: str, node_id: str) -> str | None:
    """A tao-skill job Ray runs on ``node_id`` whose trainer process is running (one request to the dashboard)."""
    with urllib.request.urlopen(f"{address}/api/jobs/", timeout=10) as answer:
        rows = json.loads(answer.read())
    for row in rows:
        job_id = row.get("submission_id")
        if row.get("status") == "RUNNING" and row.get("driver_node_id") == node_id and _trainers_of(job_id):
            return job_id
    return None


def test_automl_study_on_ray_with_postgres(on_cluster, ray_cluster, postgres) -> None:
    """Six trials, two at once on the cluster, the study on PostgreSQL: a node lost while a trial trains there
    fails that trial and the study goes on; the study's own process killed while trials run, `automl resume`
    follows those trials to their end (they complete, not re-queued) and finishes the budget; the report names the
    best trial and its checkpoints are on S3."""
    study = as_json(
        tao_skill(
            "run", SKILL, "train", "--backend", "ray", *data_args(on_cluster), *TINY,
            "--automl-setting", "algorithm=random", "--automl-setting", "max_trials=6",
            "--automl-setting", "max_epochs=3", "--automl-setting", "max_concurrent=2",
            "--automl-setting", f"storage={postgres.url}", "--json",
        )
    )  # fmt: skip
    assert study["kind"] == "automl" and study["study"]["storage"].startswith("postgresql+psycopg://")

    def trials() -> list[dict]:
        return as_json(tao_skill("jobs", "--group", study["id"], "--json"))

    # a worker node lost while a trial trains there: its processes are frozen first, so the trial cannot finish
    # between being found and the node's death; that trial fails, the study goes on
    victim = wait_for(
        lambda: _training_on(ray_cluster.address, ray_cluster.node_id("node2")), 300, "a trial training on node2",
        poll=0.2,
    )  # fmt: skip
    on_node2 = set(engines.process_tree(ray_cluster.nodes["node2"].pid))
    for pid in set(_processes_of(victim)) & on_node2:
        os.kill(pid, signal.SIGSTOP)
    ray_cluster.kill_node("node2")
    lost = wait_for(
        lambda: next((t for t in trials() if t["id"] == victim and t["state"] == "failed"), None),
        120,
        "the trial on the lost node to fail",
    )
    assert lost["exit_code"] != 0 and "actor died" in (lost["error"] or ""), lost
    ray_cluster.add_node("node3", cpus=1)

    # the study's process killed while trials train: the study is interrupted, resume follows them and finishes
    wait_for(lambda: sum(t["state"] == "done" for t in trials()) >= 1, 400, "a finished trial")
    running = wait_for(
        lambda: [t["id"] for t in trials() if t["state"] == "running" and _trainers_of(t["id"])],
        300,
        "a training trial",
    )
    os.kill(study["pid"], signal.SIGKILL)
    interrupted = wait_for(
        lambda: (lambda j: j if j["state"] == "failed" else None)(as_json(tao_skill("status", study["id"], "--json"))),
        60,
        "the study to be seen as interrupted",
    )
    assert interrupted["interrupted"] is True
    tao_skill("automl", "resume", study["id"])
    final = wait_for(
        lambda: (lambda j: j if j["state"] in ("done", "failed", "cancelled") else None)(
            as_json(tao_skill("status", study["id"], "--json"))
        ),
        600,
        "the resumed study to end",
        poll=2.0,
    )
    assert final["state"] == "done", final
    counts = final["study"]["trial_counts"]
    assert counts.get("COMPLETE", 0) + counts.get("PRUNED", 0) >= 6 and counts.get("FAIL", 0) >= 1, counts

    ended = {t["id"]: t for t in trials()}
    assert ended[victim]["state"] == "failed"
    assert all(ended[j]["state"] == "done" for j in running), "trials running on the cluster were followed to the end"
    report = as_json(tao_skill("automl", "report", study["id"], "--json"))
    states = {t["job_id"]: t["state"] for t in report["trials"]}
    assert states[victim] == "FAIL" and all(states[j] == "COMPLETE" for j in running), states
    runs = [t for t in trials() if t.get("started_at") and t.get("ended_at")]
    overlaps = [
        (a["id"], b["id"])
        for a in runs
        for b in runs
        if a["id"] < b["id"] and a["started_at"] < b["ended_at"] and b["started_at"] < a["ended_at"]
    ]
    assert overlaps, "no two trials ran at once"

    text = tao_skill("automl", "report", study["id"]).stdout
    assert f"job {final['best_child_id']}" in text
    best = as_json(tao_skill("checkpoints", study["id"], "--json"))
    assert best["job_id"] == final["best_child_id"] and best["chosen"]["path"].startswith("s3://results/runs/")


def test_doctor_reports_the_cluster_and_the_study_database(on_cluster, ray_cluster, postgres, monkeypatch) -> None:
    """doctor: the cluster answers with its live nodes and GPUs, the results store and the database are reachable;
    a cluster or database that does not answer is reported missing with what to do."""
    monkeypatch.setenv("TAO_SKILL_AUTOML_STORAGE", postgres.url)
    checks = {c["name"]: c for c in as_json(tao_skill("doctor", "--json")) if c["group"] == "cluster"}
    assert checks["ray"]["status"] == "ok" and ray_cluster.address in checks["ray"]["detail"]
    assert checks["nodes"]["status"] == "ok" and "live of" in checks["nodes"]["detail"]
    assert checks["gpus"]["detail"] == "no GPUs: jobs run on CPUs"
    assert checks["results"]["status"] == "ok"
    assert checks["study database"]["status"] == "ok" and "PostgreSQL" in checks["study database"]["detail"]

    from devtools.engines import free_port

    closed = free_port()
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{closed}")
    monkeypatch.setenv("TAO_SKILL_AUTOML_STORAGE", postgres.url.replace(str(postgres.port), str(closed)))
    checks = {c["name"]: c for c in as_json(tao_skill("doctor", "--json")) if c["group"] == "cluster"}
    assert checks["ray"]["status"] == "missing" and "RAY_ADDRESS" in checks["ray"]["fix"]
    assert checks["study database"]["status"] == "missing"
    refused = tao_skill("run", SKILL, "train", "--backend", "ray", "--automl-policy", "off", *data_args(on_cluster),
                        *TINY, "--json", check=False)  # fmt: skip
    assert refused.returncode == 2 and "ray_cluster" in {i["path"] for i in as_json(refused)["issues"]}
    assert as_json(tao_skill("jobs", "--json")) == []
