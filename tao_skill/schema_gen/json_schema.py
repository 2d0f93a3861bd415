"""Field nodes -> JSON Schema 2020-12 fragments, with TAO's annotation keywords kept.

Types come from the annotations (Optional -> null allowed, Literal/Enum -> enum, list/dict item types, nested
dataclasses -> closed objects); bounds, options and flags from the metadata. The dataclass value is the ``default``
(what runs); a TAO ``default_value`` that disagrees is kept as ``x-tao-default-value`` and reported.
"""

from __future__ import annotations

import enum
import math
import typing
from collections.abc import Callable
from typing import Any

from tao_skill.schema_gen.introspect import FieldNode, unwrap_optional

Warn = Callable[[str, str], None]  # (key path, message)

_SCALARS: dict[Any, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}


def type_schema(annotation: Any, path: str, warn: Warn) -> dict[str, Any]:
    """The structural schema of a Python annotation (no metadata)."""
    inner, nullable = unwrap_optional(annotation)
    schema = _non_null_schema(inner, path, warn)
    return allow_null(schema) if nullable else schema


def allow_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema, also accepting null."""
    schema = dict(schema)
    if "enum" in schema:
        if None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        if "type" in schema:
            schema["type"] = _with_null(schema["type"])
        return schema
    if "type" in schema:
        schema["type"] = _with_null(schema["type"])
        return schema
    if "anyOf" in schema:
        if {"type": "null"} not in schema["anyOf"]:
            schema["anyOf"] = [*schema["anyOf"], {"type": "null"}]
        return schema
    if not schema:
        return schema  # already accepts anything
    return {"anyOf": [schema, {"type": "null"}]}


def forbid_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema, rejecting null (for keys an action requires)."""
    schema = dict(schema)
    kind = schema.get("type")
    if isinstance(kind, list):
        rest = [t for t in kind if t != "null"]
        schema["type"] = rest[0] if len(rest) == 1 else rest
    if "enum" in schema:
        schema["enum"] = [v for v in schema["enum"] if v is not None]
    if "anyOf" in schema:
        rest = [s for s in schema["anyOf"] if s != {"type": "null"}]
        if len(rest) == 1:
            schema.pop("anyOf")
            schema.update(rest[0])
        else:
            schema["anyOf"] = rest
    return schema


def _with_null(kind: str | list[str]) -> str | list[str]:
    kinds = [kind] if isinstance(kind, str) else list(kind)
    return kinds if "null" in kinds else [*kinds, "null"]


def _non_null_schema(annotation: Any, path: str, warn: Warn) -> dict[str, Any]:
    if annotation is Any or annotation is typing.Any:
        return {}
    if annotation in _SCALARS:
        return {"type": _SCALARS[annotation]}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = [member.value for member in annotation]
        return {"enum": values}
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set):
        items = [a for a in args if a is not Ellipsis]
        schema: dict[str, Any] = {"type": "array"}
        if len(items) == 1 or (origin is tuple and len(set(map(repr, items))) == 1 and items):
            schema["items"] = type_schema(items[0], f"{path}[]", warn)
        elif origin is tuple and items:
            schema["prefixItems"] = [type_schema(a, f"{path}[]", warn) for a in items]
        return schema
    if origin is dict or annotation is dict:
        schema = {"type": "object"}
        if len(args) == 2:
            value_schema = type_schema(args[1], f"{path}.*", warn)
            if value_schema:
                schema["additionalProperties"] = value_schema
        return schema
    if origin in (typing.Union, getattr(__import__("types"), "UnionType")):  # noqa: B009 - runtime union type
        return {"anyOf": [type_schema(a, path, warn) for a in args]}
    if annotation is type(None):
        return {"type": "null"}
    warn(path, f"annotation {annotation!r} has no JSON type; any value accepted")
    return {}


def _scalar_kind(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else list(kind or [])
    kinds = [k for k in kinds if k != "null"]
    return kinds[0] if len(kinds) == 1 else None


def _coerce_option(option: Any, kind: str | None) -> Any:
    if kind == "integer":
        number = float(option)
        if number != int(number):
            raise ValueError(option)
        return int(number)
    if kind == "number":
        return float(option)
    if kind == "boolean":
        text = str(option).strip().lower()
        if text not in ("true", "false"):
            raise ValueError(option)
        return text == "true"
    return option if isinstance(option, str) else str(option)


def _numeric_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_numeric_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_numeric_equal(a[k], b[k]) for k in a)
    return a == b


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of a default (enums -> values, tuples -> lists, non-finite floats -> None)."""
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


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
    kind = _scalar_kind(base)
    if kind == "array" and isinstance(base.get("items"), dict):
        target = dict(base["items"])
        base["items"] = target
        kind = _scalar_kind(target)
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


_BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def json_type(value: Any) -> str:
    """The JSON Schema type name of a JSON-safe value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def reconcile_default_type(schema: dict[str, Any], value: Any, path: str, warn: Warn) -> Any:
    """Make ``schema`` accept its own default when the config contradicts its annotation; return the default.

    A string a boolean field reads as a flag (TAO's ``bool = "TRUE"``) becomes that boolean, as omegaconf loads it.
    Any other mismatch (``Dict[str, str]`` holding booleans) widens the declared type by the default's type. Both
    are reported. Array items and map values are reconciled the same way.
    """
    kind = schema.get("type")
    if kind is None or value is None:
        return value
    kinds = [kind] if isinstance(kind, str) else list(kind)
    found = json_type(value)
    if found in kinds or (found == "integer" and "number" in kinds):
        if found == "array" and isinstance(schema.get("items"), dict):
            return [reconcile_default_type(schema["items"], item, f"{path}[]", warn) for item in value]
        if found == "object" and isinstance(schema.get("additionalProperties"), dict):
            values = schema["additionalProperties"]
            return {k: reconcile_default_type(values, v, f"{path}.{k}", warn) for k, v in value.items()}
        return value
    if "boolean" in kinds and isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        flag = _BOOL_WORDS[value.strip().lower()]
        warn(path, f"default {value!r} is a string in a boolean field; used as {flag!r}, as omegaconf reads it")
        return flag
    warn(path, f"default {value!r} is a {found}, not the declared {' or '.join(kinds)}; type widened to accept it")
    widened = [*kinds, found]
    schema["type"] = [k for k in widened if k != "null"] + (["null"] if "null" in widened else [])
    return value


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
        if _scalar_kind(branch) == "array" and isinstance(branch.get("items"), dict):
            branch["items"] = dict(branch["items"])
            branch = branch["items"]
        branches.append(branch)
    for branch in branches:
        _apply_bounds(node, branch, _scalar_kind(branch), warn)
    if node.meta.options:
        base["x-tao-valid-options"] = [str(option) for option in node.meta.options]


def _apply_options(node: FieldNode, target: dict[str, Any], kind: str | None, warn: Warn) -> None:
    options = node.meta.options
    if not options or "enum" in target:
        return
    if kind not in ("string", "integer", "number", "boolean"):
        return
    try:
        values = [_coerce_option(option, kind) for option in options]
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
    if isinstance(default, bool) and isinstance(declared, str) and declared.strip().lower() in _BOOL_WORDS:
        declared = _BOOL_WORDS[declared.strip().lower()]
    if declared not in (None, "") and default is not None and not _numeric_equal(jsonable(declared), default):
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
