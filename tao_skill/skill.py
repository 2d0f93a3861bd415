"""The skill contract: ``skill_info.yaml``, ``schemas/manifest.json``, per-action JSON Schemas and spec templates.

Every file is read into a typed model; a missing or broken file is a :class:`UserError` naming the file and the field.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError

from tao_skill._yaml import load_yaml
from tao_skill.errors import Issue, LazyModel, UserError
from tao_skill.home import skills_root
from tao_skill.models import SkillSummary

__all__ = [
    "IOField",
    "ActionInfo",
    "DataSourceBinding",
    "Monitoring",
    "RuntimeExtras",
    "SkillInfo",
    "Manifest",
    "Skill",
    "load_skill",
    "available_skills",
]


class IOField(LazyModel):
    """An input or output of an action: a file or a folder."""

    type: Literal["file", "folder"]
    optional: bool = False


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


class Monitoring(LazyModel):
    """The metric that ranks checkpoints ("best")."""

    metric: str = "val_acc"
    mode: Literal["min", "max"] = "max"


class RuntimeExtras(LazyModel):
    """What this project's runtime adds to NVIDIA's skill_info keys."""

    container_images: dict[str, str] = Field(default_factory=dict)
    action_images: dict[str, str] = Field(default_factory=dict)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    parent_actions: dict[str, list[str]] = Field(default_factory=dict)
    checkpoint_glob: str = "model_epoch_*_step_*.pth"
    latest_checkpoint: str = "oi_model_latest.pth"
    artifacts: dict[str, str] = Field(default_factory=dict)
    key_env: str = "TAO_ENCRYPTION_KEY"


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


def _pydantic_issues(error: ValidationError, file: Path) -> list[Issue]:
    issues = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"])
        issues.append(
            Issue(
                path=f"{file.name}:{loc}",
                value=item.get("input") if not isinstance(item.get("input"), dict) else None,
                rule=f"skill_contract.{item['type']}",
                message=f"{file}: field '{loc}': {item['msg']}",
                hint=f"fix '{loc}' in {file}",
            )
        )
    return issues


def _read_structured(path: Path, what: str) -> Any:
    if not path.is_file():
        raise UserError.single(
            str(path),
            f"{what} not found: {path}",
            rule="skill_contract.missing_file",
            hint="regenerate it (`make schemas`) or point TAO_SKILL_BANK at a complete skill bank",
        )
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text) if path.suffix == ".json" else load_yaml(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (
            f" line {mark.line + 1}" if mark is not None else (f" line {exc.lineno}" if hasattr(exc, "lineno") else "")
        )
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise UserError.single(
            str(path),
            f"{what} {path} is not valid {kind} ({where.strip() or 'parse error'}): {str(exc).splitlines()[0]}",
            rule="skill_contract.parse_error",
            hint="fix the syntax or regenerate the file",
        ) from None


class Skill:
    """A loaded skill folder. Schemas and templates load on first use and are cached."""

    def __init__(self, root: Path, info: SkillInfo) -> None:
        self.root = root
        self.info = info
        self._schemas: dict[str, dict[str, Any]] = {}
        self._templates: dict[str, dict[str, Any]] = {}

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def schemas_dir(self) -> Path:
        return self.root / "schemas"

    @property
    def references_dir(self) -> Path:
        return self.root / "references"

    @cached_property
    def manifest(self) -> Manifest | None:
        """The schema manifest, or None when schemas were not generated yet."""
        path = self.schemas_dir / "manifest.json"
        if not path.exists():
            return None
        data = _read_structured(path, "schema manifest")
        if not isinstance(data, dict):
            raise UserError.single(str(path), f"{path} must hold a JSON object", rule="skill_contract.type")
        try:
            return Manifest.model_validate(data)
        except ValidationError as exc:
            raise UserError(f"schema manifest {path} is invalid", _pydantic_issues(exc, path)) from None

    def action(self, action: str) -> ActionInfo:
        """The action's skill_info entry, or a UserError listing the known actions."""
        try:
            return self.info.actions[action]
        except KeyError:
            from tao_skill._suggest import did_you_mean

            raise UserError.single(
                "action",
                f"skill {self.name} has no action '{action}'",
                rule="unknown_action",
                value=action,
                hint=did_you_mean(action, self.info.actions) or f"one of: {', '.join(self.info.actions)}",
            ) from None

    def schema_path(self, action: str) -> Path:
        manifest = self.manifest
        name = manifest.schema_file(action) if manifest is not None else f"{action}.schema.json"
        return self.schemas_dir / name

    def template_path(self, action: str) -> Path:
        rel = self.info.spec_templates.get(action, f"spec_template_{action}.yaml")
        return (self.references_dir / rel).resolve() if not Path(rel).is_absolute() else Path(rel)

    def has_schema(self, action: str) -> bool:
        return self.schema_path(action).is_file()

    def has_template(self, action: str) -> bool:
        return self.template_path(action).is_file()

    def schema(self, action: str) -> dict[str, Any]:
        """The action's JSON Schema (Draft 2020-12)."""
        if action not in self._schemas:
            self.action(action)
            path = self.schema_path(action)
            data = _read_structured(path, f"JSON Schema for action '{action}'")
            if not isinstance(data, dict) or data.get("type", "object") != "object":
                raise UserError.single(
                    f"{path.name}:type", f"{path}: a spec schema must describe an object", rule="skill_contract.type"
                )
            self._schemas[action] = data
        return self._schemas[action]

    def template(self, action: str) -> dict[str, Any]:
        """The action's spec template (defaults; ``???`` where a value is mandatory)."""
        if action not in self._templates:
            self.action(action)
            path = self.template_path(action)
            data = _read_structured(path, f"spec template for action '{action}'")
            if data is None:
                data = {}
            if not isinstance(data, dict):
                raise UserError.single(path.name, f"{path} must hold a YAML mapping", rule="skill_contract.type")
            self._templates[action] = data
        return self._templates[action]

    def summary(self) -> SkillSummary:
        return SkillSummary(
            name=self.name,
            network_arch=self.info.network_arch,
            actions=list(self.info.actions),
            automl_enabled=self.info.automl_enabled,
            description=self.info.description,
            schemas_ready=all(self.has_schema(a) and self.has_template(a) for a in self.info.actions),
        )


