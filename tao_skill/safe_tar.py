"""Extract an untrusted tarball without letting it write outside its folder.

Refused: absolute names, ``..`` components, links leading outside the root, devices and fifos, more than
``max_members`` entries or ``max_bytes`` of content. Extraction goes to a temporary sibling folder that is renamed
into place only when complete, so a refused or broken archive leaves nothing behind.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

from tao_skill.errors import UserError

__all__ = ["safe_extract", "check_members", "DEFAULT_MAX_BYTES", "DEFAULT_MAX_MEMBERS"]

DEFAULT_MAX_BYTES = 64 * 1024**3
DEFAULT_MAX_MEMBERS = 2_000_000


def _refuse(archive: Path, member: str, why: str) -> UserError:
    return UserError.single(
        str(archive),
        f"refusing to extract {archive.name}: member '{member}' {why}",
        rule="unsafe_archive",
        value=member,
        hint="rebuild the archive with relative paths inside one folder (tar -czf images.tar.gz images/)",
    )


def _inside(name: str) -> bool:
    norm = posixpath.normpath(name)
    return not (norm == ".." or norm.startswith("../") or norm.startswith("/"))


def check_members(archive: Path, members: list[tarfile.TarInfo], *, max_members: int, max_bytes: int) -> None:
    """Raise a UserError for the first unsafe member or when the archive is too large."""
    if len(members) > max_members:
        raise UserError.single(
            str(archive),
            f"{archive.name} has {len(members)} entries, more than the limit {max_members}",
            rule="archive_too_large",
            hint="split the dataset or raise the limit",
        )
    total = 0
    for member in members:
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
        total += max(member.size, 0)
        if total > max_bytes:
            raise UserError.single(
                str(archive),
                f"{archive.name} expands to more than {max_bytes} bytes",
                rule="archive_too_large",
                hint="split the dataset or raise the limit",
            )


def safe_extract(
    archive: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    max_members: int = DEFAULT_MAX_MEMBERS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Extract ``archive`` into ``dest`` (created; must not exist yet) and return ``dest``."""
    archive = Path(archive)
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            check_members(archive, members, max_members=max_members, max_bytes=max_bytes)
            tmp.mkdir(parents=True)
            root = tmp.resolve()
            for index, member in enumerate(members, 1):
                target = (root / member.name).resolve()
                if target != root and root not in target.parents:
                    raise _refuse(archive, member.name, "resolves outside the extraction folder")
                if hasattr(tarfile, "data_filter"):
                    tar.extract(member, root, filter="data")
                else:  # pragma: no cover - Python without extraction filters
                    tar.extract(member, root)
                if progress is not None:
                    progress(index, len(members))
    except tarfile.TarError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError.single(
            str(archive),
            f"{archive} is not a readable tar archive: {exc}",
            rule="archive_unreadable",
            hint="re-create it with tar -czf",
        ) from None
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
