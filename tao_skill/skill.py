"""The skill contract: ``skill_info.yaml``, ``schemas/manifest.json``, per-action JSON Schemas and spec templates.

Every file is read into a typed model (:mod:`tao_skill.contract`); a missing or broken file is a :class:`UserError`
naming the file and the field. :class:`Skill` answers what the runtime asks of a model (its schemas, templates, the
keys a child inherits, the groups of alternative keys) from those files only.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tao_skill._yaml import load_yaml
from tao_skill.contract import (
    ActionInfo,
    CheckpointLayout,
    DatasetLayout,
    DataSourceBinding,
    IOField,
    Manifest,
    Ranking,
    RuntimeExtras,
    SkillInfo,
    TieBreaker,
    TrainingKeys,
)
from tao_skill.errors import Issue, UserError, issues_from_pydantic
from tao_skill.home import skills_root
from tao_skill.models import SkillSummary

__all__ = [
    "IOField",
    "ActionInfo",
    "DataSourceBinding",
    "Ranking",
    "CheckpointLayout",
    "DatasetLayout",
    "TrainingKeys",
    "TieBreaker",
    "RuntimeExtras",
    "SkillInfo",
    "Manifest",
    "Skill",
    "load_skill",
    "available_skills",
]


def _pydantic_issues(error: ValidationError, file: Path) -> list[Issue]:
    return issues_from_pydantic(
        error, path_prefix=f"{file.name}:", rule_prefix="skill_contract.", where=f"{file}: ",
        hint=lambda loc: f"fix '{loc}' in {file}",
    )  # fmt: skip


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

    def sections(self, action: str) -> list[str] | None:
        """The top-level sections the action's schema validates (``x-sections``), or None when it does not say."""
        declared = self.schema(action).get("x-sections")
        return list(declared) if isinstance(declared, list) else None

    def inherited_keys(self, action: str) -> list[str]:
        """Keys a child ``action`` job takes from its parent so the model it loads matches: the schema's ``x-inherit``
        keys and skill_info's ``runtime.inherited_keys``, within the sections the action reads."""
        from tao_skill._schema_walk import walk

        keys = [key for key, node in walk(self.schema(action)) if node.get("x-inherit") is True]
        keys += [k for k in self.info.runtime.inherited_keys if k not in keys]
        sections = self.sections(action)
        return [k for k in keys if sections is None or k.split(".", 1)[0] in sections]

    def required_keys(self, action: str) -> list[str]:
        """The keys the action cannot run without, as the schema manifest lists them (``a|b``: one of them)."""
        manifest = self.manifest
        entry = manifest.actions.get(action) if manifest is not None and isinstance(manifest.actions, dict) else None
        required = entry.get("required", []) if isinstance(entry, dict) else []
        return [item for item in required if isinstance(item, str)]

    def alternatives(self, action: str) -> list[list[str]]:
        """Groups of keys of which the action needs one (the ``a|b`` required keys)."""
        return [item.split("|") for item in self.required_keys(action) if "|" in item]

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
    """Load a skill by its folder name (``tao-train-<model>``) or its skill_info ``network_arch``."""
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