_CACHE: dict[tuple[str, float], Skill] = {}


def _skill_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p.parent.parent for p in root.glob("*/references/skill_info.yaml"))


def available_skills() -> list[str]:
    """Names (folder names) of every skill in the bank that has a skill_info.yaml."""
    return [p.name for p in _skill_dirs(skills_root())]


def load_skill(name: str) -> Skill:
    """Load a skill by folder name or network_arch (``tao-train-optical-inspection`` or ``optical_inspection``)."""
    root = skills_root()
    folder = root / name
    if not (folder / "references" / "skill_info.yaml").is_file():
        folder = next((d for d in _skill_dirs(root) if _network_arch(d) == name), folder)
    info_path = folder / "references" / "skill_info.yaml"
    if not info_path.is_file():
        from tao_skill._suggest import did_you_mean

        known = available_skills()
        raise UserError.single(
            "skill",
            f"unknown skill '{name}' (looked in {root})",
            rule="unknown_skill",
            value=name,
            hint=did_you_mean(name, known) or (f"one of: {', '.join(known)}" if known else "set TAO_SKILL_BANK"),
        )
    key = (str(info_path), info_path.stat().st_mtime)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    data = _read_structured(info_path, "skill_info")
    if not isinstance(data, dict):
        raise UserError.single(info_path.name, f"{info_path} must hold a YAML mapping", rule="skill_contract.type")
    try:
        info = SkillInfo.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"skill_info {info_path} is invalid", _pydantic_issues(exc, info_path)) from None
    skill = Skill(folder, info)
    _CACHE[key] = skill
    return skill


def _network_arch(folder: Path) -> str | None:
    try:
        data = load_yaml((folder / "references" / "skill_info.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data.get("network_arch") if isinstance(data, dict) else None
