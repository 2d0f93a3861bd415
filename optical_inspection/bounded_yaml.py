"""Bounded YAML for spec files and ``key=value`` overrides (the trainer's twin of ``tao_skill._yaml``; the
runtime and the trainer share no code beyond the schema vocabulary).

``load_bounded`` / ``read_bounded`` parse spec files and override values (libyaml's safe loader when present): the
text is size-limited, and the parsed value is expanded into a plain tree under a budget of nodes, characters, items
per list or mapping, string length and depth. YAML aliases make a document a graph whose expansion can be
exponential in its size (a 3 KB "billion laughs" spec expands to gigabytes once anything walks it); the expansion
stops as soon as the budget is spent, so the cost of a hostile document is bounded by the budget.
``bounded`` applies the same budget to values that did not come from YAML.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["YAMLError", "YAMLLimits", "YAMLLimitError", "load_bounded", "read_bounded", "bounded"]

YAMLError = yaml.YAMLError
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YAMLLimits:
    """Budgets of one document: the defaults are far above any real spec and far below harm."""

    max_bytes: int = 1024 * 1024
    max_nodes: int = 100_000
    max_items: int = 10_000
    max_string: int = 64 * 1024
    max_chars: int = 4 * 1024 * 1024
    max_depth: int = 64


DEFAULT_LIMITS = YAMLLimits()


class YAMLLimitError(ValueError):
    """A document over one of the budgets: ``path`` says where inside it (dotted, ``[i]`` for list items)."""

    def __init__(self, source: str, path: str, reason: str) -> None:
        self.source, self.path, self.reason = source, path, reason
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {reason}")


def load_bounded(text: str, source: str = "YAML", limits: YAMLLimits = DEFAULT_LIMITS) -> Any:
    """Parse untrusted YAML into a plain tree within ``limits``; raise :class:`YAMLLimitError` past them.

    Syntax errors are ``yaml.YAMLError`` as usual.
    """
    if len(text) > limits.max_bytes or len(text.encode("utf-8", errors="replace")) > limits.max_bytes:
        raise YAMLLimitError(source, "", f"is more than the limit of {limits.max_bytes} bytes")
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except RecursionError:
        raise YAMLLimitError(source, "", f"nests deeper than {limits.max_depth} levels") from None
    return bounded(data, source, limits)


def read_bounded(path: str | os.PathLike[str], source: str | None = None, limits: YAMLLimits = DEFAULT_LIMITS) -> Any:
    """Read and parse a YAML file within ``limits`` (its size is checked before it is read)."""
    file = Path(path)
    size = file.stat().st_size
    if size > limits.max_bytes:
        raise YAMLLimitError(
            source or str(file), "", f"is {size} bytes, more than the limit of {limits.max_bytes} bytes"
        )
    return load_bounded(file.read_text(encoding="utf-8"), source or str(file), limits)


def bounded(data: Any, source: str = "value", limits: YAMLLimits = DEFAULT_LIMITS) -> Any:
    """A tree copy of ``data`` (shared sub-values expanded), or :class:`YAMLLimitError` once a budget is spent."""
    return _Expander(source, limits).copy(data, "", 0, set())


def _child(path: str, key: Any) -> str:
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


class _Expander:
    def __init__(self, source: str, limits: YAMLLimits) -> None:
        self.source, self.limits, self.nodes, self.chars = source, limits, 0, 0

    def fail(self, path: str, reason: str) -> YAMLLimitError:
        return YAMLLimitError(self.source, path, reason)

    def copy(self, value: Any, path: str, depth: int, ancestors: set[int]) -> Any:
        limits = self.limits
        self.nodes += 1
        if self.nodes > limits.max_nodes:
            raise self.fail(
                path, f"expands to more than {limits.max_nodes} values (YAML aliases repeat what they point to)"
            )
        if isinstance(value, (str, bytes)):
            if len(value) > limits.max_string:
                raise self.fail(path, f"is a string of {len(value)} characters, more than {limits.max_string}")
            self.chars += len(value)
            if self.chars > limits.max_chars:
                raise self.fail(path, f"expands to more than {limits.max_chars} characters of text")
            return value
        if not isinstance(value, (dict, list, tuple, set, frozenset)):
            return value
        if id(value) in ancestors:
            raise self.fail(path, "contains itself (a YAML alias to an enclosing value)")
        if depth >= limits.max_depth:
            raise self.fail(path, f"nests deeper than {limits.max_depth} levels")
        if len(value) > limits.max_items:
            raise self.fail(path, f"holds {len(value)} items, more than the limit of {limits.max_items}")
        ancestors.add(id(value))
        try:
            if isinstance(value, dict):
                return {
                    self.copy(k, path, depth + 1, ancestors): self.copy(v, _child(path, k), depth + 1, ancestors)
                    for k, v in value.items()
                }
            items = [self.copy(v, _child(path, i), depth + 1, ancestors) for i, v in enumerate(value)]
            return items if isinstance(value, list) else type(value)(items)
        finally:
            ancestors.discard(id(value))
