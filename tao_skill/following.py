"""Job -> results: follow recorded jobs (state, logs, cancel, wait), list them, and choose their checkpoints."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from tao_skill.errors import RuntimeFailure, UserError
from tao_skill.job_kinds import kind_of
from tao_skill.models import TERMINAL_STATES, CheckpointReport, Job
from tao_skill.skill import load_skill
from tao_skill.store import JobStore

__all__ = ["status", "logs", "cancel", "follow", "wait", "jobs", "checkpoints", "POLL_SECONDS"]

POLL_SECONDS = 0.5


def status(job_id: str, home: str | None = None) -> Job:
    """The job, with its state refreshed by its kind (a launcher's exit code and status.json, or a study)."""
    store = JobStore(home)
    job = store.get(job_id)
    return kind_of(job).refresh(job, store)


def logs(job_id: str, tail: int | None = None, home: str | None = None) -> str:
    """The job's captured output (the last ``tail`` lines when given)."""
    from tao_skill.launchers import get_launcher

    job = status(job_id, home=home)
    text = get_launcher(job.backend).read_log(job) or ""
    if tail is not None:
        text = "\n".join(text.splitlines()[-tail:]) + ("\n" if text.endswith("\n") else "")
    return text


def cancel(job_id: str, home: str | None = None) -> Job:
    """Stop a running job (SIGTERM to its process group, container stop, or a study's trials and worker)."""
    store = JobStore(home)
    job = status(job_id, home=home)
    if job.state in TERMINAL_STATES:
        return job
    return kind_of(job).cancel(job, store)


def follow(
    job_id: str, *, timeout: float | None = None, home: str | None = None, poll_seconds: float = POLL_SECONDS
) -> Iterator[Job]:
    """Yield the job's refreshed record every ``poll_seconds`` until it ends (the last record yielded is final) or
    ``timeout`` seconds pass."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = status(job_id, home=home)
        yield job
        if job.state in TERMINAL_STATES or (deadline is not None and time.monotonic() >= deadline):
            return
        time.sleep(poll_seconds)


def wait(job_id: str, timeout: float | None = None, home: str | None = None, poll_seconds: float = POLL_SECONDS) -> Job:
    """Block until the job ends (or ``timeout`` seconds pass); returns its last state."""
    job = None
    for job in follow(job_id, timeout=timeout, home=home, poll_seconds=poll_seconds):  # noqa: B007
        pass
    assert job is not None
    return job


def jobs(home: str | None = None, **filters: Any) -> list[Job]:
    """Recorded jobs, newest first; filters are equality on job fields (``state``, ``action``, ``group_id``...).

    Jobs recorded as queued or running are refreshed first (as ``status`` does), so a finished job, or one whose
    processes are gone, is listed as such."""
    limit = filters.pop("limit", None)
    store = JobStore(home)
    for job in store.list(state="running") + store.list(state="queued"):
        try:
            kind_of(job).refresh(job, store)
        except (UserError, RuntimeFailure):
            continue  # a job that cannot be polled keeps its recorded state
    return store.list(limit=limit, **filters)


def checkpoints(job_id: str, select: str = "best", home: str | None = None) -> CheckpointReport:
    """Every checkpoint of a train job (an AutoML job's best trial) and the one ``select`` picks, with the reason."""
    from tao_skill.checkpoints import resolve_by_contract

    store = JobStore(home)
    asked = store.get(job_id)
    job = kind_of(asked).model_job(asked, store)
    if job.action != "train":
        raise UserError.single(
            "job_id",
            f"job {job_id} is a {job.action} job; checkpoints belong to train jobs",
            rule="parent_action",
            value=job_id,
        )
    runtime = load_skill(job.skill).info.runtime
    ranking = runtime.ranking
    chosen = resolve_by_contract(job.results_dir, select, runtime)
    return CheckpointReport(
        job_id=job.id,
        results_dir=job.results_dir,
        select=select,
        metric=ranking.metric if ranking else "",
        mode=ranking.mode if ranking else "",
        tie_breaker=ranking.tie_breaker.metric if ranking and ranking.tie_breaker else None,
        chosen=chosen,
        candidates=chosen.candidates,
    )
