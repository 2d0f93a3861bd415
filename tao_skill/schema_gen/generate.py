"""Build every artifact of one config in memory: per-action schemas, templates and the manifest.

Output is a mapping of paths (relative to the skill folder) to text; writing and drift checks live in
:mod:`tao_skill.schema_gen.__main__`. Everything is ordered by declaration or sorted, so the bytes do not depend on
PYTHONHASHSEED.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from tao_skill._schema_walk import leaf_schemas
from tao_skill.expressions import ExpressionError, compile_expression
from tao_skill.schema_gen import __version__
from tao_skill.schema_gen.actions import declared_actions, declared_rules, derived_actions
from tao_skill.schema_gen.fields import ActionSpec, CrossKeyRule
from tao_skill.schema_gen.introspect import build_tree, load_config_class
from tao_skill.schema_gen.json_schema import forbid_null, node_schema
from tao_skill.schema_gen.source import SchemaSource, apply_source
from tao_skill.schema_gen.templates import render_template

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_VERSION = "1.0"

RULE = (
    "Validates the sections this action reads ({sections}) and the common top-level keys ({common}): inside them "
    "every key must be known (additionalProperties: false) and typed. Other top-level sections of a full TAO "
    "experiment spec ({others}) are accepted as objects and not validated here; any other top-level key is rejected."
)


@dataclass
class Artifacts:
    """Generated files (path relative to the skill folder -> text) and the warnings met on the way."""

    files: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _requirement(path: str) -> dict[str, Any]:
    """A schema that needs the dotted ``path`` present, non-null and not '???'."""
    parts = path.split(".")
    node: dict[str, Any] = {"not": {"enum": [None, "???"]}}
    for part in reversed(parts):
        node = {"type": "object", "required": [part], "properties": {part: node}}
    node.pop("type")
    return node


def _required_notes(action: ActionSpec) -> dict[str, str]:
    notes: dict[str, str] = {}
    for entry in action.required:
        alternatives = entry.split("|")
        first, rest = alternatives[0], alternatives[1:]
        notes[first] = f"or set {' / '.join(rest)} instead" if rest else ""
    return notes


class Generator:
    """Generate the artifacts of one config (ours or TAO Core's), shaped by a skill's declared source if given."""

    def __init__(self, config_source: str, skill: str, source: SchemaSource | None = None) -> None:
        self.config_source = config_source
        self.skill = skill
        self.cls = load_config_class(config_source)
        self.tree = build_tree(self.cls)
        self._warnings: list[str] = []
        self._seen_warnings: set[str] = set()
        if source is not None:
            apply_source(self.tree, source, self._warn)
        declared = declared_actions(config_source)
        fields = {node.name for node in self.tree}
        if declared and not all(s in fields for action in declared[0] for s in action.sections):
            self._warn(
                config_source,
                f"the module's ACTIONS table names sections that {self.cls.__name__} does not have; "
                "actions derived from its fields instead",
            )
            declared = None
        self.actions, self.common_keys = declared if declared else derived_actions(self.tree)
        if source is not None and source.actions is not None:
            self.actions = tuple(a for a in self.actions if a.name in source.actions)
        extra_rules = source.cross_key_rules() if source is not None else []
        self.rules = self._checked_rules([*declared_rules(config_source), *extra_rules])

    def _checked_rules(self, rules: list[CrossKeyRule]) -> list[CrossKeyRule]:
        """The rules whose expressions are in the allowed language (the others reported and left out)."""
        kept = []
        for rule in rules:
            try:
                compile_expression(rule.check)
            except ExpressionError as exc:
                self._warn(f"rule {rule.name}", f"{exc}; rule left out")
                continue
            kept.append(rule)
        return kept

    def _rules_for(self, action: ActionSpec, leaves: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """The rules an action's schema carries: those naming the action (or none) whose keys it validates."""
        found = []
        for rule in self.rules:
            keys = [*compile_expression(rule.check).keys(), rule.path]
            if (not rule.actions or action.name in rule.actions) and all(k in leaves for k in keys):
                found.append(rule.as_schema())
        return found

    def _warn(self, path: str, message: str) -> None:
        text = f"{path}: {message}"
        if text not in self._seen_warnings:
            self._seen_warnings.add(text)
            self._warnings.append(text)

    def build(self) -> Artifacts:
        """All files, in a fixed order."""
        by_name = {node.name: node for node in self.tree}
        top_schemas = {node.name: node_schema(node, self._warn) for node in self.tree}
        files: dict[str, str] = {}
        manifest_actions: dict[str, Any] = {}
        for action in self.actions:
            unknown = [s for s in (*action.sections, *self.common_keys) if s not in by_name]
            for name in unknown:
                self._warn(f"{action.name}", f"section {name!r} is not a field of {self.cls.__name__}; skipped")
            schema, leaves = self._action_schema(action, top_schemas)
            schema_path = f"schemas/{action.name}.schema.json"
            template_path = f"references/spec_template_{action.name}.yaml"
            files[schema_path] = _dump_json(schema)
            files[template_path] = self._template(action, leaves)
            manifest_actions[action.name] = {
                "schema": f"{action.name}.schema.json",
                "template": template_path,
                "description": action.description,
                "sections": [s for s in action.sections if s in by_name],
                "required": list(action.required),
                "trains": action.trains,
                "automl_default_parameters": schema["automl_default_parameters"],
                "automl_disabled_parameters": schema["automl_disabled_parameters"],
                "popular": schema["popular"],
            }
        manifest = {
            "skill": self.skill,
            "schema_version": SCHEMA_VERSION,
            "generator": {"name": "schema_gen", "version": __version__},
            "config_source": self.config_source,
            "json_schema_dialect": SCHEMA_DIALECT,
            "common_keys": [k for k in self.common_keys if k in by_name],
            "actions": manifest_actions,
            "files": {path: {"sha256": _sha256(text)} for path, text in sorted(files.items())},
        }
        files["schemas/manifest.json"] = _dump_json(manifest)
        return Artifacts(files=files, warnings=list(self._warnings))

    def _action_schema(
        self, action: ActionSpec, top_schemas: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        keep = [n.name for n in self.tree if n.name in action.sections or n.name in self.common_keys]
        others = [n.name for n in self.tree if n.name not in keep]
        properties: dict[str, Any] = {}
        for node in self.tree:
            if node.name in keep:
                properties[node.name] = top_schemas[node.name]
            else:
                properties[node.name] = {
                    "description": f"Read by other actions; accepted but not validated by the {action.name} schema.",
                    "type": ["object", "null"] if node.dataclass_type is not None else {},
                }
                if properties[node.name]["type"] == {}:
                    properties[node.name].pop("type")
        requirements: list[dict[str, Any]] = []
        for entry in action.required:
            alternatives = [_requirement(p) for p in entry.split("|")]
            requirements.append(alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives})
        leaves = leaf_schemas({"type": "object", "properties": {k: properties[k] for k in keep}})
        automl_default = (
            sorted(p for p, s in leaves.items() if s.get("automl_enabled") is True) if action.trains else []
        )
        automl_disabled = (
            sorted(p for p, s in leaves.items() if s.get("automl_enabled") is False) if action.trains else []
        )
        popular = sorted(p for p, s in leaves.items() if s.get("popular") is True)
        for path, leaf in leaves.items():
            if isinstance(leaf.get("x-derived"), str):
                try:
                    compile_expression(leaf["x-derived"])
                except ExpressionError as exc:
                    self._warn(path, f"x-derived: {exc}")
        sections = ", ".join(s for s in action.sections if s in properties) or "none"
        common = ", ".join(k for k in self.common_keys if k in properties) or "none"
        schema: dict[str, Any] = {
            "$schema": SCHEMA_DIALECT,
            "title": f"{self.skill} {action.name} spec",
            "description": " ".join(
                x
                for x in (
                    action.description,
                    RULE.format(sections=sections, common=common, others=", ".join(others) or "none"),
                    "Required: " + "; ".join(e.replace("|", " or ") for e in action.required) + "."
                    if action.required
                    else "",
                )
                if x
            ),
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if requirements:
            schema["allOf"] = requirements
        schema["automl_default_parameters"] = automl_default
        schema["automl_disabled_parameters"] = automl_disabled
        schema["popular"] = popular
        rules = self._rules_for(action, leaves)
        if rules:
            schema["x-rules"] = rules
        schema["x-action"] = action.name
        schema["x-sections"] = [s for s in action.sections if s in properties]
        schema["x-generator"] = f"schema_gen {__version__} from {self.config_source}"
        for path in [p.split("|")[0] for p in action.required]:
            if path in leaves:
                leaves[path] = forbid_null(leaves[path])
        return schema, leaves

    def _template(self, action: ActionSpec, leaves: dict[str, dict[str, Any]]) -> str:
        nodes = [n for n in self.tree if n.name in action.sections or n.name in self.common_keys]
        header = [
            f"Spec template: {self.skill} / {action.name}. {action.description}".strip(),
            f"Generated by schema_gen {__version__} from {self.config_source}; regenerate with `make schemas`.",
            "Each key has its description and range above it. `???` marks a value you must give.",
            f"Validates against schemas/{action.name}.schema.json.",
            "",
        ]
        return render_template(header=header, nodes=nodes, schemas=leaves, required=_required_notes(action))


def generate(config_source: str, skill: str, source: SchemaSource | None = None) -> Artifacts:
    """Generate every artifact of ``config_source`` for the skill named ``skill`` (shaped by its ``source``)."""
    return Generator(config_source, skill, source).build()
