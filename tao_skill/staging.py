"""Stage data sources: a folder or ``s3://`` prefix holding ``images.tar.gz`` (or ``images/``) + ``dataset.csv``.

S3 objects are downloaded once into ``$TAO_SKILL_HOME/data/<key>`` (key = URI + ETags and sizes of both files) with
retries and progress. A local tarball is extracted once into ``data/<key>`` (key = the archive's identity: path,
device, inode, size, mtime and ctime, so a replaced or rewritten archive is extracted again); its CSV is copied on
every staging into ``data/csv/<sha256>/`` (content-addressed, written atomically: an edited CSV is never stale and a
concurrent reader never sees half of it). Entries appear only once complete and verified (see ``safe_tar``); a local
folder without a tarball is used in place. The TAO-ready root (the folder holding the skill's root folders, such as
the reference images, and the folders the CSV names) is found through ``images/`` and ``images/images`` wrappers;
the CSV header and a sample of images are checked against the skill's :class:`~tao_skill.skill.DatasetLayout`.
boto3 is imported only for s3:// sources (``staging_s3``); credentials come from the standard AWS chain and are never
logged. The cache itself is ``staging_cache``; the checks are ``dataset_checks``.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tao_skill.contract import DatasetLayout
from tao_skill.dataset_checks import check_csv, check_images, find_tao_root, first_components
from tao_skill.errors import UserError
from tao_skill.home import data_cache_root
from tao_skill.staging_cache import (
    ARCHIVE,
    CSV_NAME,
    Progress,
    archive_identity,
    cache_key,
    extract,
    publish,
    snapshot_csv,
    sweep_abandoned,
)
from tao_skill.staging_s3 import stage_s3

__all__ = ["StagedSource", "stage_source", "absolute_uri", "find_tao_root", "check_csv", "Progress"]


@dataclass
class StagedSource:
    """A data source made local: the CSV (if any) and the TAO-ready image root."""

    name: str
    uri: str
    images_dir: Path
    csv_path: Path | None
    cached: bool = False


def _default_progress(message: str) -> None:
    print(f"[stage] {message}", file=sys.stderr, flush=True)


def absolute_uri(uri: str) -> str:
    """A data source as recorded in a plan: ``s3://`` as given, a local folder (``file://`` or a path, relative to
    the current folder) as an absolute path, so that jobs, which run in their results folder, find it."""
    if not isinstance(uri, str) or not uri or uri.startswith("s3://"):
        return uri
    local = uri[len("file://") :] if uri.startswith("file://") else uri
    return os.path.abspath(os.path.expanduser(local))


def _stage_local(name: str, uri: str, home: Path | None, progress: Progress) -> tuple[Path, bool, Path]:
    """(folder holding the images, whether it was cached, CSV to use)."""
    base = Path(absolute_uri(uri))
    if not base.is_dir():
        raise UserError.single(
            f"data.{name}",
            f"data source '{name}': folder not found: {uri}",
            rule="file_exists",
            value=uri,
            hint="give a folder (or s3:// prefix) holding images.tar.gz and dataset.csv",
        )
    archive = base / ARCHIVE
    if not archive.is_file():
        return base, True, base / CSV_NAME
    identity = archive_identity(archive)
    folder = data_cache_root(home) / cache_key("local", *identity)
    csv_path = base / CSV_NAME
    if (folder / ".complete").is_file():
        progress(f"{name}: {archive} already extracted in {folder}")
        return folder, True, snapshot_csv(csv_path, home) if csv_path.is_file() else csv_path
    sweep_abandoned(folder)
    download = folder.with_name(f".{folder.name}.download-{os.getpid()}")
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir(parents=True)
    try:
        extract(archive, download, name, progress)
        if archive_identity(archive) != identity:
            raise UserError.single(
                f"data.{name}",
                f"data source '{name}': {archive} changed while it was being extracted",
                rule="archive_changed",
                value=uri,
                hint="wait until the archive is completely written, then run again",
            )
        publish(download, folder)
    finally:
        shutil.rmtree(download, ignore_errors=True)
    return folder, False, snapshot_csv(csv_path, home) if csv_path.is_file() else csv_path


def stage_source(
    name: str,
    uri: str,
    *,
    home: str | os.PathLike[str] | None = None,
    need_csv: bool = True,
    layout: DatasetLayout | None = None,
    lights: Any = None,
    image_ext: str = ".jpg",
    progress: Progress | None = None,
) -> StagedSource:
    """Make one data source local and TAO-ready, or raise a UserError saying what is wrong with it. ``layout`` is the
    skill's dataset layout (what to check); ``lights`` and ``image_ext`` are the spec's values of its keys."""
    layout = layout or DatasetLayout()
    report = progress or _default_progress
    home_path = Path(home) if home is not None else None
    if uri.startswith("s3://"):
        folder, cached = stage_s3(name, uri, home_path, report)
        csv_path = folder / CSV_NAME
    else:
        folder, cached, csv_path = _stage_local(name, uri, home_path, report)
    wanted = set(layout.root_folders)
    if need_csv or csv_path.is_file():
        check_csv(csv_path, name, layout.columns)
        wanted |= first_components(csv_path, layout.folder_columns)
    search_base = folder / "extracted" if (folder / "extracted").is_dir() else folder
    root = find_tao_root(search_base, wanted)
    if root is None:
        raise UserError.single(
            f"data.{name}",
            f"data source '{name}': no folder under {search_base} holds {', '.join(sorted(wanted))}",
            rule="tao_root",
            value=uri,
            hint="the images must contain "
            + ", ".join(f"{f}/" for f in sorted(layout.root_folders))
            + (" and " if layout.root_folders else "")
            + "the folders named by the CSV's "
            + (" and ".join(layout.folder_columns) or "image columns"),
        )
    if csv_path.is_file() and need_csv:
        check_images(csv_path, root, name, layout, lights, image_ext or "")
    return StagedSource(
        name=name, uri=uri, images_dir=root, csv_path=csv_path if csv_path.is_file() else None, cached=cached
    )
