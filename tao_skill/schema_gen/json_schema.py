"""Field nodes -> JSON Schema 2020-12 fragments, with TAO's annotation keywords kept.

Types come from the annotations (``json_types``); bounds, options and flags from the metadata. The dataclass value is
the ``default`` (what runs); a TAO ``default_value`` that disagrees is kept as ``x-tao-default-value`` and reported.
"""

from __future__ import annotations

from typing import Any

from tao_skill.schema_gen.introspect import FieldNode, unwrap_optional
from tao_skill.schema_gen.json_types import (
    BOOL_WORDS,
    Warn,
    allow_null,
    coerce_option,
    forbid_null,
    jsonable,
    numeric_equal,
    reconcile_default_type,
    scalar_kind,
    type_schema,
)

__all__ = ["leaf_schema", "object_schema", "node_schema", "forbid_null", "jsonable", "Warn"]


def leaf_schema(node: FieldNode, warn: Warn) -> dict[str, Any]:
    """The schema of one non-dataclass field: type, description, default, bounds, enum and TAO annotations."""
    meta = node.meta
    for message in meta.warnings:
        warn(node.path, message)
    base = type_schema(node.annotation, node.path, warn)
    nullable = (
        "null" in (base.get("type") or []) or None in base.get("enum", []) or {"type": "null"} in base.get("anyOf", [])
    )
    target = base
    kind = scalar_kind(base)
    if kind == "array" and isinstance(base.get("items"), dict):
        target = dict(base["items"])
        base["items"] = target
        kind = scalar_kind(target)
    if "anyOf" in base and not kind:
        _apply_to_union(node, base, warn)
    else:
        _apply_options(node, target, kind, warn)
        _apply_bounds(node, target, kind, warn)
    schema: dict[str, Any] = {}
    if meta.display_name:
        schema["title"] = meta.display_name
    if meta.description:
        schema["description"] = meta.description
    schema.update(base)
    if nullable and target is base:
        schema = allow_null(schema)
    if node.missing:
        schema = allow_null(schema)  # unset until someone gives it; the actions that need it require it
    else:
        default = jsonable(node.default)
        if default is None and not nullable and schema:
            schema = allow_null(schema)  # TAO declares `x: str = None`; the runnable default must validate
        default = reconcile_default_type(schema, default, node.path, warn)
        schema["default"] = default
        _check_default_against_meta(node, default, warn, schema)
    _annotate(node, schema)
    return schema


def _apply_to_union(node: FieldNode, base: dict[str, Any], warn: Warn) -> None:
    """TAO's UNION_FIELD: bounds go to every numeric branch (and numeric array items); options stay an annotation.

    A union's options mix branches (``"true,false,gaussian,pissa_niter_[number of iters]"``), so enforcing them
    would reject values TAO accepts; they are kept as ``x-tao-valid-options`` for UIs and AutoML.
    """
    branches: list[dict[str, Any]] = []
    for index, branch in enumerate(base["anyOf"]):
        if not isinstance(branch, dict) or branch == {"type": "null"}:
            continue
        branch = dict(branch)
        base["anyOf"][index] = branch
        if scalar_kind(branch) == "array" and isinstance(branch.get("items"), dict):
            branch["items"] = dict(branch["items"])
            branch = branch["items"]
        branches.append(branch)
    for branch in branches:
        _apply_bounds(node, branch, scalar_kind(branch), warn)
    if node.meta.options:
        base["x-tao-valid-options"] = [str(option) for option in node.meta.options]


def _apply_options(node: FieldNode, target: dict[str, Any], kind: str | None, warn: Warn) -> None:
    options = node.meta.options
    if not options or "enum" in target:
        return
    if kind not in ("string", "integer", "number", "boolean"):
        return
    try:
        values = [coerce_option(option, kind) for option in options]
    except (TypeError, ValueError):
        warn(node.path, f"valid_options {options!r} do not match the field's type {kind}; no enum emitted")
        return
    deduped: list[Any] = []
    for value in values:
        if value not in deduped:
            deduped.append(value)
    target["enum"] = deduped
    weights = node.meta.option_weights
    if weights is not None and len(weights) != len(options):
        warn(node.path, f"option_weights has {len(weights)} entries for {len(options)} options; dropped")


