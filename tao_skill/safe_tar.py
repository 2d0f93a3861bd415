"""Extract an untrusted tarball without letting it write outside its folder, exhaust the disk, or leave half a tree.

The archive is read once, as a stream (gzip, bzip2, xz or plain tar, told apart by their magic bytes). Refused:
absolute names, ``..`` components, links leading outside the root, devices and fifos, more than ``max_members``
entries, more than ``max_bytes`` of content, a compression ratio above ``max_ratio`` once the output passed
``ratio_floor`` bytes (a decompression bomb), a damaged compressed stream (gzip's CRC and length, bzip2's and xz's
checks are verified to the end of the file), a truncated file, and data after where the tar stream ended (a damaged
header makes a tar reader stop early; its files would silently be missing). Extraction goes to a temporary sibling
folder that is renamed into place only after all of that was verified, so a refused or broken archive leaves nothing.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import posixpath
import shutil
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

from tao_skill.errors import UserError

__all__ = [
    "safe_extract",
    "check_member",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_MEMBERS",
    "DEFAULT_MAX_RATIO",
    "DEFAULT_RATIO_FLOOR",
]

DEFAULT_MAX_BYTES = 64 * 1024**3
DEFAULT_MAX_MEMBERS = 2_000_000
DEFAULT_MAX_RATIO = 200.0
DEFAULT_RATIO_FLOOR = 64 * 1024**2
_CHUNK = 1024 * 1024
_HINT = "re-create it (tar -czf images.tar.gz images/) and upload or copy it again"


def _error(archive: Path, message: str, rule: str, hint: str = _HINT, value: str | None = None) -> UserError:
    return UserError.single(str(archive), message, rule=rule, value=value, hint=hint)


def _refuse(archive: Path, member: str, why: str) -> UserError:
    return _error(
        archive,
        f"refusing to extract {archive.name}: member '{member}' {why}",
        "unsafe_archive",
        "rebuild the archive with relative paths inside one folder (tar -czf images.tar.gz images/)",
        member,
    )


def _inside(name: str) -> bool:
    norm = posixpath.normpath(name)
    return not (norm == ".." or norm.startswith("../") or norm.startswith("/"))


def check_member(archive: Path, member: tarfile.TarInfo) -> None:
    """Raise a UserError when ``member`` could write outside the extraction folder or is not a file/folder/link."""
    name = member.name
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\\" in name:
        raise _refuse(archive, name, "has an absolute path")
    if ".." in name.split("/"):
        raise _refuse(archive, name, "contains '..'")
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        raise _refuse(archive, name, "is a device or fifo")
    if member.issym():
        target = member.linkname
        if target.startswith("/") or not _inside(posixpath.join(posixpath.dirname(name), target)):
            raise _refuse(archive, name, f"is a symlink leaving the archive root (-> {target})")
    elif member.islnk():
        if member.linkname.startswith("/") or not _inside(member.linkname):
            raise _refuse(archive, name, f"is a hard link leaving the archive root (-> {member.linkname})")
    elif not (member.isfile() or member.isdir()):
        raise _refuse(archive, name, "is not a regular file, folder or link")


class _Damaged(Exception):
    """The compressed stream is corrupt or truncated (raised from inside the tar reader's reads)."""


class _Metered(io.RawIOBase):
    """The decompressed stream, counted: a ratio above the limit or a decoder error stops the reading."""

    def __init__(self, raw: IO[bytes], decoded: IO[bytes], archive: Path, max_ratio: float, ratio_floor: int) -> None:
        self.raw, self.decoded, self.archive = raw, decoded, archive
        self.max_ratio, self.ratio_floor = max_ratio, ratio_floor
        self.out = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self.decoded.read(len(buffer))
        except EOFError:
            raise _Damaged("it is truncated (the compressed stream ends before its end marker)") from None
        except (OSError, zlib.error, lzma.LZMAError, ValueError) as exc:
            raise _Damaged(f"its compressed data is damaged ({exc})") from None
        self.out += len(data)
        if self.out > self.ratio_floor:
            ratio = self.out / max(self.raw.tell(), 1)
            if ratio > self.max_ratio:
                raise _error(
                    self.archive,
                    f"{self.archive.name} decompresses at more than {self.max_ratio:g}:1 ({self.out} bytes from "
                    f"{self.raw.tell()}): refusing a likely decompression bomb",
                    "archive_bomb",
                    "pack real image files (JPEG/PNG compress little); set TAO_SKILL_MAX_ARCHIVE_RATIO if it is real",
                )
        buffer[: len(data)] = data
        return len(data)


def _decoder(raw: IO[bytes]) -> IO[bytes]:
    magic = raw.read(6)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic[:3] == b"BZh":
        return bz2.BZ2File(raw, mode="rb")
    if magic == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(raw, mode="rb")
    return raw


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    try:
        return float(text) if text else default
    except ValueError:
        return default


def _extract_stream(
    archive: Path,
    root: Path,
    *,
    max_members: int,
    max_bytes: int,
    max_ratio: float,
    ratio_floor: int,
    progress: Callable[[int, int], None] | None,
) -> int:
    """Extract every member into ``root`` and verify the stream to its end; returns the number of members."""
    size = archive.stat().st_size
    with open(archive, "rb") as raw, _decoder(raw) as decoded:
        metered = _Metered(raw, decoded, archive, max_ratio, ratio_floor)
        stream = io.BufferedReader(metered, buffer_size=_CHUNK)
        count = total = 0
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                count += 1
                if count > max_members:
                    raise _error(
                        archive,
                        f"{archive.name} has more than the limit of {max_members} entries",
                        "archive_too_large",
                        "split the dataset or raise TAO_SKILL_MAX_ARCHIVE_FILES",
                    )
                check_member(archive, member)
                total += max(member.size, 0) if member.isfile() else 0
                if total > max_bytes:
                    raise _error(
                        archive,
                        f"{archive.name} expands to more than {max_bytes} bytes",
                        "archive_too_large",
                        "split the dataset or raise TAO_SKILL_MAX_ARCHIVE_BYTES",
                    )
                target = (root / member.name).resolve()
                if target != root and root not in target.parents:
                    raise _refuse(archive, member.name, "resolves outside the extraction folder")
                tar.extract(member, root, filter="data")
                if progress is not None:
                    progress(raw.tell(), size)
            rest = tar.fileobj
            while chunk := rest.read(_CHUNK):
                if chunk.count(0) != len(chunk):
                    raise _Damaged(f"its tar stream stops after {count} entries but data follows (a damaged header)")
    if count == 0:
        raise _Damaged("it holds no entries")
    return count


def safe_extract(
    archive: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    max_members: int | None = None,
    max_bytes: int | None = None,
    max_ratio: float | None = None,
    ratio_floor: int = DEFAULT_RATIO_FLOOR,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Extract ``archive`` into ``dest`` (created; must not exist yet) and return ``dest``.

    Limits default to ``TAO_SKILL_MAX_ARCHIVE_FILES`` / ``_BYTES`` / ``_RATIO`` when set, else the module defaults.
    ``progress(compressed_bytes_read, archive_size)`` is called after each entry.
    """
    archive, dest = Path(archive), Path(dest)
    limits = {
        "max_members": int(max_members or _env_number("TAO_SKILL_MAX_ARCHIVE_FILES", DEFAULT_MAX_MEMBERS)),
        "max_bytes": int(max_bytes or _env_number("TAO_SKILL_MAX_ARCHIVE_BYTES", DEFAULT_MAX_BYTES)),
        "max_ratio": float(max_ratio or _env_number("TAO_SKILL_MAX_ARCHIVE_RATIO", DEFAULT_MAX_RATIO)),
    }
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        _extract_stream(archive, tmp.resolve(), ratio_floor=ratio_floor, progress=progress, **limits)
    except _Damaged as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _error(archive, f"{archive} cannot be used: {exc}", "archive_damaged") from None
    except (tarfile.TarError, EOFError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _error(archive, f"{archive} is not a readable tar archive: {exc}", "archive_unreadable") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if dest.exists():
        shutil.rmtree(tmp, ignore_errors=True)  # another process finished first: keep its copy
        return dest
    try:
        tmp.rename(dest)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not dest.exists():
            raise
    return dest
