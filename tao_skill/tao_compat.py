"""Make a spec fit TAO's container: drop extension keys left at their default, refuse the ones that are not.

Extension keys are marked ``x-tao-extension: true`` in the generated schema (keys only the embedded trainer knows).
"""

from __future__ import annotations

import copy
from typing import Any

from tao_skill import overrides as ov
from tao_skill._schema_walk import walk
from tao_skill.errors import Issue

__all__ = ["extension_keys", "container_spec", "EMBEDDED_ONLY_MODEL_TYPES"]

EMBEDDED_ONLY_MODEL_TYPES = frozenset({"Siamese_Efficient"})
_MARK = "x-tao-extension"


def extension_keys(schema: dict[str, Any]) -> dict[str, Any]:
    """``{dotted key: default}`` of every key marked as an extension in ``schema``."""
    return {key: node.get("default") for key, node in walk(schema) if node.get(_MARK) is True}


def container_spec(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], list[Issue], list[str]]:
    """(spec for TAO's container, issues, dropped keys)."""
    result = copy.deepcopy(spec)
    issues: list[Issue] = []
    dropped: list[str] = []
    model_type = ov.get_dotted(result, "model.model_type")
    if model_type in EMBEDDED_ONLY_MODEL_TYPES:
        issues.append(
            Issue(
                path="model.model_type",
                value=model_type,
                rule="tao_container_compat",
                message=f"model.model_type={model_type} runs only on the embedded trainer; TAO's container lacks it",
                hint="use model_type=Siamese_3 (or Siamese) with --backend docker, or --backend local",
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
