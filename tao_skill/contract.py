"""The typed files of a skill's contract: ``references/skill_info.yaml`` (NVIDIA's keys plus this runtime's
``runtime`` block) and ``schemas/manifest.json``. :mod:`tao_skill.skill` loads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, ConfigDict, Field

from tao_skill.errors import LazyModel

__all__ = [
    "IOField",
    "ActionInfo",
    "DataSourceBinding",
    "TieBreaker",
    "Ranking",
    "CheckpointLayout",
    "DatasetLayout",
    "TrainingKeys",
    "RuntimeExtras",
    "SkillInfo",
    "Manifest",
]


class IOField(LazyModel):
    """An input or output of an action: a file or a folder. ``suffixes``: the file kinds it takes (a parent's model
    file of another kind is not put there); ``image``: the container image kind the action needs when it is given."""

    type: Literal["file", "folder"]
    optional: bool = False
    suffixes: list[str] = Field(default_factory=list)
    image: str | None = None

    def accepts(self, path: str) -> bool:
        """Whether a file named ``path`` is of a kind this input takes."""
        return not self.suffixes or any(path.endswith(s) for s in self.suffixes)


class ActionInfo(LazyModel):
    """How one action runs: the command (``{config_path}`` is the spec file) and what it reads and writes."""

    command: str
    config_format: Literal["yaml", "json"] = "yaml"
    mode: str = "config"
    inputs: dict[str, IOField] = Field(default_factory=dict)
    outputs: dict[str, IOField] = Field(default_factory=dict)
    upload_excludes: list[str] = Field(default_factory=list)

    def argv(self, config_path: str) -> list[str]:
        """The command as an argument list with the spec path filled in."""
        return [part.replace("{config_path}", config_path) for part in self.command.split()]


class DataSourceBinding(LazyModel):
    """A spec key filled from a named data source; ``path`` is the file inside it (images.tar.gz, dataset.csv)."""

    source: str
    path: str
    runtime: str | None = None
    as_list: bool = False


class TieBreaker(LazyModel):
    """A second metric that orders checkpoints or trials whose ranking metric is equal."""

    metric: str
    mode: Literal["min", "max"] = "max"


class Ranking(LazyModel):
    """The metric (from status.json's per-epoch KPIs) that ranks checkpoints ("best") and AutoML trials."""

    metric: str
    mode: Literal["min", "max"] = "max"
    tie_breaker: TieBreaker | None = None


class CheckpointLayout(LazyModel):
    """The files a train job leaves: ``pattern`` names numbered checkpoints (``{epoch}`` and ``{step}``), ``latest``
    the link to the newest one (None: the folder's one ``*_latest.pth``), ``index`` a JSON list of best checkpoints
    kept apart from the numbered ones; all in ``folder`` of the results (or the results folder itself)."""

    folder: str = "train"
    pattern: str = "model_epoch_{epoch}_step_{step}.pth"
    latest: str | None = None
    index: str | None = "best_checkpoints.json"


class DatasetLayout(LazyModel):
    """What a data source's dataset.csv and images look like, for the checks made when it is staged."""

    columns: list[str] = Field(default_factory=list, description="columns the CSV must have")
    folder_columns: list[str] = Field(default_factory=list, description="columns naming image folders")
    name_column: str | None = Field(None, description="column holding the image file's stem")
    root_folders: list[str] = Field(default_factory=list, description="folders the image root always holds")
    lights_key: str | None = Field(None, description="spec key of the lights; each image is '<stem>_<light><ext>'")
    image_ext_key: str | None = Field(None, description="spec key of the image file extension")
    loader_workers_key: str | None = Field(
        None, description="spec key of the data loader's worker processes (a cluster job asks a CPU for each)"
    )


class TrainingKeys(LazyModel):
    """The train spec keys AutoML sets on each trial."""

    num_epochs: str
    checkpoint_interval: str
    checkpoint_interval_unit: str | None = None
    validation_interval: str
    resume_checkpoint: str
    pretrained_model: str | None = None


class RuntimeExtras(LazyModel):
    """What this project's runtime adds to NVIDIA's skill_info keys: how the skill's jobs run and chain."""

    backends: list[str] = Field(default_factory=lambda: ["local", "docker"])
    container_images: dict[str, str] = Field(default_factory=dict)
    action_images: dict[str, str] = Field(default_factory=dict)
    suffix_images: dict[str, str] = Field(default_factory=dict)
    ranking: Ranking | None = Field(None, validation_alias=AliasChoices("ranking", "monitoring"))
    parent_actions: dict[str, list[str]] = Field(default_factory=dict)
    checkpoints: CheckpointLayout = Field(default_factory=CheckpointLayout)
    inherited_keys: list[str] = Field(default_factory=list)
    dataset: DatasetLayout = Field(default_factory=DatasetLayout)
    training_keys: TrainingKeys | None = None
    artifacts: dict[str, str] = Field(default_factory=dict)
    key_env: str = "TAO_ENCRYPTION_KEY"
    kpis: dict[str, str] = Field(
        default_factory=dict, description="what each KPI of the status lines means, as `tao-skill status` explains it"
    )


class SkillInfo(LazyModel):
    """``references/skill_info.yaml``."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    name: str
    network_arch: str
    description: str = ""
    automl_enabled: bool = False
    container_image: str = ""
    data_format: str = "default"
    gpu_spec_key: str = ""
    actions: dict[str, ActionInfo]
    data_sources: dict[str, dict[str, DataSourceBinding]] = Field(default_factory=dict)
    spec_params: dict[str, dict[str, str]] = Field(default_factory=dict)
    key_defaults: dict[str, Any] = Field(default_factory=dict)
    spec_shorthand_keys: dict[str, str] = Field(default_factory=dict)
    spec_templates: dict[str, str] = Field(default_factory=dict)
    runtime: RuntimeExtras = Field(default_factory=RuntimeExtras)


class Manifest(LazyModel):
    """``schemas/manifest.json`` (written by schema_gen); unknown keys are kept."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    actions: Any = None

    def schema_file(self, action: str) -> str:
        """The schema path of ``action`` relative to the schemas folder (``<action>.schema.json`` by default)."""
        entry: Any = None
        if isinstance(self.actions, dict):
            entry = self.actions.get(action)
        elif isinstance(self.actions, list):
            entry = next((a for a in self.actions if isinstance(a, dict) and a.get("name") == action), None)
        if isinstance(entry, dict):
            for key in ("schema", "schema_path", "path"):
                if isinstance(entry.get(key), str):
                    return Path(entry[key]).name
        return f"{action}.schema.json"

    def action_names(self) -> list[str]:
        if isinstance(self.actions, dict):
            return list(self.actions)
        if isinstance(self.actions, list):
            return [a if isinstance(a, str) else str(a.get("name")) for a in self.actions]
        return []
