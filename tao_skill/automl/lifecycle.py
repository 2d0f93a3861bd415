"""An AutoML job's life: launch (record the parent job, create the study, start a worker), refresh, resume, cancel.

The parent job (kind ``automl``) names its best finished trial in ``best_child_id``, so it works as the parent of
evaluate, export and inference; :class:`StudyJob` is the ``automl`` entry of :mod:`tao_skill.job_kinds`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tao_skill import overrides as ov
from tao_skill.automl.algorithms import check as check_settings
from tao_skill.automl.database import STORAGE_ENV
from tao_skill.automl.objective import secret_env
from tao_skill.automl.search_space import build_search_space
from tao_skill.automl.settings import parse_settings
from tao_skill.automl.storage import (
    CONFIG_ATTR,
    FINISHED,
    default_storage,
    load_study,
    read_config,
    safe_url,
    trial_counts,
    write_config,
)
from tao_skill.automl.worker import alive
from tao_skill.errors import UserError
from tao_skill.models import Job, Plan, PlanRecord, StudyRecord
from tao_skill.secrets import redacted
from tao_skill.store import JobStore

__all__ = ["launch", "start_worker", "refresh", "resume", "cancel", "StudyJob", "WORKER_LOG"]

WORKER_LOG = "job.log"  # where `tao-skill logs JOB_ID` looks
#: Settings of where trials run, recorded with the study (never credentials).
CLUSTER_ENV = ("RAY_ADDRESS", "TAO_SKILL_RESULTS_URI", "TAO_SKILL_SHARED_PATHS")


def _user_overrides(plan: Plan) -> dict[str, Any]:
    """The values the user set (overrides, files, shorthands), as dotted keys, from the plan's provenance."""
    picked = {}
    for key, source in sorted(plan.provenance.items()):
        if source.startswith(("override", "shorthand")) and key not in plan._secrets:
            picked[key] = ov.get_dotted(plan.spec, key)
    return picked


def launch(plan: Plan, store: JobStore, *, settings: dict[str, Any] | None = None) -> Job:
    """Record the AutoML parent job of ``plan`` (a validated train plan), create its study, start a worker."""
    from tao_skill.skill import load_skill

    skill = load_skill(plan.skill)
    ranking = skill.info.runtime.ranking
    keys = skill.info.runtime.training_keys
    if keys is None:
        raise UserError.single(
            "automl_policy",
            f"skill {skill.name} names no training keys (runtime.training_keys in its skill_info.yaml), so AutoML "
            "cannot set a trial's epochs",
            rule="skill_contract.training_keys",
            hint="--automl-policy off",
        )
    parsed = parse_settings(settings).for_skill(ranking)
    if parsed.metric is None:
        raise UserError.single(
            "automl.metric",
            f"skill {skill.name} names no ranking metric; say which KPI the study optimises",
            rule="automl_metric",
            hint="--automl-setting metric=<a per-epoch KPI in status.json>",
        )
    schema = skill.schema("train")
    space = build_search_space(schema, add=parsed.parameters_add, remove=parsed.parameters_remove)
    check_settings(parsed, space)
    max_epochs = parsed.max_epochs or int(ov.get_dotted(plan.spec, keys.num_epochs) or 1)
    tie = ranking.tie_breaker if ranking is not None and ranking.metric == parsed.metric else None
    home = str(store.home)
    storage = parsed.storage or os.environ.get(STORAGE_ENV) or default_storage(plan.job_id, home)
    config = {
        "study": plan.job_id,
        "storage": storage,
        "settings": parsed.model_dump(),
        "max_epochs": max_epochs,
        "schema": schema,
        "training_keys": keys.model_dump(),
        "tie_breaker": tie.model_dump() if tie else None,
        "request": {
            "skill": plan.skill,
            "backend": plan.backend,
            "data_sources": plan.data_sources,
            "overrides": _user_overrides(plan),
        },
        # where the trials run (a cluster's address, the results URI): a resumed or joining worker uses the same
        "environment": {k: os.environ[k] for k in CLUSTER_ENV if os.environ.get(k)},
        "search_space": [p.describe() for p in space.params],
    }
    job = store.create(
        job_id=plan.job_id,
        skill=plan.skill,
        action="train",
        spec=redacted(plan.spec),
        backend=plan.backend,
        kind="automl",
        results_dir=str(store.results_dir(plan.job_id)),  # the study runs here, whatever runs its trials
        plan=PlanRecord(automl=plan.automl, provenance=plan.provenance, data_sources=plan.data_sources),
        study=StudyRecord(
            settings=parsed.model_dump(),
            metric=parsed.metric,
            direction=parsed.resolved_direction(),
            storage=safe_url(storage),
            search_space=config["search_space"],
        ),
    )
    results = Path(job.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    write_config(results, config)
    study, _, _ = load_study(config)  # create it now, so workers and reports find it at once
    # Workers on other machines join from the storage alone (they bring its URL themselves).
    study.set_user_attr(CONFIG_ATTR, {**config, "storage": safe_url(storage)})
    pid = start_worker(job.id, home=home, log=results / WORKER_LOG, env=secret_env(plan))
    return store.update(job.id, state="running", started_at=time.time(), pid=pid)


def start_worker(job_id: str, *, home: str | None, log: Path, env: dict[str, str] | None = None) -> int:
    """A detached ``python -m tao_skill.automl worker --job ID`` process; returns its pid."""
    env = {**os.environ, **(env or {})}
    if home is not None:
        env["TAO_SKILL_HOME"] = str(home)
    with open(log, "ab") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "tao_skill.automl", "worker", "--job", job_id],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    return process.pid


