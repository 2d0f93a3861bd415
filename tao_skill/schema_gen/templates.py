"""Commented YAML spec templates: the defaults an agent edits, ``???`` only where a value must be given."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from tao_skill.schema_gen.introspect import MISSING_MARK, FieldNode
from tao_skill.schema_gen.json_schema import jsonable

INDENT = "  "


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*(?: [A-Za-z0-9_./-]+)*$")
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"})


def render_scalar(value: Any) -> str:
    """One YAML value on one line (flow style for lists and maps)."""
    fast = _plain_scalar(value)
    if fast is not None:
        return fast
    text = yaml.safe_dump(jsonable(value), default_flow_style=True, width=100_000, sort_keys=False).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    return text.removesuffix("...").strip()


def _plain_scalar(value: Any) -> str | None:
    """What PyYAML writes for the common simple scalars, without its emitter (templates render hundreds); None
    when the value needs PyYAML's own quoting rules."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if "e" not in text and "n" not in text and "." in text else None
    if isinstance(value, str) and _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
        return value
    return None


def range_text(node: FieldNode, schema: dict[str, Any]) -> str:
    """A short human summary of a leaf's constraints (from its generated schema)."""
    target = schema.get("items", schema) if "array" in _types(schema) else schema
    parts: list[str] = []
    if "enum" in target:
        options = [render_scalar(v) for v in target["enum"] if v is not None]
        parts.append("one of: " + ", ".join(options))
    lo = _bound(target, "minimum", ">=") or _bound(target, "exclusiveMinimum", ">")
    hi = _bound(target, "maximum", "<=") or _bound(target, "exclusiveMaximum", "<")
    if lo or hi:
        parts.append(", ".join(p for p in (lo, hi) if p))
    if schema.get("automl_enabled") is True:
        parts.append("AutoML searches it")
    if schema.get("x-tao-extension"):
        parts.append("embedded trainer only")
    return f" [{'; '.join(parts)}]" if parts else ""


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    return [kind] if isinstance(kind, str) else list(kind or [])


def _bound(schema: dict[str, Any], key: str, symbol: str) -> str:
    return f"{symbol} {schema[key]}" if key in schema else ""


def render_template(
    *,
    header: Sequence[str],
    nodes: Sequence[FieldNode],
    schemas: dict[str, dict[str, Any]],
    required: dict[str, str],
) -> str:
    """The template text.

    ``schemas`` maps a leaf's dotted path to its generated schema (for ranges); ``required`` maps dotted paths that
    must be given to a note (shown beside ``???``).
    """
    lines = [f"# {line}" if line else "#" for line in header]
    for node in nodes:
        _render_node(node, 0, lines, schemas, required)
    return "\n".join(lines) + "\n"


def _render_node(
    node: FieldNode,
    depth: int,
    lines: list[str],
    schemas: dict[str, dict[str, Any]],
    required: dict[str, str],
) -> None:
    pad = INDENT * depth
    if node.dataclass_type is not None:
        doc = (node.meta.description or node.dataclass_type.__doc__ or "").strip().split("\n")[0]
        if doc and not doc.startswith(f"{node.dataclass_type.__name__}("):
            lines.append(f"{pad}# {doc}")
        lines.append(f"{pad}{node.name}:")
        for child in node.children:
            _render_node(child, depth + 1, lines, schemas, required)
        return
    schema = schemas.get(node.path, {})
    description = node.meta.description or ""
    comment = f"{description}{range_text(node, schema)}".strip()
    if node.path in required:
        note = required[node.path]
        comment = f"REQUIRED{': ' + note if note else ''}. {comment}".strip()
        value = MISSING_MARK
    else:
        value = render_scalar(None if node.missing else schema.get("default", node.default))
    if comment:
        lines.append(f"{pad}# {comment}")
    lines.append(f"{pad}{node.name}: {value}")
