"""Overrides: dotted ``key=value`` strings (YAML-typed values) and nested YAML/JSON files, as flat dotted dicts.

Everything is read within the budgets of :mod:`tao_skill._yaml` (size, expanded values, items, depth), so a hostile
file or value is a clear error naming where it went over, not minutes of work and an out-of-memory crash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from tao_skill._yaml import DEFAULT_LIMITS, YAMLLimitError, bounded, load_bounded
from tao_skill.errors import Issue, UserError

__all__ = ["parse_assignments", "load_override_file", "flatten", "unflatten", "get_dotted", "set_dotted", "MISSING"]

MISSING = "???"


_SCIENTIFIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def _limit_issue(exc: YAMLLimitError, path: str, what: str) -> Issue:
    return Issue(
        path=path,
        rule="input_too_large",
        message=f"{what}{' at ' + exc.path if exc.path else ''} {exc.reason}",
        hint="a spec is a few kilobytes of keys: give the value without repeating aliases, or a smaller one",
    )


def _yaml_value(text: str, key: str) -> Any:
    """A YAML-typed value; ``1e-4`` is a number (YAML 1.1 would leave it a string without a dot)."""
    try:
        value = load_bounded(text, f"override {key}") if text.strip() != "" else None
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and _SCIENTIFIC.match(value.strip()):
        return float(value)
    return value


def parse_assignments(items: Iterable[str] | Mapping[str, Any] | None, *, origin: str = "override") -> dict[str, Any]:
    """``["train.num_epochs=2", "a.b=[1, 2]"]`` -> ``{"train.num_epochs": 2, "a.b": [1, 2]}``.

    Values are typed as YAML; a mapping value stays a mapping (the spec builder merges it key by key, except into
    free-form maps (an object schema without declared properties), which it replaces).
    """
    if items is None:
        return {}
    if isinstance(items, Mapping):
        try:
            return dict(bounded(dict(items), "overrides"))
        except YAMLLimitError as exc:
            raise UserError(
                "overrides too large", [_limit_issue(exc, exc.path or "overrides", "the overrides")]
            ) from None
    result: dict[str, Any] = {}
    issues: list[Issue] = []
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            issues.append(
                Issue(
                    path=str(item),
                    value=item,
                    rule="override_syntax",
                    message=f"{origin} '{item}' is not of the form key=value",
                    hint="write dotted keys, e.g. train.num_epochs=2",
                )
            )
            continue
        key, _, raw = item.partition("=")
        key = key.strip()
        if not key or any(part == "" for part in key.split(".")):
            issues.append(
                Issue(
                    path=key,
                    value=item,
                    rule="override_syntax",
                    message=f"{origin} '{item}' has an empty key part",
                    hint="write dotted keys, e.g. train.num_epochs=2",
                )
            )
            continue
        try:
            result[key] = _yaml_value(raw, key)
        except YAMLLimitError as exc:
            issues.append(_limit_issue(exc, key, f"the value of {key}"))
    if issues:
        syntax = any(issue.rule == "override_syntax" for issue in issues)
        raise UserError("invalid override syntax" if syntax else "override value(s) over the size limits", issues)
    return result


def _load_json(text: str, source: str) -> Any:
    try:
        return bounded(json.loads(text), source)
    except RecursionError:
        raise YAMLLimitError(source, "", "nests too deeply") from None


def load_override_file(path: str | Path) -> dict[str, Any]:
    """A nested YAML or JSON file of overrides (a mapping; dotted keys allowed at any level)."""
    file = Path(path)
    if not file.is_file():
        raise UserError.single(
            str(path), f"override file not found: {path}", rule="file_exists", hint="check the path given to -f"
        )
    try:
        if file.stat().st_size > DEFAULT_LIMITS.max_bytes:
            raise YAMLLimitError(str(path), "", f"is {file.stat().st_size} bytes, more than {DEFAULT_LIMITS.max_bytes}")
        text = file.read_text(encoding="utf-8")
        data = _load_json(text, str(path)) if file.suffix == ".json" else load_bounded(text, str(path))
    except YAMLLimitError as exc:
        raise UserError(f"override file {path} is too large", [_limit_issue(exc, str(path), f"{path}")]) from None
    except UnicodeDecodeError:
        raise UserError.single(
            str(path), f"override file {path} is not UTF-8 text", rule="override_file_syntax", hint="save it as UTF-8"
        ) from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise UserError.single(
            str(path),
            f"override file {path} is not valid {'JSON' if file.suffix == '.json' else 'YAML'}: "
            f"{str(exc).splitlines()[0]}",
            rule="override_file_syntax",
            hint="fix the syntax; the file must hold a mapping of spec keys",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError.single(
            str(path),
            f"override file {path} must hold a mapping",
            rule="override_file_syntax",
            value=type(data).__name__,
        )
    return data


def flatten(data: Mapping[str, Any], prefix: str = "", stop: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """Nested dict -> dotted keys. Empty dicts and keys in ``stop`` (free-form maps) are kept as values."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value and dotted not in stop:
            flat.update(flatten(value, dotted, stop))
        else:
            flat[dotted] = value
    return flat


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys -> nested dict."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        set_dotted(nested, key, value)
    return nested


def get_dotted(data: Mapping[str, Any], key: str, default: Any = None) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value