def refresh(job: Job, store: JobStore) -> Job:
    """An AutoML job whose worker died before the budget was met is marked failed (resumable)."""
    if job.kind != "automl" or job.state not in ("queued", "running") or alive(job.pid):
        return job
    try:
        config = read_config(job)
        study, settings, _ = load_study(config)
    except Exception:  # noqa: BLE001 - an unreadable study leaves the record as it is
        return job
    counts = trial_counts(study)
    host = socket.gethostname()
    workers_alive = any(  # a trial run by another machine's worker counts as alive: only that machine can tell
        t.user_attrs.get("host") != host or alive(t.user_attrs.get("worker_pid"))
        for t in study.get_trials(deepcopy=False)
        if t.state.name == "RUNNING"
    )
    if workers_alive:
        return job
    finished = sum(counts.get(s, 0) for s in FINISHED)
    if finished >= settings.max_trials and counts.get("COMPLETE"):
        return store.update(job.id, state="done", ended_at=time.time(), exit_code=0, study={"trial_counts": counts})
    return store.update(
        job.id,
        state="failed",
        ended_at=time.time(),
        interrupted=True,
        study={"trial_counts": counts},
        error=f"the AutoML worker stopped early; continue with `tao-skill automl resume {job.id}`",
    )


def resume(job_id: str, home: str | None = None) -> Job:
    """Continue an interrupted study with a new worker: it follows the trials whose jobs still run and re-queues
    the others."""
    store = JobStore(home)
    job = store.get(job_id)
    if job.kind != "automl":
        raise UserError.single("job_id", f"{job_id} is not an AutoML job", rule="not_automl", value=job_id)
    if job.state in ("queued", "running") and alive(job.pid):
        raise UserError.single(
            "job_id",
            f"{job_id} is still running (worker pid {job.pid})",
            rule="running",
            value=job_id,
            hint=f"join it with another worker: tao-skill automl worker {job_id}",
        )
    config = read_config(job)
    study, settings, _ = load_study(config)
    counts = trial_counts(study)
    if job.state == "done" and sum(counts.get(s, 0) for s in FINISHED) >= settings.max_trials:
        raise UserError.single(
            "job_id",
            f"{job_id} already finished its budget of {settings.max_trials} trials",
            rule="finished",
            value=job_id,
            hint=f"read it with `tao-skill automl report {job_id}`, or start a new study with a larger max_trials",
        )
    # the new worker takes over trials whose jobs still run and re-queues the others (from their last checkpoint)
    pid = start_worker(job_id, home=str(store.home), log=Path(job.results_dir) / WORKER_LOG)
    return store.update(
        job_id,
        state="running",
        pid=pid,
        ended_at=None,
        exit_code=None,
        interrupted=False,
        error=None,
        cancel_requested=False,
        study={"resumed_at": time.time()},
    )


def cancel(job: Job, store: JobStore) -> Job:
    """Stop a study: no new trials, running trial jobs stopped, the worker signalled."""
    from tao_skill.following import cancel as cancel_job

    store.update(job.id, cancel_requested=True)
    for trial_job in store.list(group_id=job.id):
        if trial_job.state in ("queued", "running"):
            cancel_job(trial_job.id, home=str(store.home))
    if alive(job.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(job.pid, signal.SIGTERM)
    return store.update(job.id, state="cancelled", ended_at=time.time())


class StudyJob:
    """The ``automl`` job kind: a study refreshed from its storage, cancelled with its trials, chained through its
    best trial."""

    def refresh(self, job: Job, store: JobStore) -> Job:
        return refresh(job, store)

    def cancel(self, job: Job, store: JobStore) -> Job:
        return cancel(job, store)

    def model_job(self, job: Job, store: JobStore) -> Job:
        if not job.best_child_id:
            raise UserError.single(
                "parent",
                f"AutoML job {job.id} has no finished best trial yet",
                rule="parent_not_ready",
                value=job.id,
                hint=f"wait for it (tao-skill status {job.id}) or pass a trial's job id",
            )
        return store.get(job.best_child_id)
