"""The leaf keys of a generated JSON Schema: dotted path -> the schema of a value that is not itself an object."""

from __future__ import annotations

from typing import Any

__all__ = ["is_object", "leaf_schemas"]


def _candidates(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema and its ``anyOf`` options (a nullable section is ``anyOf: [object, null]``)."""
    return [schema, *[s for s in schema.get("anyOf", []) if isinstance(s, dict)]]


def is_object(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` (or one of its anyOf options) is an object with declared properties."""
    return any(c.get("type") == "object" and isinstance(c.get("properties"), dict) for c in _candidates(schema))


def leaf_schemas(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Dotted path -> leaf schema, walking through closed and nullable objects (sections, sub-sections)."""
    out: dict[str, dict[str, Any]] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for candidate in _candidates(node):
            properties = candidate.get("properties")
            if candidate.get("type") == "object" and isinstance(properties, dict):
                for name, sub in properties.items():
                    if is_object(sub):
                        walk(sub, f"{prefix}{name}.")
                    else:
                        out[f"{prefix}{name}"] = sub
                return

    walk(schema, "")
    return out