def _apply_bounds(node: FieldNode, target: dict[str, Any], kind: str | None, warn: Warn) -> None:
    meta = node.meta
    if kind not in ("integer", "number"):
        return  # TAO puts bounds on strings and lists too; they constrain nothing there
    for key, value in (
        ("minimum", meta.minimum),
        ("maximum", meta.maximum),
        ("exclusiveMinimum", meta.exclusive_minimum),
        ("exclusiveMaximum", meta.exclusive_maximum),
    ):
        if value is not None:
            target[key] = int(value) if kind == "integer" and float(value).is_integer() else value
    lo, hi = (
        target.get("minimum", target.get("exclusiveMinimum")),
        target.get("maximum", target.get("exclusiveMaximum")),
    )
    if lo is not None and hi is not None and lo > hi:
        warn(node.path, f"empty range [{lo}, {hi}]; bounds dropped")
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            target.pop(key, None)


def _check_default_against_meta(node: FieldNode, default: Any, warn: Warn, schema: dict[str, Any]) -> None:
    """Report contradictions in TAO metadata and keep the schema accepting its own default."""
    raw = node.raw_metadata
    declared = raw.get("default_value", None)
    if isinstance(default, bool) and isinstance(declared, str) and declared.strip().lower() in BOOL_WORDS:
        declared = BOOL_WORDS[declared.strip().lower()]
    if declared not in (None, "") and default is not None and not numeric_equal(jsonable(declared), default):
        warn(node.path, f"value {default!r} differs from default_value {jsonable(declared)!r}; the value is used")
        schema["x-tao-default-value"] = jsonable(declared)
    target = schema
    values = [default]
    if schema.get("type") == "array" or "array" in (schema.get("type") or []):
        target = schema.get("items", {})
        values = default if isinstance(default, list) else []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if "enum" in target and value is not None and value not in target["enum"]:
                warn(node.path, f"default {value!r} is not one of its options {target['enum']!r}; added to the enum")
                target["enum"] = [*target["enum"], value]
            continue
        for key, breaks in (
            ("minimum", lambda b, v: v < b),
            ("exclusiveMinimum", lambda b, v: v <= b),
            ("maximum", lambda b, v: v > b),
            ("exclusiveMaximum", lambda b, v: v >= b),
        ):
            bound = target.get(key)
            if bound is not None and breaks(bound, value):
                warn(node.path, f"default {value!r} violates its own bound {key}={bound!r}; bound dropped")
                target.pop(key)
        if "enum" in target and value not in target["enum"]:
            warn(node.path, f"default {value!r} is not one of its options {target['enum']!r}; added to the enum")
            target["enum"] = [*target["enum"], value]


def _annotate(node: FieldNode, schema: dict[str, Any]) -> None:
    meta = node.meta
    if meta.automl_enabled is not None:
        schema["automl_enabled"] = meta.automl_enabled
    if meta.option_weights is not None and meta.options and len(meta.option_weights) == len(meta.options):
        schema["option_weights"] = list(meta.option_weights)
    if meta.math_cond:
        schema["math_cond"] = meta.math_cond
    if meta.depends_on:
        schema["depends_on"] = meta.depends_on
    if meta.popular:
        schema["popular"] = True
    if meta.tao_extension:
        schema["x-tao-extension"] = True
    if meta.extension_options:
        schema["x-tao-extension-options"] = list(meta.extension_options)
    if meta.inherit:
        schema["x-inherit"] = True
    if meta.derived:
        schema["x-derived"] = meta.derived


def object_schema(node_children: list[FieldNode], warn: Warn, *, description: str = "") -> dict[str, Any]:
    """A closed object of the given fields (recursively)."""
    properties: dict[str, Any] = {}
    for child in node_children:
        properties[child.name] = node_schema(child, warn)
    schema: dict[str, Any] = {}
    if description:
        schema["description"] = description
    schema.update({"type": "object", "properties": properties, "additionalProperties": False})
    return schema


def node_schema(node: FieldNode, warn: Warn) -> dict[str, Any]:
    """The schema of any field node."""
    if node.dataclass_type is None:
        return leaf_schema(node, warn)
    doc = (node.meta.description or (node.dataclass_type.__doc__ or "")).strip()
    doc = " ".join(doc.split("\n\n")[0].split()) if doc else ""
    if doc.startswith(f"{node.dataclass_type.__name__}("):
        doc = ""  # dataclass's generated signature docstring says nothing
    schema = object_schema(node.children, warn, description=doc)
    _, nullable = unwrap_optional(node.annotation)
    if nullable or (node.default is None and not node.missing and not _is_instance(node.default)):
        schema = {"anyOf": [schema, {"type": "null"}]}
    _annotate(node, schema)
    return schema


def _is_instance(value: Any) -> bool:
    import dataclasses

    return dataclasses.is_dataclass(value) and not isinstance(value, type)
