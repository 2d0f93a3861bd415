"""Where a skill's schemas come from: the ``schema_source`` block of its ``references/skill_info.yaml``.

``config`` names the dataclass config (``module:Class``). For a config this project cannot annotate (TAO Core's),
the block also says what to do with it: ``fixed`` keys (e.g. ``task: classify``: the only value, and the default),
``defaults`` that run where the dataclass value does not (TAO's own ``default_value``), ``drop`` sub-trees that
belong to another task, the ``actions`` to emit, ``annotations`` (the metadata keys of
:func:`~tao_skill.schema_gen.fields.config_field`, e.g. ``inherit``, by dotted key) and cross-key ``rules``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from tao_skill.schema_gen.fields import CrossKeyRule, FieldMeta
from tao_skill.schema_gen.introspect import FieldNode

__all__ = ["SchemaSource", "read_source", "declared_sources", "apply_source"]

SKILL_INFO = Path("references") / "skill_info.yaml"


class SchemaSource(BaseModel):
    """The ``schema_source`` block of a skill_info.yaml."""

    model_config = ConfigDict(extra="forbid")

    config: str
    fixed: dict[str, Any] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    drop: list[str] = Field(default_factory=list)
    actions: list[str] | None = None
    annotations: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rules: list[dict[str, Any]] = Field(default_factory=list)

    def cross_key_rules(self) -> list[CrossKeyRule]:
        return [CrossKeyRule(**{**rule, "actions": tuple(rule.get("actions") or ())}) for rule in self.rules]


def read_source(skill_dir: Path) -> SchemaSource | None:
    """The skill folder's declared source, or None when its skill_info.yaml has none (or is absent)."""
    path = skill_dir / SKILL_INFO
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    block = data.get("schema_source") if isinstance(data, dict) else None
    return SchemaSource.model_validate(block) if block else None


def declared_sources(skills_root: Path) -> list[tuple[Path, SchemaSource]]:
    """Every skill folder under ``skills_root`` that declares where its schemas come from, by name."""
    found = []
    for info in sorted(skills_root.glob(f"*/{SKILL_INFO.as_posix()}")):
        source = read_source(info.parent.parent)
        if source is not None:
            found.append((info.parent.parent, source))
    return found


def _find(tree: list[FieldNode], dotted: str) -> tuple[list[FieldNode], FieldNode] | None:
    nodes, parts = tree, dotted.split(".")
    for index, part in enumerate(parts):
        node = next((n for n in nodes if n.name == part), None)
        if node is None:
            return None
        if index == len(parts) - 1:
            return nodes, node
        nodes = node.children
    return None


def apply_source(tree: list[FieldNode], source: SchemaSource, warn: Callable[[str, str], None]) -> None:
    """Drop, fix and annotate the config's field tree as ``source`` says (in place)."""
    for dotted in source.drop:
        found = _find(tree, dotted)
        if found is None:
            warn(dotted, "schema_source.drop names no field of the config; ignored")
            continue
        found[0].remove(found[1])
    for dotted, value in source.fixed.items():
        found = _find(tree, dotted)
        if found is None or found[1].dataclass_type is not None:
            warn(dotted, "schema_source.fixed names no leaf field of the config; ignored")
            continue
        node = found[1]
        node.default, node.missing = value, False
        node.annotation = type(value)
        node.raw_metadata = {**node.raw_metadata, "valid_options": [value], "default_value": value}
        node.meta = FieldMeta.from_metadata(node.raw_metadata)
    for dotted, value in source.defaults.items():
        found = _find(tree, dotted)
        if found is None or found[1].dataclass_type is not None:
            warn(dotted, "schema_source.defaults names no leaf field of the config; ignored")
            continue
        node = found[1]
        node.default, node.missing = value, False
        node.raw_metadata = {k: v for k, v in node.raw_metadata.items() if k != "default_value"}
        node.meta = FieldMeta.from_metadata(node.raw_metadata)
    for dotted, extra in source.annotations.items():
        found = _find(tree, dotted)
        if found is None:
            warn(dotted, "schema_source.annotations names no field of the config; ignored")
            continue
        node = found[1]
        node.raw_metadata = {**node.raw_metadata, **extra}
        node.meta = FieldMeta.from_metadata(node.raw_metadata)
