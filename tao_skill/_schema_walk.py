"""The one walker of JSON Schemas as dotted keys (the generator, the runtime, AutoML and the MCP server use it).

- :func:`walk`: every declared property, objects included, as ``(dotted key, merged node)``: local ``$ref``s are
  followed and the options of anyOf/oneOf/allOf merged (null options dropped), so annotations are found wherever
  they sit.
- :func:`leaf_schemas`: dotted key -> the schema of each leaf as written (a value that is not an object with
  declared properties), through closed and nullable objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["walk", "variants", "is_object", "leaf_schemas"]


def _deref(node: Any, root: dict[str, Any], depth: int = 0) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/") and depth < 20:
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        if target is None:
            return node
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **extra} if extra else target
        depth += 1
    return node


def variants(node: Any, root: dict[str, Any]) -> list[dict[str, Any]]:
    """The node and its anyOf/oneOf/allOf options, dereferenced (``null`` options dropped)."""
    node = _deref(node, root)
    if not isinstance(node, dict):
        return []
    found = [node]
    for key in ("anyOf", "oneOf", "allOf"):
        for option in node.get(key) or []:
            option = _deref(option, root)
            if isinstance(option, dict) and option.get("type") != "null":
                found.extend(variants(option, root))
    return found


def walk(schema: dict[str, Any], prefix: str = "", root: dict[str, Any] | None = None) -> Iterator[tuple[str, dict]]:
    """Yield ``(dotted key, merged node)`` for every declared property, depth first."""
    root = root if root is not None else schema
    for variant in variants(schema, root):
        for name, child in (variant.get("properties") or {}).items():
            dotted = f"{prefix}.{name}" if prefix else name
            options = variants(child, root)
            merged: dict[str, Any] = {}
            for option in reversed(options):
                merged.update({k: v for k, v in option.items() if k not in ("anyOf", "oneOf", "allOf")})
            yield dotted, merged
            for option in options:
                if option.get("properties"):
                    yield from walk(option, dotted, root)


def _object_variant(node: Any, root: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (v for v in variants(node, root) if v.get("type") == "object" and isinstance(v.get("properties"), dict)), None
    )


def is_object(schema: dict[str, Any], root: dict[str, Any] | None = None) -> bool:
    """Whether ``schema`` (or one of its options) is an object with declared properties."""
    return _object_variant(schema, root if root is not None else schema) is not None


def leaf_schemas(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Dotted path -> leaf schema as written, walking through closed and nullable objects (sections, sub-sections)."""
    out: dict[str, dict[str, Any]] = {}

    def visit(node: dict[str, Any], prefix: str) -> None:
        found = _object_variant(node, schema)
        for name, sub in (found or {}).get("properties", {}).items():
            if is_object(sub, schema):
                visit(sub, f"{prefix}{name}.")
            else:
                out[f"{prefix}{name}"] = sub

    visit(schema, "")
    return out
