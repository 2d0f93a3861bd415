"""The launcher interface: start a job's command, tell its state, stop it."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tao_skill.errors import Issue
from tao_skill.models import ClusterRecord, ContainerRecord, Job

if TYPE_CHECKING:
    from tao_skill.preflight import Check
    from tao_skill.skill import Skill
    from tao_skill.store import JobStore

__all__ = ["Launcher", "LaunchHandle", "PollResult", "LOG_NAME", "EXIT_NAME"]

LOG_NAME = "job.log"
EXIT_NAME = ".exit_code.json"


@dataclass
class LaunchHandle:
    """What identifies a started job: a process id or a container id."""

    pid: int | None = None
    container_id: str | None = None


@dataclass
class PollResult:
    """A job's state as the launcher sees it."""

    state: str
    exit_code: int | None = None
    ended_at: float | None = None
    message: str = ""


class Launcher(abc.ABC):
    """Runs ``command`` for ``job`` with its spec file; state survives the launching process exiting."""

    name: str = ""
    #: Whether data sources are staged where the job runs (a cluster's node) instead of before launching.
    stages_on_worker: bool = False

    def check(self, plan_action: str | None = None) -> None:  # noqa: B027 - optional hook
        """Raise a UserError when this backend cannot run here (e.g. no Docker engine)."""

    @classmethod
    def preflight(cls, action: str, spec: dict[str, Any]) -> list[Check]:
        """What this backend needs on this machine to run ``action`` (packages, GPU, engine); cheap, used by plan."""
        return []

    @classmethod
    def adapt_spec(
        cls, spec: dict[str, Any], skill: Skill, action: str
    ) -> tuple[dict[str, Any], list[Issue], list[str]]:
        """(the spec as this backend runs it, issues that stop it, keys dropped on the way); pure, used by plan."""
        return spec, [], []

    @classmethod
    def results_dir_for(cls, store: JobStore, job_id: str) -> str:
        """Where a new job of this backend writes its results (a local folder, or an ``s3://`` URI)."""
        return str(store.results_dir(job_id))

    def prepare(
        self, skill: Skill, action: str, spec: dict[str, Any], store: JobStore
    ) -> ContainerRecord | ClusterRecord | None:
        """What this backend records with a job before launching it (the local launcher records nothing)."""
        return None

    def job_folder(self, job: Job, store: JobStore) -> Path:
        """The local folder that holds the job's spec file (its results folder unless results go elsewhere)."""
        return Path(job.results_dir)

    def read_log(self, job: Job) -> str | None:
        """The job's output so far (None when there is none yet)."""
        path = self.log_path(job)
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None

    @abc.abstractmethod
    def launch(
        self,
        job: Job,
        spec_path: Path,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        cleanup: list[Path] | None = None,
    ) -> LaunchHandle:
        """Start the job; ``cleanup`` files are deleted when it ends (e.g. a spec holding a secret)."""

    @abc.abstractmethod
    def poll(self, job: Job) -> PollResult:
        """The job's current state."""

    @abc.abstractmethod
    def cancel(self, job: Job) -> None:
        """Ask the job to stop."""

    def log_path(self, job: Job) -> Path:
        return Path(job.results_dir) / LOG_NAME
