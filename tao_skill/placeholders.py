"""``???`` (and NVIDIA's ``<required>``) in a spec: an error only where the action reads the key, as in TAO.

TAO's specs carry ``???`` on every dataset split; OmegaConf fails only when the code reads one. Here a placeholder
stays (and validation reports it) when the action reads the key: the key sits in one of the action's sections and
is not a dataset split or an optional input that belongs to another action. Elsewhere the placeholder is settled:
the key takes the schema's default when the schema allows it, and is removed otherwise (the trainer and TAO then
use their own default), so no layer writes ``null`` where the schema forbids it.
"""

from __future__ import annotations

from typing import Any

from tao_skill import overrides as ov
from tao_skill._schema_walk import walk
from tao_skill.skill import Skill

__all__ = ["PLACEHOLDERS", "is_placeholder", "read_by_action", "settle_placeholders"]

#: Values that mean "you must give this": OmegaConf's MISSING and the marker of NVIDIA's deploy template.
PLACEHOLDERS = (ov.MISSING, "<required>")


def is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.strip() in PLACEHOLDERS


def _bound_keys(skill: Skill, action: str) -> set[str]:
    return set(skill.info.data_sources.get(action, {}))


def read_by_action(skill: Skill, action: str, key: str) -> bool:
    """Whether ``action`` reads ``key`` (so a ``???`` there must be filled)."""
    schema = skill.schema(action)
    sections = schema.get("x-sections")
    manifest = skill.manifest
    common = list(getattr(manifest, "common_keys", None) or []) if manifest is not None else []
    top = key.split(".", 1)[0]
    if isinstance(sections, list) and top not in sections and top not in common:
        return False
    inputs = skill.action(action).inputs
    if key in inputs:
        return not inputs[key].optional
    mine = _bound_keys(skill, action)
    if key in mine:
        return True
    others = {k for a in skill.info.data_sources if a != action for k in _bound_keys(skill, a)}
    if key in others:
        return False
    # A sibling of a key bound elsewhere (another field of a dataset split that only other actions read).
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    return not (parent and any(k.rsplit(".", 1)[0] == parent for k in others - mine))


def _allows(node: dict[str, Any], value: Any) -> bool:
    types = node.get("type")
    if types is None:
        return True
    types = types if isinstance(types, list) else [types]
    kinds = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string"}
    kind = "array" if isinstance(value, list) else "object" if isinstance(value, dict) else kinds.get(type(value))
    return kind in types or (kind == "integer" and "number" in types)


def settle_placeholders(
    spec: dict[str, Any], skill: Skill, action: str, stop: set[str]
) -> tuple[list[str], dict[str, Any]]:
    """Normalise ``<required>`` to ``???`` and settle the placeholders ``action`` does not read, in place.

    Returns (keys settled, {key: value given}) so the caller can record provenance and tell the user.
    """
    leaves: dict[str, dict[str, Any]] = {}
    for key, node in walk(skill.schema(action)):  # the property first, then requirement entries (allOf)
        leaves[key] = {**node, **leaves.get(key, {})}
    settled: list[str] = []
    values: dict[str, Any] = {}
    for key, value in ov.flatten(spec, stop=stop).items():
        if not is_placeholder(value):
            continue
        if read_by_action(skill, action, key):
            ov.set_dotted(spec, key, ov.MISSING)
            continue
        node = leaves.get(key)
        if node is not None and "default" in node and _allows(node, node["default"]):
            ov.set_dotted(spec, key, node["default"])
            values[key] = node["default"]
        else:
            _remove(spec, key)
        settled.append(key)
    return settled, values


def _remove(spec: dict[str, Any], key: str) -> None:
    *parents, leaf = key.split(".")
    node: Any = spec
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(leaf, None)
