"""Errors of the trainer a user can fix; the CLI prints them as one paragraph and exits with code 2."""

from __future__ import annotations

import reprlib

__all__ = ["UserError", "EXIT_OK", "EXIT_INTERNAL", "EXIT_USER", "short_repr"]

EXIT_OK, EXIT_INTERNAL, EXIT_USER = 0, 1, 2


class UserError(Exception):
    """A mistake in the spec, the data or the files given: the message says what, where and how to fix it."""


def short_repr(value: object, limit: int = 120) -> str:
    """A ``repr`` of ``value`` at most about ``limit`` characters long, in time bounded whatever its size (error
    messages never print an unbounded value)."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict, _REPR.maxset = 3, 6, 6, 6, 6
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 80, 80, 40
