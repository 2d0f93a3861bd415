"""Typed records shared by every interface (Python API, CLI, MCP, AutoML): plans, jobs, checkpoint choices."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr

from tao_skill.errors import LazyModel

__all__ = [
    "AutomlDecision",
    "ParentInfo",
    "Plan",
    "Job",
    "JobState",
    "TERMINAL_STATES",
    "Candidate",
    "Selection",
    "CheckpointReport",
    "SkillSummary",
]

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
TERMINAL_STATES = frozenset({"done", "failed", "cancelled"})


class AutomlDecision(LazyModel):
    """Whether a request trains through AutoML, and why."""

    enabled: bool
    reason: str
    source: Literal["explicit", "request_text", "default"]
    runnable: bool = False


class ParentInfo(LazyModel):
    """The job a plan chains from and the model file taken from it."""

    job_id: str
    action: str
    model_path: str | None = None
    selection: str | None = None
    reason: str = ""


class Plan(LazyModel):
    """Everything a run will do, computed without side effects: the spec, where each value came from, the command."""

    skill: str
    action: str
    route: Literal["direct", "automl"] = "direct"
    automl: AutomlDecision
    spec: dict[str, Any]
    provenance: dict[str, str] = Field(default_factory=dict)
    data_sources: dict[str, str] = Field(default_factory=dict)
    parent: ParentInfo | None = None
    command: list[str] = Field(default_factory=list)
    backend: str = "local"
    results_dir: str = ""
    job_id: str = ""
    warnings: list[str] = Field(default_factory=list)
    # Secret values by dotted key (encryption_key, ...): never serialised; filled in only in the file a job runs.
    _secrets: dict[str, str] = PrivateAttr(default_factory=dict)
    # Spec values that staging replaces (data source -> dotted keys); runtime use only.
    _staging: dict[str, list[str]] = PrivateAttr(default_factory=dict)


class Job(LazyModel):
    """One recorded job (a plain run, an AutoML study or one of its trials)."""

    id: str
    skill: str
    action: str
    kind: Literal["job", "automl", "trial"] = "job"
    parent_id: str | None = None
    group_id: str | None = None
    state: JobState = "queued"
    backend: str = "local"
    results_dir: str = ""
    spec: dict[str, Any] = Field(default_factory=dict)
    created_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    pid: int | None = None
    container_id: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES


class Candidate(LazyModel):
    """One checkpoint file found in a results folder."""

    path: str
    epoch: int | None = None
    step: int | None = None
    metric: float | None = None


class Selection(LazyModel):
    """The checkpoint chosen for a selector, with the reason and every candidate considered."""

    path: str
    epoch: int | None = None
    step: int | None = None
    reason: str
    candidates: list[Candidate] = Field(default_factory=list)


class CheckpointReport(LazyModel):
    """All checkpoints of a job and the one a selector picks."""

    job_id: str
    results_dir: str
    select: str
    metric: str
    mode: str
    chosen: Selection
    candidates: list[Candidate] = Field(default_factory=list)


class SkillSummary(LazyModel):
    """One line of ``tao-skill list``."""

    name: str
    network_arch: str
    actions: list[str]
    automl_enabled: bool
    description: str = ""
    schemas_ready: bool = False
