"""Scale-out costs on a real local Ray cluster (a head and a second node process, 1 CPU each), moto's S3 and, when
installed, PostgreSQL:

- dispatch overhead per job: the wall time of a job whose command does nothing, launched, followed and finished
  through the ``ray`` launcher (submit with the working directory, runtime environment, node-side entry, results
  mirrored to S3, exit record) vs the ``local`` launcher (a supervised process), side by side in one run;
- an AutoML study's wall time with 2 trials at once vs 1 at a time: the same budget (4 one-epoch trials of 16
  tiny pairs), the same sampler and seed, trials as Ray jobs, the study on PostgreSQL (a journal file without it).
  On this 2-core machine the two trainers share the cores, so the ratio is what concurrency buys here, not on a
  cluster of GPU nodes.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._table import Row

REPO = Path(__file__).resolve().parents[1]
JOBS = 3
SKILL = "tao-train-optical-inspection"
TINY = ["num_epochs=1", "batch_size=4", "image_width=32", "image_height=32", "dataset.workers=0"]


def _noop_job_seconds(backend: str, home: str) -> float:
    """Wall time of one job running ``python -c pass`` through ``backend``'s launcher, until it is seen done."""
    from tao_skill import s3_files
    from tao_skill.following import wait
    from tao_skill.launchers import get_launcher
    from tao_skill.models import ClusterRecord, PlanRecord
    from tao_skill.store import JobStore, new_job_id

    store = JobStore(home)
    launcher = get_launcher(backend)
    job_id = new_job_id("bench")
    results = launcher.results_dir_for(store, job_id)
    parts = {"cluster": ClusterRecord(address=os.environ["RAY_ADDRESS"])} if backend == "ray" else {}
    started = time.perf_counter()
    job = store.create(
        job_id=job_id, skill=SKILL, action="train", spec={}, backend=backend, results_dir=results,
        plan=PlanRecord(), **parts,
    )  # fmt: skip
    folder = launcher.job_folder(job, store)
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "spec.yaml"
    spec.write_text("{}\n", encoding="utf-8")
    handle = launcher.launch(job, spec, [sys.executable, "-c", "pass"])
    store.update(job.id, state="running", pid=handle.pid)
    final = wait(job.id, timeout=300, home=home, poll_seconds=0.05)
    elapsed = time.perf_counter() - started
    if final.state != "done":
        raise RuntimeError(f"{backend} no-op job ended {final.state}: {final.error}")
    assert not s3_files.is_s3(results) or s3_files.head(s3_files.join(results, ".exit_code.json")) is not None
    return elapsed


def _study_seconds(concurrent: int, data: dict[str, str], storage: str, home: str) -> float:
    from tao_skill.following import wait
    from tao_skill.launching import run

    settings = {"algorithm": "random", "max_trials": 4, "max_concurrent": concurrent, "seed": 0, "storage": storage}
    started = time.perf_counter()
    study = run(SKILL, "train", overrides=TINY, data_sources=data, backend="ray", home=home, automl_settings=settings)
    final = wait(study.id, timeout=1800, home=home, poll_seconds=0.5)
    elapsed = time.perf_counter() - started
    if final.state != "done":
        raise RuntimeError(f"study with {concurrent} at once ended {final.state}: {final.error}")
    return elapsed


def _upload_data(tmp: Path) -> dict[str, str]:
    from optical_inspection.tools.synth import generate
    from tao_skill import s3_files

    client = s3_files.client()
    for bucket in ("data", "results"):
        client.create_bucket(Bucket=bucket)
    for name, pairs, seed in (("train", 16, 0), ("val", 8, 1)):
        made = generate(tmp / name, pairs=pairs, defect_fraction=0.25, seed=seed, image_size=32, package=True)
        for file in ("images.tar.gz", "dataset.csv"):
            client.upload_file(str(Path(made.root) / file), "data", f"{name}/{file}")
    return {"train_datasets": "s3://data/train", "eval_dataset": "s3://data/val"}


def run() -> list[Row]:
    sys.path.insert(0, str(REPO))
    from devtools import engines

    s3 = engines.MotoS3()
    saved = dict(os.environ)
    cluster = postgres = None
    rows: list[Row] = []
    try:
        os.environ.update(s3.env())
        with tempfile.TemporaryDirectory() as tmp:
            cluster = engines.RayCluster(head_cpus=1, env={**s3.env(), "TAO_SKILL_HOME": f"{tmp}/worker"})
            cluster.add_node("node2", cpus=1)
            os.environ.update({"RAY_ADDRESS": cluster.address, "TAO_SKILL_RESULTS_URI": "s3://results/bench"})
            home = f"{tmp}/driver"
            data = _upload_data(Path(tmp))
            local = statistics.median(_noop_job_seconds("local", home) for _ in range(JOBS))
            ray = statistics.median(_noop_job_seconds("ray", home) for _ in range(JOBS))
            rows.append(
                Row(
                    group="cluster",
                    name=f"dispatch overhead per job, ray launcher (no-op command, median of {JOBS})",
                    value=ray,
                    unit="s",
                    baseline=f"local launcher {local:.2f} s",
                    ratio=ray / local,
                    target="< 15 s (a trial trains for minutes)",
                    met=ray < 15.0,
                )
            )
            storage = f"journal:{tmp}/study.journal"
            if engines.postgres_binaries() is not None:
                postgres = engines.Postgres()
                storage = postgres.url
            one = _study_seconds(1, data, storage + ("" if postgres else "-1"), home)
            two = _study_seconds(2, data, storage + ("" if postgres else "-2"), home)
            kind = "PostgreSQL" if postgres else "journal"
            rows.append(
                Row(
                    group="cluster",
                    name=f"AutoML study wall time, 4 trials 2 at once on 2 nodes ({kind})",
                    value=two,
                    unit="s",
                    baseline=f"1 at a time {one:.1f} s",
                    ratio=one / two,
                    target="faster than 1 at a time",
                    met=two < one,
                )
            )
    finally:
        if postgres is not None:
            postgres.stop()
        if cluster is not None:
            cluster.stop()
        s3.stop()
        os.environ.clear()
        os.environ.update(saved)
    return rows
