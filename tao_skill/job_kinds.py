"""Job kinds: how a kind of job is refreshed, cancelled and chained from, as a small registry.

``job`` and ``trial`` are processes or containers run by a launcher (:class:`ProcessJob`); ``automl`` is a study
whose handler lives with the AutoML engine (``tao_skill.automl.lifecycle:StudyJob``) and is imported only when such
a job is met, so plain use never loads the engine. A kind whose handler cannot be imported (the engine is not
installed) is handled as a process.
"""

from __future__ import annotations

import importlib
import time
from typing import Any, Protocol

from tao_skill import status_file
from tao_skill.models import TERMINAL_STATES, Job
from tao_skill.store import JobStore

__all__ = ["JobKindHandler", "ProcessJob", "register", "kind_of"]


class JobKindHandler(Protocol):
    """What the runtime asks of a kind of job."""

    def refresh(self, job: Job, store: JobStore) -> Job:
        """The job with its state brought up to date."""

    def cancel(self, job: Job, store: JobStore) -> Job:
        """Ask the job to stop; returns its record."""

    def model_job(self, job: Job, store: JobStore) -> Job:
        """The job whose model a child job uses (the job itself, or e.g. an AutoML study's best trial)."""


class ProcessJob:
    """A job run by a launcher: state from the launcher (exit code), progress and KPIs from status.json."""

    def refresh(self, job: Job, store: JobStore) -> Job:
        if job.state in TERMINAL_STATES or (job.pid is None and job.container_id is None and job.cluster is None):
            return job
        from tao_skill.launchers import get_launcher

        result = get_launcher(job.backend).poll(job)
        fields: dict[str, Any] = {}
        progress = status_file.progress(status_file.records(status_file.find(job.results_dir, job.action)))
        if progress is not None:
            fields["progress"] = progress
        if result.state != job.state:
            fields["state"] = result.state
        if result.state in TERMINAL_STATES:
            fields["exit_code"] = result.exit_code
            fields["ended_at"] = result.ended_at or time.time()
            if result.message:
                fields["error"] = result.message
        return store.update(job.id, **fields) if fields else job

    def cancel(self, job: Job, store: JobStore) -> Job:
        from tao_skill.launchers import get_launcher

        job = store.update(job.id, cancel_requested=True)
        get_launcher(job.backend).cancel(job)
        return self.refresh(store.get(job.id), store)  # the local launcher returns once the job has stopped

    def model_job(self, job: Job, store: JobStore) -> Job:
        return job


_HANDLERS: dict[str, str | JobKindHandler] = {
    "job": ProcessJob(),
    "trial": ProcessJob(),
    "automl": "tao_skill.automl.lifecycle:StudyJob",
}


def register(kind: str, handler: str | JobKindHandler) -> None:
    """Handle jobs of ``kind`` with ``handler`` (an object, or ``"module:Class"`` imported on first use)."""
    _HANDLERS[kind] = handler


def kind_of(job: Job) -> JobKindHandler:
    """The handler of the job's kind."""
    handler = _HANDLERS.get(job.kind, _HANDLERS["job"])
    if isinstance(handler, str):
        module, _, name = handler.partition(":")
        try:
            return getattr(importlib.import_module(module), name)()
        except ImportError:
            return _HANDLERS["job"]  # type: ignore[return-value]
    return handler
