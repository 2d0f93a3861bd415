"""Walk a dataclass config into a tree of typed field nodes (annotation + metadata + runnable default)."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from tao_skill.schema_gen.fields import FieldMeta

MISSING_MARK = "???"  # omegaconf's MISSING, as TAO configs store it


@dataclass
class FieldNode:
    """One config key: its dotted path, annotation, runnable default and metadata; children for dataclasses."""

    path: str
    name: str
    annotation: Any
    default: Any
    meta: FieldMeta
    raw_metadata: dict[str, Any]
    missing: bool = False
    children: list[FieldNode] = field(default_factory=list)
    dataclass_type: type | None = None

    def walk(self) -> typing.Iterator[FieldNode]:
        """This node and every descendant, depth first, in declaration order."""
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def is_leaf(self) -> bool:
        return self.dataclass_type is None


class ConfigLoadError(Exception):
    """The ``module:Class`` could not be imported or is not a dataclass."""


def load_config_class(source: str) -> type:
    """Import ``package.module:ClassName``."""
    module_name, _, class_name = source.partition(":")
    if not module_name or not class_name:
        raise ConfigLoadError(f"--config must look like 'package.module:ClassName', got {source!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is reported the same way
        raise ConfigLoadError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
    cls = getattr(module, class_name, None)
    if cls is None or not dataclasses.is_dataclass(cls):
        candidates = sorted(
            name
            for name, value in vars(module).items()
            if isinstance(value, type) and dataclasses.is_dataclass(value) and name.endswith("ExperimentConfig")
        )
        hint = f"; dataclasses there: {', '.join(candidates)}" if candidates else ""
        raise ConfigLoadError(f"{source!r} is not a dataclass{hint}")
    return cls


def unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """``Optional[X]`` / ``X | None`` -> (X, True); anything else -> (annotation, False)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        rest = tuple(arg for arg in args if arg is not type(None))
        if len(rest) < len(args):
            if len(rest) == 1:
                return rest[0], True
            return typing.Union[rest], True  # noqa: UP007 - rebuilding a runtime Union
    return annotation, False


def dataclass_of(annotation: Any) -> type | None:
    inner, _ = unwrap_optional(annotation)
    if isinstance(inner, type) and dataclasses.is_dataclass(inner):
        return inner
    return None


def _default_of(f: dataclasses.Field) -> tuple[Any, bool]:
    """The runnable default of a field and whether it is missing (no default, or omegaconf's '???')."""
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        try:
            value = f.default_factory()  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - a broken factory is treated as "no default"
            return None, True
    else:
        return None, True
    if isinstance(value, str) and value == MISSING_MARK:
        return None, True
    if isinstance(value, enum.Enum):
        value = value.value
    return value, False


def _type_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - unresolvable forward references fall back to raw annotations
        hints: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            hints.update(getattr(klass, "__annotations__", {}))
        return hints


def build_tree(cls: type, prefix: str = "", _seen: tuple[type, ...] = ()) -> list[FieldNode]:
    """The field nodes of dataclass ``cls`` (recursively), in declaration order."""
    hints = _type_hints(cls)
    nodes: list[FieldNode] = []
    for f in dataclasses.fields(cls):
        if not f.init and f.name.startswith("_"):
            continue
        path = f"{prefix}{f.name}"
        annotation = hints.get(f.name, Any)
        default, missing = _default_of(f)
        node = FieldNode(
            path=path,
            name=f.name,
            annotation=annotation,
            default=default,
            meta=FieldMeta.from_metadata(f.metadata),
            raw_metadata=dict(f.metadata or {}),
            missing=missing,
        )
        sub = dataclass_of(annotation)
        if sub is None and dataclasses.is_dataclass(default) and not isinstance(default, type):
            sub = type(default)
        if sub is not None and sub not in _seen:
            node.dataclass_type = sub
            node.children = build_tree(sub, prefix=f"{path}.", _seen=(*_seen, sub))
            if dataclasses.is_dataclass(default) and not isinstance(default, type):
                _apply_instance_defaults(node, default)
        nodes.append(node)
    return nodes


def _apply_instance_defaults(node: FieldNode, instance: Any) -> None:
    """A parent's default instance may override its children's class defaults (TAO's DATACLASS_FIELD(Cls(x=..)))."""
    for child in node.children:
        if not hasattr(instance, child.name):
            continue
        value = getattr(instance, child.name)
        if child.dataclass_type is not None:
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                _apply_instance_defaults(child, value)
            continue
        if isinstance(value, str) and value == MISSING_MARK:
            child.default, child.missing = None, True
        else:
            value = value.value if isinstance(value, enum.Enum) else value
            if value != child.default:
                # The parent's instance sets what runs; the field's own default_value describes the class default.
                child.raw_metadata = {k: v for k, v in child.raw_metadata.items() if k != "default_value"}
            child.default, child.missing = value, False
