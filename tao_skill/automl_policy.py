"""Decide whether a train request goes through AutoML: explicit value > the user's words > default on."""

from __future__ import annotations

import re

from tao_skill.errors import UserError
from tao_skill.models import AutomlDecision

__all__ = ["decide_automl", "parse_policy"]

_ON = {"on", "true", "yes", "1", "enable", "enabled", "auto"}
_OFF = {"off", "false", "no", "0", "disable", "disabled"}

# Phrases that turn AutoML off; checked before the "on" phrases ("no automl" contains "automl").
_OFF_PATTERNS = [
    r"\b(turn|switch|shut)\s+off\s+(the\s+)?(automl|auto[- ]?ml|hpo|hyper-?parameter (search|tuning|optimi[sz]ation))",
    r"\b(turn|switch)\s+(the\s+)?(automl|auto[- ]?ml|hpo)\s+off\b",
    r"\b(disable|disabling|skip|skipping|avoid|without|no|not?\s+use|don'?t\s+use|do\s+not\s+use)\s+(any\s+|the\s+)?"
    r"(automl|auto[- ]?ml|hpo|hyper-?parameters?\s+(search|tuning|optimi[sz]ation|sweep)s?|tuning|sweeps?)\b",
    r"\b(plain|direct|simple|regular|normal|single|one|just\s+a)\s+(training|train|run|fit)\b",
    r"\btrain\s+(directly|plainly|once)\b",
    r"\b(automl|auto[- ]?ml|hpo)\s*(=|:)?\s*(off|false|no|disabled)\b",
]
_ON_PATTERNS = [
    r"\b(use|with|enable|run|turn\s+on|try)\s+(the\s+)?(automl|auto[- ]?ml|hpo)\b",
    r"\b(tune|tuning|optimi[sz]e|search|sweep)\s+(the\s+)?(hyper-?parameters?|hparams?|learning\s+rate)\b",
    r"\bhyper-?parameter\s+(search|tuning|optimi[sz]ation|sweep)\b",
    r"\b(automl|auto[- ]?ml|hpo)\b",
]


def parse_policy(value: str | bool | None) -> bool | None:
    """``on``/``off``/``true``/``false``/``auto`` (or a bool) -> True/False; None stays None."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _ON:
        return True
    if text in _OFF:
        return False
    if text == "":
        return None
    raise UserError.single(
        "automl_policy",
        f"automl_policy '{value}' is not one of on, off, true, false, auto",
        rule="enum",
        value=value,
        hint="use --automl-policy on or --automl-policy off",
    )


def _from_words(text: str) -> tuple[bool, str] | None:
    lowered = " ".join(text.lower().split())
    for pattern in _OFF_PATTERNS:
        match = re.search(pattern, lowered)
        if match:
            return False, f"the request says '{match.group(0)}'"
    for pattern in _ON_PATTERNS:
        match = re.search(pattern, lowered)
        if match:
            return True, f"the request says '{match.group(0)}'"
    return None


def decide_automl(
    policy: str | bool | None,
    request_text: str | None,
    *,
    action: str,
    automl_enabled: bool,
    train_packaged: bool,
) -> AutomlDecision:
    """Whether AutoML is on for this request, where that came from, and whether it can run.

    ``train_packaged``: the skill ships the train schema and template that AutoML needs.
    """
    explicit = parse_policy(policy)
    if explicit is not None:
        enabled, source, reason = explicit, "explicit", f"automl_policy={'on' if explicit else 'off'}"
    else:
        words = _from_words(request_text) if request_text else None
        if words is not None:
            enabled, source, reason = words[0], "request_text", words[1]
        else:
            enabled, source, reason = True, "default", "AutoML is on by default for training"
    if not enabled:
        return AutomlDecision(enabled=False, reason=reason + "; training directly", source=source, runnable=False)
    if action != "train":
        return AutomlDecision(
            enabled=True, reason=reason + f"; AutoML applies to train only, '{action}' runs directly", source=source
        )
    if not automl_enabled:
        return AutomlDecision(
            enabled=True, reason=reason + "; this model does not support AutoML, training directly", source=source
        )
    if not train_packaged:
        return AutomlDecision(
            enabled=True,
            reason=reason + "; AutoML is enabled but not runnable for this model until schemas are generated",
            source=source,
            runnable=False,
        )
    return AutomlDecision(enabled=True, reason=reason, source=source, runnable=True)
