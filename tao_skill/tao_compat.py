"""Make a spec fit TAO's container: drop extension keys left at their default, refuse the ones that are not, and
refuse values only the embedded trainer has.

Both are marked in the generated schema: ``x-tao-extension: true`` on keys only the embedded trainer knows, and
``x-tao-extension-options: [...]`` on keys some of whose values (a model type) only the embedded trainer runs.
"""

from __future__ import annotations

import copy
from typing import Any

from tao_skill import overrides as ov
from tao_skill._schema_walk import walk
from tao_skill.errors import Issue

__all__ = ["extension_keys", "extension_options", "container_spec"]

_MARK = "x-tao-extension"
_OPTIONS_MARK = "x-tao-extension-options"


def extension_keys(schema: dict[str, Any]) -> dict[str, Any]:
    """``{dotted key: default}`` of every key marked as an extension in ``schema``."""
    return {key: node.get("default") for key, node in walk(schema) if node.get(_MARK) is True}


def extension_options(schema: dict[str, Any]) -> dict[str, tuple[list[Any], list[Any]]]:
    """``{dotted key: (values only the embedded trainer has, the other allowed values)}``."""
    found = {}
    for key, node in walk(schema):
        marked = node.get(_OPTIONS_MARK)
        if isinstance(marked, list) and marked:
            others = [v for v in node.get("enum") or [] if v not in marked and v is not None]
            found[key] = (list(marked), others)
    return found


def container_spec(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], list[Issue], list[str]]:
    """(spec for TAO's container, issues, dropped keys)."""
    result = copy.deepcopy(spec)
    issues: list[Issue] = []
    dropped: list[str] = []
    for key, (embedded, others) in sorted(extension_options(schema).items()):
        value = ov.get_dotted(result, key)
        if value in embedded:
            alternatives = " or ".join(f"{key.rsplit('.', 1)[-1]}={v}" for v in others)
            issues.append(
                Issue(
                    path=key,
                    value=value,
                    rule="tao_container_compat",
                    message=f"{key}={value} runs only on the embedded trainer; TAO's container lacks it",
                    hint=(f"use {alternatives} with --backend docker, or " if alternatives else "use ")
                    + "--backend local",
                )
            )
    for key, default in sorted(extension_keys(schema).items()):
        marker = object()
        value = ov.get_dotted(result, key, default=marker)
        if value is marker:
            continue
        if value == default:
            parent_key, _, leaf = key.rpartition(".")
            parent = ov.get_dotted(result, parent_key) if parent_key else result
            if isinstance(parent, dict):
                parent.pop(leaf, None)
                dropped.append(key)
        else:
            issues.append(
                Issue(
                    path=key,
                    value=value,
                    rule="tao_container_compat",
                    message=f"{key} is an extension of the embedded trainer; TAO's container would reject it",
                    hint=f"remove the override (default {default!r}) or use --backend local",
                )
            )
    return result, issues, dropped
