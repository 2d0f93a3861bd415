"""The one user-facing error of the data side."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset problem a user can fix: the message says what is wrong, where (file, row, column) and what to do."""
