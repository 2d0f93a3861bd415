"""Walk a JSON Schema's object properties as dotted keys, following local ``$ref``s and anyOf/oneOf/allOf."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["walk", "variants"]


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
