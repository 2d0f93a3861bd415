"""The data cache under ``$TAO_SKILL_HOME/data``: cache keys, entries that appear only once complete, archive
extraction (through ``safe_tar``) and content-addressed CSV snapshots."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tao_skill.home import data_cache_root

__all__ = [
    "ARCHIVE",
    "CSV_NAME",
    "Progress",
    "cache_key",
    "sweep_abandoned",
    "extract",
    "publish",
    "archive_identity",
    "snapshot_csv",
]

ARCHIVE = "images.tar.gz"
CSV_NAME = "dataset.csv"
Progress = Callable[[str], None]


def cache_key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def sweep_abandoned(folder: Path) -> None:
    """Remove temporary folders of ``folder`` left by staging processes that died (killed mid-download)."""
    for leftover in folder.parent.glob(f".{folder.name}.download-*"):
        try:
            os.kill(int(leftover.name.rsplit("-", 1)[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(leftover, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


def extract(archive: Path, download: Path, name: str, progress: Progress) -> None:
    """Extract ``archive`` safely into ``download/extracted``, reporting progress."""
    from tao_skill.safe_tar import safe_extract

    progress(f"{name}: extracting {archive}")
    safe_extract(archive, download / "extracted", progress=extract_progress(name, progress))


def publish(download: Path, folder: Path) -> None:
    """Mark the download folder complete and move it into the cache atomically."""
    (download / ".complete").write_text(json.dumps({"staged_at": time.time()}))
    if folder.exists():
        return  # another process staged it meanwhile
    try:
        download.rename(folder)
    except OSError:
        if not folder.exists():
            raise


def extract_progress(name: str, progress: Progress) -> Callable[[int, int], None]:
    """At most one line a second, and the end once (the archive is often read to its end while entries remain)."""
    last, ended = [0.0], [False]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        end = done >= total
        if (now - last[0] > 1.0 and not ended[0]) or (end and not ended[0]):
            last[0], ended[0] = now, end
            progress(f"{name}: extracted {done / 1e6:.1f}/{total / 1e6:.1f} MB of {ARCHIVE}")

    return report


def archive_identity(archive: Path) -> list[str]:
    stat = archive.stat()
    fields = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    return [str(archive.resolve()), *map(str, fields)]


def snapshot_csv(csv_path: Path, home: Path | None) -> Path:
    """Copy the CSV into ``data/csv/<sha256>/dataset.csv`` (atomically; content-addressed) and return the copy."""
    store = data_cache_root(home) / "csv"
    store.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{CSV_NAME}.", suffix=".tmp", dir=store)
    tmp = Path(name)
    digest = hashlib.sha256()
    try:
        with csv_path.open("rb") as src, os.fdopen(handle, "wb") as dst:
            while chunk := src.read(1024 * 1024):
                digest.update(chunk)
                dst.write(chunk)
        target = store / digest.hexdigest()[:20] / CSV_NAME
        if target.is_file():
            return target
        target.parent.mkdir(exist_ok=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        return target
    finally:
        tmp.unlink(missing_ok=True)
