"""Experiment spec files: YAML + dotted ``key=value`` overrides -> :class:`ExperimentConfig`, checked strictly.

Unknown keys, wrong types, values outside a field's options or bounds, and ``???`` (a value the user must fill in)
left in a key the action reads are :class:`SpecError` s naming the key path, with a did-you-mean for unknown keys.
Values are YAML-typed (``train.num_epochs=3`` is an int, ``dataset.input_map={A: 0}`` a dict). Numbers written as
strings that YAML 1.1 does not read as floats (``1e-3``) are accepted for float fields, as OmegaConf does. Files and
values are read within size budgets (:mod:`optical_inspection.bounded_yaml`) and messages quote values shortened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import os
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from optical_inspection.bounded_yaml import YAMLLimitError, load_bounded, read_bounded
from optical_inspection.config import ACTIONS, COMMON_KEYS, ExperimentConfig
from optical_inspection.errors import UserError, short_repr
from tao_skill.schema_gen.fields import FieldMeta

__all__ = [
    "MISSING",
    "SpecError",
    "load_spec",
    "parse_overrides",
    "build_config",
    "config_to_dict",
    "dump_spec",
    "task_results_dir",
    "check_required",
    "REDACTED",
]

MISSING = "???"
REDACTED = "*****"
_SECRET_KEYS = ("encryption_key",)


class SpecError(UserError):
    """A spec problem at ``key`` (dotted path)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"spec key {key}: {message}" if key else message)
        self.key = key


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise SpecError(
                ".".join(parts[: i + 1]), f"is a value ({short_repr(child)}), not a section; cannot set {dotted}."
            )
        node = child
    node[parts[-1]] = value


def parse_overrides(overrides: Iterable[str]) -> list[tuple[str, Any]]:
    """``["a.b=3", "c=[1, 2]"]`` -> ``[("a.b", 3), ("c", [1, 2])]`` with YAML-typed values."""
    parsed = []
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise SpecError(
                "", f"override {short_repr(item)} is not of the form dotted.key=value (e.g. train.num_epochs=3)."
            )
        try:
            value = load_bounded(text, f"override {key}") if text.strip() else None
        except YAMLLimitError as exc:
            where = f" at {exc.path}" if exc.path else ""
            raise SpecError(key, f"the override value{where} {exc.reason}.") from None
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "syntax error"
            raise SpecError(key, f"override value {short_repr(text)} is not valid YAML ({problem}).") from None
        parsed.append((key, value))
    return parsed


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SpecError("", f"spec file {path} not found; pass an existing YAML file with -e.")
    try:
        data = read_bounded(path, f"spec file {path}")
    except YAMLLimitError as exc:
        raise SpecError(exc.path, f"in spec file {path}: {exc.reason}; a spec is a few kilobytes of keys.") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise SpecError("", f"spec file {path} is not valid YAML{line}: {getattr(exc, 'problem', exc)}.") from None
    except UnicodeDecodeError:
        raise SpecError("", f"spec file {path} is not UTF-8 text.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecError(
            "", f"spec file {path} must hold a mapping of keys at the top level, not {type(data).__name__}."
        )
    return data


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else typing.Union[tuple(args)]), True
    return tp, False


