"""Typed records shared by every interface (Python API, CLI, MCP, AutoML): plans, jobs, checkpoint choices."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr

from tao_skill.errors import LazyModel
from tao_skill.preflight import Preflight

__all__ = [
    "AutomlDecision",
    "ParentInfo",
    "Plan",
    "Job",
    "JobState",
    "JobKind",
    "Progress",
    "PlanRecord",
    "Mount",
    "ContainerRecord",
    "ClusterRecord",
    "StudyRecord",
    "TrialRecord",
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
    #: Whether it can run here (packages, GPU, TensorRT, Docker engine), with the install command when not.
    preflight: Preflight = Field(default_factory=Preflight)
    # Secret values by dotted key (encryption_key, ...): never serialised; filled in only in the file a job runs.
    _secrets: dict[str, str] = PrivateAttr(default_factory=dict)
    # Spec values that staging replaces (data source -> dotted keys); runtime use only.
    _staging: dict[str, list[str]] = PrivateAttr(default_factory=dict)


JobKind = Literal["job", "automl", "trial"]


class Progress(LazyModel):
    """The last line of a job's status.json (state of the trainer) and the last KPIs it reported."""

    status: str | None = None
    message: str | None = None
    epoch: int | None = None
    max_epoch: int | None = None
    eta: Any = None
    kpi: dict[str, Any] | None = None


class PlanRecord(LazyModel):
    """What the plan of a job said: where each value came from, the AutoML decision, the parent, the command."""

    provenance: dict[str, str] = Field(default_factory=dict)
    automl: AutomlDecision | None = None
    parent: ParentInfo | None = None
    command: list[str] = Field(default_factory=list)
    data_sources: dict[str, str] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    dropped_extension_keys: list[str] = Field(default_factory=list)


class Mount(LazyModel):
    """A host folder mounted at the same path inside a container."""

    path: str
    mode: Literal["ro", "rw"] = "ro"


class ContainerRecord(LazyModel):
    """How a container job runs: the image (by kind, e.g. pyt or deploy) and the folders it sees."""

    image: str
    image_kind: str = ""
    mounts: list[Mount] = Field(default_factory=list)


class ClusterRecord(LazyModel):
    """How a cluster job runs: the cluster's address and the resources it asked for (its id there is the job's)."""

    address: str
    resources: dict[str, float] = Field(default_factory=dict)


class StudyRecord(LazyModel):
    """An AutoML job's study: its settings, its best trial so far and the trial counts."""

    settings: dict[str, Any] = Field(default_factory=dict)
    metric: str = ""
    direction: str = ""
    storage: str = ""
    search_space: list[dict[str, Any]] = Field(default_factory=list)
    joined: bool = False
    best_value: float | None = None
    best_trial: int | None = None
    best_params: dict[str, Any] | None = None
    best_host: str | None = None
    trial_counts: dict[str, int] = Field(default_factory=dict)
    resumed_at: float | None = None


class TrialRecord(LazyModel):
    """A trial job's place in its study: number, sampled values, whether the pruner stopped it."""

    study: str
    number: int
    params: dict[str, Any] = Field(default_factory=dict)
    pruned: bool = False
    pruned_at_epoch: int | None = None


class Job(LazyModel):
    """One recorded job (a plain run, an AutoML study or one of its trials).

    Control signals are plain fields (``cancel_requested``, ``best_child_id``, ``interrupted``); the rest of the
    job's state is typed by what it describes (``progress``, ``plan``, ``container``, ``cluster``, ``study``,
    ``trial``).
    """

    id: str
    skill: str
    action: str
    kind: JobKind = "job"
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
    cancel_requested: bool = False
    best_child_id: str | None = None
    interrupted: bool = False
    error: str | None = None
    progress: Progress | None = None
    plan: PlanRecord | None = None
    container: ContainerRecord | None = None
    cluster: ClusterRecord | None = None
    study: StudyRecord | None = None
    trial: TrialRecord | None = None

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
    tie_breaker: str | None = None
    chosen: Selection
    candidates: list[Candidate] = Field(default_factory=list)


class SkillSummary(LazyModel):
    """One line of ``tao-skill list``: a model skill (its actions run as jobs) or a workflow skill (instructions that
    drive model skills, such as AutoML)."""

    name: str
    kind: str = "model"
    network_arch: str
    actions: list[str]
    automl_enabled: bool
    description: str = ""
    schemas_ready: bool = False
