"""The launcher interface: start a job's command, tell its state, stop it."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path

from tao_skill.models import Job

__all__ = ["Launcher", "LaunchHandle", "PollResult", "LOG_NAME", "EXIT_NAME"]

LOG_NAME = "job.log"
EXIT_NAME = ".exit_code.json"


@dataclass
class LaunchHandle:
    """What identifies a started job: a process id or a container id."""

    pid: int | None = None
    container_id: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


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

    def check(self, plan_action: str | None = None) -> None:  # noqa: B027 - optional hook
        """Raise a UserError when this backend cannot run here (e.g. no Docker engine)."""

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
