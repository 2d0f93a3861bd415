"""A read-only, pathlib-like view of an ``s3://`` results folder, so the readers of results (checkpoint resolver,
status.json, parent inference) work on a job's S3 results as on a local folder.

``as_path(results_dir)`` gives a :class:`pathlib.Path` for a local folder and an :class:`S3Path` for an ``s3://``
URI. An S3Path lists its root prefix once (shared by every path derived from it: one LIST per question asked) and
reads objects on demand. ``resolve()`` follows a pointer object written by the results syncer (its
``tao-skill-target`` metadata) the way a local ``*_latest.pth`` symlink is followed.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path, PurePosixPath
from typing import Any

from tao_skill import s3_files

__all__ = ["S3Path", "as_path"]


class _Listing:
    """Every object under a root prefix, listed on first use."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self._objects: dict[str, s3_files.ObjectInfo] | None = None

    @property
    def objects(self) -> dict[str, s3_files.ObjectInfo]:
        if self._objects is None:
            self._objects = s3_files.list_objects(self.root)
        return self._objects


class S3Path:
    """A file or folder under an S3 results prefix (only what readers of results need)."""

    def __init__(self, listing: _Listing, rel: str = "") -> None:
        self._listing = listing
        self._rel = str(PurePosixPath(rel)) if rel and rel != "." else ""

    # ------------------------------------------------------------------------------------------------ naming
    def __str__(self) -> str:
        return s3_files.join(self._listing.root, self._rel)

    def __repr__(self) -> str:
        return f"S3Path({str(self)!r})"

    def __fspath__(self) -> str:
        return str(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, S3Path) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __lt__(self, other: S3Path) -> bool:
        return str(self) < str(other)

    def __truediv__(self, name: str | os.PathLike[str]) -> S3Path:
        return S3Path(self._listing, str(PurePosixPath(self._rel or ".", str(name))))

    def joinpath(self, *names: str) -> S3Path:
        path = self
        for name in names:
            path = path / name
        return path

    @property
    def name(self) -> str:
        return PurePosixPath(self._rel).name if self._rel else PurePosixPath(self._listing.root).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix

    @property
    def parent(self) -> S3Path:
        parent = str(PurePosixPath(self._rel).parent) if self._rel else ""
        return S3Path(self._listing, "" if parent == "." else parent)

    def is_absolute(self) -> bool:
        return True

    # ------------------------------------------------------------------------------------------------ questions
    def is_file(self) -> bool:
        return bool(self._rel) and self._rel in self._listing.objects

    def is_dir(self) -> bool:
        prefix = f"{self._rel}/" if self._rel else ""
        return any(key.startswith(prefix) for key in self._listing.objects)

    def exists(self) -> bool:
        return self.is_file() or self.is_dir()

    def is_symlink(self) -> bool:
        return self._target() is not None

    def iterdir(self) -> list[S3Path]:
        prefix = f"{self._rel}/" if self._rel else ""
        names = {key[len(prefix) :].split("/", 1)[0] for key in self._listing.objects if key.startswith(prefix)}
        return [self / name for name in sorted(names)]

    def glob(self, pattern: str) -> list[S3Path]:
        """Direct children whose name matches ``pattern`` (no ``**``)."""
        return [child for child in self.iterdir() if fnmatch.fnmatchcase(child.name, pattern)]

    def stat_size(self) -> int:
        info = self._listing.objects.get(self._rel)
        return info.size if info else 0

    # ------------------------------------------------------------------------------------------------ reading
    def read_bytes(self) -> bytes:
        data = s3_files.read_bytes(str(self)) if self.is_file() else None
        if data is None:
            raise FileNotFoundError(str(self))
        return data

    def read_text(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self.read_bytes().decode(encoding, errors=errors)

    def open(self, mode: str = "r", encoding: str = "utf-8", errors: str = "strict") -> Any:
        import io

        data = self.read_bytes()
        return io.BytesIO(data) if "b" in mode else io.StringIO(data.decode(encoding, errors=errors))

    def _target(self) -> str | None:
        if not self.is_file():
            return None
        info = s3_files.head(str(self))
        target = (info or {}).get("metadata", {}).get(s3_files.POINTER_META)
        return str(target) if target else None

    def resolve(self) -> S3Path:
        """The file a pointer object copies (its ``tao-skill-target``), else this path."""
        target = self._target()
        return self.parent / target if target else self


def as_path(results_dir: str | os.PathLike[str] | S3Path) -> Path | S3Path:
    """A local results folder as a Path, an ``s3://`` one as an S3Path."""
    if isinstance(results_dir, S3Path):
        return results_dir
    if s3_files.is_s3(str(results_dir)):
        return S3Path(_Listing(str(results_dir)))
    return Path(results_dir)
