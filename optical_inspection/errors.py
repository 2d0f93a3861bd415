"""Errors of the trainer a user can fix; the CLI prints them as one paragraph and exits with code 2."""

from __future__ import annotations

__all__ = ["UserError", "EXIT_OK", "EXIT_INTERNAL", "EXIT_USER"]

EXIT_OK, EXIT_INTERNAL, EXIT_USER = 0, 1, 2


class UserError(Exception):
    """A mistake in the spec, the data or the files given: the message says what, where and how to fix it."""
