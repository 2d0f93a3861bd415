"""``tao-skill describe`` for people: a skill's facts as short lines, an action's spec keys as a table (key, type,
default, bounds, description) read from its generated JSON Schema. ``--json`` prints the full record instead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tao_skill._schema_walk import leaf_schemas, walk
from tao_skill.cli_output import table

__all__ = ["key_rows", "print_describe"]

_BOUNDS = (("minimum", ">= {}"), ("exclusiveMinimum", "> {}"), ("maximum", "<= {}"), ("exclusiveMaximum", "< {}"))


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def _first_sentence(text: str) -> str:
    text = " ".join(str(text or "").split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def _type(node: dict[str, Any]) -> str:
    kind = node.get("type")
    kinds = [k for k in (kind if isinstance(kind, list) else [kind]) if k and k != "null"]
    if kinds == ["array"] and isinstance(node.get("items"), dict) and node["items"].get("type"):
        return f"list of {node['items']['type']}"
    return "|".join(kinds) or ("enum" if "enum" in node else "any")


def _bounds(node: dict[str, Any]) -> str:
    parts = [text.format(node[key]) for key, text in _BOUNDS if isinstance(node.get(key), (int, float))]
    if isinstance(node.get("enum"), list):
        parts.append("one of " + ", ".join(str(v) for v in node["enum"] if v is not None))
    for key, text in (("minItems", "at least {} items"), ("maxItems", "at most {} items")):
        if isinstance(node.get(key), int):
            parts.append(text.format(node[key]))
    return _short("; ".join(parts), 40)


def key_rows(schema: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(key, type, default, bounds, description) of every leaf key of an action's schema; popular keys starred."""
    leaves = set(leaf_schemas(schema))
    rows, seen = [], set()
    for key, node in walk(schema):
        if key not in leaves or key in seen:
            continue
        seen.add(key)
        default = _short(json.dumps(node["default"], default=str), 24) if "default" in node else ""
        name = f"{key} *" if node.get("popular") else key
        rows.append((name, _type(node), default, _bounds(node), _short(_first_sentence(node.get("description")), 90)))
    return rows


def _compact(value: Any) -> str:
    """A value on one line: lists joined, mappings as ``key=value`` without their empty fields."""
    if isinstance(value, dict):
        items = [(k, v) for k, v in value.items() if v not in (None, "", [], {}, False)]
        return ", ".join(f"{k}={_compact(v)}" for k, v in items) or "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(_compact(v) for v in value) or "-"
    return "-" if value in (None, "") else str(value)


def print_describe(info: dict[str, Any]) -> None:
    """A skill (no action) as lines; an action as lines, then its spec keys as a table."""
    schema_path = info.get("schema_path")
    shown = {k: v for k, v in info.items() if k not in ("template", "schema_path", "template_path", "spec_layers")}
    width = max(len(k) for k in shown) if shown else 0
    for key, value in shown.items():
        if isinstance(value, dict) and value:
            print(f"{key}:")
            inner = max(len(str(k)) for k in value)
            for name, item in value.items():
                print(f"  {str(name).ljust(inner)}  {_compact(item)}")
        else:
            print(f"{key.ljust(width)}  {_compact(value)}")
    if info.get("spec_layers"):
        print("\nspec layers, later wins:")
        for layer in info["spec_layers"]:
            print(f"  - {layer}")
    if not schema_path or not Path(schema_path).is_file():
        return
    schema = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    rows = key_rows(schema)
    print(f"\nspec keys of {info.get('action')} ({len(rows)}; * = the ones most often set; --json for everything):")
    print(table(rows, ("key", "type", "default", "bounds", "description")))
    print(f"\nschema: {schema_path}\ntemplate: {info.get('template_path', '')}")
