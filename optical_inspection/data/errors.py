"""The one user-facing error of the data side."""

from __future__ import annotations

_WORKER_PREFIX = "Caught DatasetError"
_MARKER = "DatasetError: "


class DatasetError(ValueError):
    """A dataset problem a user can fix: the message says what is wrong, where (file, row, column) and what to do.

    Raised in a DataLoader worker, torch re-raises it in the main process as ``DatasetError(<wrapper text with the
    worker's traceback>)``; the constructor keeps only the original message, so users never see a traceback.
    """

    def __init__(self, message: str = "") -> None:
        if message.startswith(_WORKER_PREFIX) and _MARKER in message:
            message = message.rsplit(_MARKER, 1)[1].strip()
        super().__init__(message)
