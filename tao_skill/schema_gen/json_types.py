"""Python annotations and values -> JSON Schema types: the structural part of a field's schema.

Optional -> null allowed, Literal/Enum -> enum, list/tuple/dict item types; defaults made JSON-safe and reconciled
with the declared type (a default the annotation contradicts widens the type, and is reported).
"""

from __future__ import annotations

import enum
import math
import typing
from collections.abc import Callable
from typing import Any

from tao_skill.schema_gen.introspect import unwrap_optional

__all__ = [
    "BOOL_WORDS",
    "Warn",
    "type_schema",
    "allow_null",
    "forbid_null",
    "scalar_kind",
    "coerce_option",
    "numeric_equal",
    "jsonable",
    "json_type",
    "reconcile_default_type",
]

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


def scalar_kind(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else list(kind or [])
    kinds = [k for k in kinds if k != "null"]
    return kinds[0] if len(kinds) == 1 else None


def coerce_option(option: Any, kind: str | None) -> Any:
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


def numeric_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(numeric_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(numeric_equal(a[k], b[k]) for k in a)
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


#: Strings omegaconf reads as booleans.
BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


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
    if "boolean" in kinds and isinstance(value, str) and value.strip().lower() in BOOL_WORDS:
        flag = BOOL_WORDS[value.strip().lower()]
        warn(path, f"default {value!r} is a string in a boolean field; used as {flag!r}, as omegaconf reads it")
        return flag
    warn(path, f"default {value!r} is a {found}, not the declared {' or '.join(kinds)}; type widened to accept it")
    widened = [*kinds, found]
    schema["type"] = [k for k in widened if k != "null"] + (["null"] if "null" in widened else [])
    return value
