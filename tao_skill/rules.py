"""A skill's cross-key rules and derived values, read from its generated schemas as data.

- ``x-rules`` (top level of an action's schema): a list of ``{name, path, check, message, hint}``; ``check`` is an
  :mod:`expression <tao_skill.expressions>` that must hold, ``message`` and ``hint`` may embed ``{expressions}``.
  The validator applies them as a JSON Schema keyword (:func:`check_rules`); a rule whose keys the spec does not
  hold (or holds with the wrong types) is left to the schema's own checks.
- ``x-derived`` (on a leaf): an expression whose value the key takes unless the user set it (:func:`derived_values`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tao_skill._schema_walk import walk
from tao_skill.expressions import MissingKey, compile_expression, render

__all__ = ["RULES_KEYWORD", "DERIVED_KEYWORD", "check_rules", "failed_rules", "derived_values"]

RULES_KEYWORD = "x-rules"
DERIVED_KEYWORD = "x-derived"
_NOT_APPLICABLE = (MissingKey, TypeError, ValueError, ZeroDivisionError)


def failed_rules(rules: list[dict[str, Any]], spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Each rule of ``rules`` that ``spec`` breaks, with its message and hint rendered for this spec."""
    for rule in rules:
        try:
            holds = bool(compile_expression(rule["check"]).evaluate(spec))
        except _NOT_APPLICABLE:
            continue
        if not holds:
            yield {
                **rule,
                "message": render(rule.get("message") or f"{rule['check']} does not hold", spec),
                "hint": render(rule.get("hint") or "", spec),
            }


def check_rules(validator: Any, rules: Any, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
    """The ``x-rules`` keyword for jsonschema: one ValidationError (carrying ``rule``) per broken rule."""
    from jsonschema import ValidationError

    if not isinstance(rules, list) or not isinstance(instance, dict):
        return
    for rule in failed_rules(rules, instance):
        error = ValidationError(rule["message"], path=rule.get("path", "").split(".") if rule.get("path") else ())
        error.rule = rule  # type: ignore[attr-defined]
        yield error


def derived_values(schema: dict[str, Any], spec: dict[str, Any]) -> Iterator[tuple[str, Any, list[str]]]:
    """``(key, value, keys it was computed from)`` of every ``x-derived`` leaf of ``schema`` that ``spec`` allows
    computing."""
    for key, node in walk(schema):
        text = node.get(DERIVED_KEYWORD)
        if not isinstance(text, str):
            continue
        expression = compile_expression(text)
        try:
            yield key, expression.evaluate(spec), expression.keys()
        except _NOT_APPLICABLE:
            continue
