"""Errors as data: a user mistake (:class:`UserError`, exit code 2) or a failure that is not the user's (exit 1)."""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

__all__ = ["Issue", "UserError", "RuntimeFailure", "LazyModel", "issues_from_pydantic", "shorten"]

_MAX_TEXT = 400
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict, _REPR.maxset = 3, 6, 6, 6, 6
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 80, 80, 40


def _small(value: Any, budget: int = 40) -> bool:
    """Whether a nested value has at most ``budget`` parts (counted without walking more than that)."""
    stack, seen = [value], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > budget or (isinstance(item, str) and len(item) > _MAX_TEXT):
            return False
        if isinstance(item, dict):
            stack.extend(item.values())
            stack.extend(item.keys())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
    return True


def shorten(value: Any) -> Any:
    """``value`` itself when small, else a short ``repr`` of it: errors never carry an unbounded value."""
    if isinstance(value, str):
        return value if len(value) <= _MAX_TEXT else f"{value[:_MAX_TEXT]}... ({len(value)} characters)"
    if isinstance(value, (dict, list, tuple, set, frozenset)) and not _small(value):
        return _REPR.repr(value)
    return value


class LazyModel(BaseModel):
    """Base of the runtime's models: validators are built on first use, which keeps ``tao-skill`` starts fast."""

    model_config = ConfigDict(defer_build=True)


class Issue(LazyModel):
    """One problem with the input: where (``path``), what (``value``, ``rule``, ``message``), how to fix (``hint``)."""

    path: str
    value: Any = None
    rule: str
    message: str
    hint: str = ""

    @field_validator("value", mode="before")
    @classmethod
    def _short_value(cls, value: Any) -> Any:
        return shorten(value)

    @field_validator("message", "hint", mode="before")
    @classmethod
    def _short_text(cls, text: Any) -> Any:
        limit = 4 * _MAX_TEXT
        return (
            text if not isinstance(text, str) or len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
        )

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return f"{text} (hint: {self.hint})" if self.hint else text


class UserError(Exception):
    """Bad input. Holds every issue found, so a caller can fix them all at once."""

    def __init__(self, message: str, issues: list[Issue] | None = None) -> None:
        self.message = message
        self.issues: list[Issue] = list(issues or [])
        super().__init__(message)

    def __str__(self) -> str:
        if not self.issues:
            return self.message
        lines = [self.message] + [f"  - {issue}" for issue in self.issues]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for agents (``--json`` output, MCP ``isError`` payloads)."""
        return {
            "error": "user_error",
            "message": self.message,
            "issues": [i.model_dump(mode="json") for i in self.issues],
        }

    @classmethod
    def single(cls, path: str, message: str, *, rule: str, value: Any = None, hint: str = "") -> UserError:
        """A UserError holding exactly one issue."""
        return cls(message, [Issue(path=path, value=value, rule=rule, message=message, hint=hint)])


class RuntimeFailure(Exception):
    """Something broke that the user did not cause (a launcher, the store, a crashed process)."""


def issues_from_pydantic(
    error: ValidationError,
    *,
    path_prefix: str = "",
    rule_prefix: str = "",
    where: str = "",
    hint: Callable[[str], str] | str = "",
) -> list[Issue]:
    """One issue per pydantic error: ``path_prefix`` + the field's dotted location, ``rule_prefix`` + pydantic's
    error type, the message (after ``where`` and the field name when ``where`` is given) and a hint (text, or a
    function of the location)."""
    issues = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"])
        value = item.get("input")
        issues.append(
            Issue(
                path=f"{path_prefix}{loc}",
                value=None if isinstance(value, dict) else value,
                rule=f"{rule_prefix}{item['type']}",
                message=f"{where}field '{loc}': {item['msg']}" if where else item["msg"],
                hint=hint(loc) if callable(hint) else hint,
            )
        )
    return issues
