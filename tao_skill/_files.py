"""Atomic file writes (stdlib only): a reader sees the old file or the new one, never a partial one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write"]


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", *, permissions: int = 0o644) -> Iterator[IO[Any]]:
    """Open a new temporary file beside ``path`` (created with ``permissions``); when the block ends without an
    error it replaces ``path``, otherwise it is removed and ``path`` is left as it was."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, permissions)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], data: str | bytes, *, permissions: int = 0o644) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` atomically."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w", permissions=permissions) as handle:
        handle.write(data)