def _type_name(tp: Any) -> str:
    if dataclasses.is_dataclass(tp):
        return "a section (mapping)"
    origin = typing.get_origin(tp)
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        k, v = typing.get_args(tp)
        return f"a mapping of {_type_name(k)} to {_type_name(v)}"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Check ``value`` against annotation ``tp``; return the value to store (dataclass for sections)."""
    tp, optional = _unwrap_optional(tp)
    if value is None:
        if optional:
            return None
        raise SpecError(key, f"must be {_type_name(tp)}; got null. Give a value or remove the key to keep the default.")
    if isinstance(value, str) and value.strip() == MISSING:
        return MISSING
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise SpecError(key, f"is a section; give a mapping of its keys, not {short_repr(value)}.")
        return _build(tp, value, key)
    origin = typing.get_origin(tp)
    if origin is list:
        if not isinstance(value, list):
            raise SpecError(key, f"must be {_type_name(tp)}; got {short_repr(value)}. Write it as [a, b].")
        (item_tp,) = typing.get_args(tp)
        return [_coerce(f"{key}[{i}]", item, item_tp) for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise SpecError(key, f"must be {_type_name(tp)}; got {short_repr(value)}. Write it as {{name: value}}.")
        k_tp, v_tp = typing.get_args(tp)
        return {_coerce(key, k, k_tp): _coerce(f"{key}.{k}", v, v_tp) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                number = float(value)
        if number is not None:
            if not math.isfinite(number):
                raise SpecError(key, f"is {number}; give a finite number (training on it would end in NaN weights).")
            return number
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    else:
        return value
    raise SpecError(key, f"must be {_type_name(tp)}; got {short_repr(value)} ({type(value).__name__}).")


def _check_meta(key: str, value: Any, meta: FieldMeta) -> None:
    if value is None or value == MISSING or isinstance(value, (bool, dict, list)) or dataclasses.is_dataclass(value):
        return
    if meta.options and str(value) not in [str(o) for o in meta.options]:
        close = difflib.get_close_matches(str(value), [str(o) for o in meta.options], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SpecError(key, f"{short_repr(value)} is not one of {', '.join(map(str, meta.options))}.{hint}")
    if isinstance(value, (int, float)):
        bounds = [
            (meta.minimum, lambda v, b: v >= b, ">="),
            (meta.maximum, lambda v, b: v <= b, "<="),
            (meta.exclusive_minimum, lambda v, b: v > b, ">"),
            (meta.exclusive_maximum, lambda v, b: v < b, "<"),
        ]
        for bound, ok, op in bounds:
            if bound is not None and not ok(value, bound):
                raise SpecError(key, f"{short_repr(value)} is out of range; it must be {op} {bound}.")


def _build(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        if name not in fields:
            close = difflib.get_close_matches(str(name), list(fields), n=1, cutoff=0.6)
            hint = f" Did you mean {(prefix + '.' if prefix else '') + close[0]}?" if close else ""
            valid = ", ".join(fields)
            raise SpecError(key, f"unknown key.{hint} Valid keys{' of ' + prefix if prefix else ''}: {valid}.")
        coerced = _coerce(key, value, hints[name])
        _check_meta(key, coerced, FieldMeta.from_metadata(fields[name].metadata))
        kwargs[name] = coerced
    return cls(**kwargs)


def build_config(data: Mapping[str, Any]) -> ExperimentConfig:
    """Strictly build an :class:`ExperimentConfig` from nested plain data (defaults fill what is absent)."""
    return _build(ExperimentConfig, data)


def config_to_dict(cfg: Any, *, redact: bool = False) -> dict[str, Any]:
    """Plain nested dict of a config; ``redact`` hides secrets (encryption_key)."""
    data = dataclasses.asdict(cfg)
    if redact:
        for key in _SECRET_KEYS:
            if data.get(key):
                data[key] = REDACTED
    return data


def _find_missing(data: Any, prefix: str = "") -> list[str]:
    if isinstance(data, dict):
        return [k for name, v in data.items() for k in _find_missing(v, f"{prefix}.{name}" if prefix else name)]
    if isinstance(data, list):
        return [k for i, v in enumerate(data) for k in _find_missing(v, f"{prefix}[{i}]")]
    return [prefix] if data == MISSING else []


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def check_required(cfg: ExperimentConfig, action: str) -> None:
    """Raise when the action reads a ``???`` or lacks one of its required keys (``a|b``: one of them)."""
    data = config_to_dict(cfg)
    spec = next((a for a in ACTIONS if a.name == action), None)
    sections = set(spec.sections) | set(COMMON_KEYS) if spec else set(data)
    if action == "dataset_convert":
        sections = {"dataset_convert", *COMMON_KEYS}
    for key in _find_missing(data):
        if key.split(".")[0].split("[")[0] in sections:
            raise SpecError(
                key, f"is still '{MISSING}' (a value you must give). Set it in the spec or as {key}=<value>."
            )
    for requirement in spec.required if spec else ():
        options = requirement.split("|")
        if all(_get(data, opt) in (None, "") for opt in options):
            what = " or ".join(options)
            raise SpecError(
                options[0], f"is required by {action} but not set. Give {what} (e.g. {options[0]}=<value>)."
            )


def load_spec(
    path: str | os.PathLike[str] | None, overrides: Iterable[str] = (), *, action: str | None = None
) -> ExperimentConfig:
    """Read the YAML at ``path`` (None: defaults only), apply overrides, build and check the config."""
    data = _read_yaml(Path(path)) if path is not None else {}
    for key, value in parse_overrides(overrides):
        _set_dotted(data, key, value)
    cfg = build_config(data)
    if action is not None:
        check_required(cfg, action)
    return cfg


def dump_spec(cfg: ExperimentConfig, path: str | os.PathLike[str]) -> Path:
    """Write the merged spec (secrets redacted) atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(yaml.safe_dump(config_to_dict(cfg, redact=True), sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def task_results_dir(cfg: ExperimentConfig, task: str) -> Path:
    """``<task>.results_dir`` when set, else ``<results_dir>/<task>`` (TAO's rule)."""
    section = getattr(cfg, task, None)
    own = getattr(section, "results_dir", None) if section is not None else None
    if own:
        return Path(own)
    if not cfg.results_dir:
        raise SpecError("results_dir", f"is not set (nor {task}.results_dir); give results_dir=<folder>.")
    return Path(cfg.results_dir) / task
