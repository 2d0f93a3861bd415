"""What the MCP tools tell a client about the skill bank: the request's input schema with the bank's facts filled
in (skill and action names, data source names, the popular override keys with their types and bounds), and the
``describe_action`` answer."""

from __future__ import annotations

from typing import Any

from tao_skill._schema_walk import leaf_schemas
from tao_skill.errors import UserError

__all__ = ["SCHEMA_KEYWORDS", "skill_facts", "request_schema", "describe_action", "popular_keys"]

SCHEMA_KEYWORDS = (
    "type",
    "enum",
    "anyOf",
    "oneOf",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "default",
    "items",
)
_MAX_POPULAR = 40


def popular_keys(schema: dict[str, Any], leaves: dict[str, dict[str, Any]]) -> list[str]:
    """Popular keys: the schema's top-level ``popular`` list, else fields flagged ``popular``."""
    top = schema.get("popular")
    keys: list[str] = []
    if isinstance(top, list):
        keys = [k for k in top if isinstance(k, str)]
    elif isinstance(top, dict):
        keys = [k for k, v in top.items() if v]
    keys += [k for k, sub in leaves.items() if sub.get("popular") is True and k not in keys]
    return keys[:_MAX_POPULAR]


def _property(leaf: dict[str, Any], action: str) -> dict[str, Any]:
    prop = {k: leaf[k] for k in SCHEMA_KEYWORDS if k in leaf}
    text = leaf.get("description") or leaf.get("title") or ""
    prop["description"] = f"[{action}] {text}".strip()
    return prop


def skill_facts() -> dict[str, Any]:
    """Skills, actions, data sources and popular override properties, read from the bank (best effort)."""
    from tao_skill.skill import available_skills, load_skill

    facts: dict[str, Any] = {"skills": [], "actions": set(), "sources": {}, "overrides": {}, "shorthands": {}}
    ranking: list[str] = []
    for name in available_skills():
        try:
            skill = load_skill(name)
        except UserError:
            continue
        facts["skills"].append(name)
        if skill.info.runtime.ranking is not None:
            ranking.append(f"{name}: {skill.info.runtime.ranking.metric} ({skill.info.runtime.ranking.mode})")
        for action in skill.info.actions:
            facts["actions"].add(action)
            for binding in skill.info.data_sources.get(action, {}).values():
                facts["sources"].setdefault(binding.source, set()).add(action)
            if not skill.has_schema(action):
                continue
            try:
                schema = skill.schema(action)
            except UserError:
                continue
            leaves = leaf_schemas(schema)
            for key in popular_keys(schema, leaves) + list(skill.info.spec_shorthand_keys.values()):
                if key in leaves and key not in facts["overrides"]:
                    facts["overrides"][key] = _property(leaves[key], action)
        for short, key in skill.info.spec_shorthand_keys.items():
            facts["shorthands"].setdefault(short, key)
    facts["actions"] = sorted(facts["actions"])
    facts["ranking"] = "; ".join(ranking) or "none named"
    return facts


def request_schema(facts: dict[str, Any]) -> dict[str, Any]:
    """:func:`tao_skill.request.input_schema` with the bank's names, sources, popular keys and AutoML settings."""
    from tao_skill.request import input_schema, settings_schema

    schema = input_schema()
    props = schema["properties"]
    if facts["skills"]:
        props["skill"]["enum"] = facts["skills"]
    if facts["actions"]:
        props["action"]["enum"] = facts["actions"]
    shorthands = ", ".join(f"{s} -> {k}" for s, k in sorted(facts["shorthands"].items()))
    props["overrides"].update(
        properties=facts["overrides"],
        additionalProperties=True,
        description=props["overrides"].get("description", "")
        + f"; shorthands: {shorthands}; the popular keys are listed with their types and bounds",
    )
    props["data_sources"].update(
        properties={
            name: {
                "type": "string",
                "description": "folder or s3:// prefix with images.tar.gz + dataset.csv; used by: "
                + ", ".join(sorted(actions)),
            }
            for name, actions in sorted(facts["sources"].items())
        },
        additionalProperties={"type": "string"},
    )
    props["automl_settings"].update(settings_schema())
    props["checkpoint"]["description"] += f"; the ranking metric of each skill: {facts['ranking']}"
    return schema


def describe_action(skill: str, action: str) -> dict[str, Any]:
    """``api.describe`` plus popular parameters, AutoML parameters, a schema summary and required data sources."""
    from tao_skill import api
    from tao_skill.skill import load_skill

    info = api.describe(skill, action)
    info.pop("template", None)
    sk = load_skill(skill)
    if sk.has_schema(action):
        schema = sk.schema(action)
        leaves = leaf_schemas(schema)
        popular = popular_keys(schema, leaves) or list(sk.info.spec_shorthand_keys.values())
        info["popular_parameters"] = {
            k: {kk: v for kk, v in leaves[k].items() if kk in (*SCHEMA_KEYWORDS, "description")}
            for k in popular
            if k in leaves
        }
        info["automl_default_parameters"] = schema.get("automl_default_parameters", [])
        info["schema_summary"] = {
            "sections": schema.get("x-sections") or sorted((schema.get("properties") or {}).keys()),
            "keys": len(leaves),
            "required": sk.required_keys(action),
        }
    required = sorted(
        {b["source"] for k, b in info["data_sources"].items() if not info["inputs"].get(k, {}).get("optional")}
    )
    info["required_data_sources"] = required
    return info
