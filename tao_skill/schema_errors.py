"""The one converter of jsonschema errors into :class:`~tao_skill.errors.Issue` (spec validation and MCP tool
arguments): where (dotted path), what (value, rule, message), how to fix (hint: did-you-mean, allowed values,
bounds, or the hint of a broken cross-key rule)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from tao_skill._suggest import did_you_mean
from tao_skill.errors import Issue
from tao_skill.overrides import get_dotted

__all__ = ["issues_from_errors", "Suggest"]

#: (dotted path of the object, the unknown name, the names allowed there) -> a hint such as "did you mean 'x'?".
Suggest = Callable[[str, str, list[str]], str]
_LONG = 200


def _dotted(error: Any) -> str:
    return ".".join(str(p) for p in error.absolute_path)


def _default_suggest(path: str, name: str, allowed: list[str]) -> str:
    return did_you_mean(name, allowed)


def _hint(error: Any, path: str) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "enum" or "enum" in schema:
        options = [str(o) for o in schema.get("enum") or error.validator_value]
        parts = [p.strip() for p in error.instance.split(",")] if isinstance(error.instance, str) else []
        if len(parts) > 1 and all(p in options for p in parts):
            return (
                f"'{error.instance}' lists several options (TAO's templates show the choices this way); "
                f"pick one, e.g. {path}={parts[-1]}"
            )
        return "one of: " + ", ".join(options)
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{error.validator} is {error.validator_value}"
    if error.validator == "type":
        return f"expected {error.validator_value}"
    return ""


def issues_from_errors(
    errors: Iterable[Any],
    *,
    rule_prefix: str = "schema",
    label: str = "",
    suggest: Suggest | None = None,
    skip: Callable[[Any], bool] | None = None,
    unknown_rule: str = "unknown_key",
    context: str = "",
) -> list[Issue]:
    """Issues for jsonschema errors, sorted by path. ``label`` prefixes messages (e.g. a tool name), ``context``
    ends the message of an unknown key (e.g. " for action 'train'"); ``suggest`` names close keys for unknown ones;
    ``skip`` drops errors the caller reports its own way."""
    suggest = suggest or _default_suggest
    issues: list[Issue] = []
    for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        if skip is not None and skip(error):
            continue
        path = _dotted(error)
        prefix = f"{label}: " if label else ""
        rule = getattr(error, "rule", None)
        if rule is not None:  # a skill's cross-key rule (x-rules)
            value = _value_at(error.instance, rule.get("path", ""))
            message, hint = prefix + error.message, rule.get("hint", "")
            issues.append(Issue(path=path, value=value, rule=rule["name"], message=message, hint=hint))
            continue
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = list((error.schema or {}).get("properties") or {})
            for name in [k for k in error.instance if k not in allowed]:
                dotted = f"{path}.{name}" if path else name
                known = f"known keys here: {', '.join(allowed[:12])}" if allowed else ""
                value, message = _shown(error.instance.get(name)), f"{prefix}unknown key '{dotted}'{context}"
                hint = suggest(path, name, allowed) or known
                issues.append(Issue(path=dotted, value=value, rule=unknown_rule, message=message, hint=hint))
            continue
        message = error.message
        if isinstance(error.instance, (dict, list)) and len(message) >= _LONG:
            message = f"does not satisfy '{error.validator}' ({json.dumps(error.validator_value, default=str)[:120]})"
        issues.append(
            Issue(
                path=path or "<spec>",
                value=_shown(error.instance),
                rule=f"{rule_prefix}.{error.validator}",
                message=f"{prefix}{path or 'spec'}: {message}",
                hint=_hint(error, path),
            )
        )
    return issues


def _shown(value: Any) -> Any:
    return None if isinstance(value, dict) else value


def _value_at(instance: Any, dotted: str) -> Any:
    return _shown(get_dotted(instance, dotted) if dotted and isinstance(instance, dict) else None)
