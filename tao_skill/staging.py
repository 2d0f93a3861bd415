"""Stage data sources: a folder or ``s3://`` prefix holding ``images.tar.gz`` (or ``images/``) + ``dataset.csv``.

S3 objects are downloaded once into ``$TAO_SKILL_HOME/data/<key>`` (key = URI + ETags and sizes of both files) with
retries and progress. A local tarball is extracted once into ``data/<key>`` (key = the archive's identity: path,
device, inode, size, mtime and ctime, so a replaced or rewritten archive is extracted again); its CSV is copied on
every staging into ``data/csv/<sha256>/`` (content-addressed, written atomically: an edited CSV is never stale and a
concurrent reader never sees half of it). Entries appear only once complete and verified (see ``safe_tar``); a local
folder without a tarball is used in place. The TAO-ready root (the folder holding the skill's root folders, such as
the reference images, and the folders the CSV names) is found through ``images/`` and ``images/images`` wrappers;
the CSV header and a sample of images are checked against the skill's :class:`~tao_skill.skill.DatasetLayout`.
boto3 is imported only for s3:// sources; credentials come from the standard AWS chain and are never logged.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tao_skill.contract import DatasetLayout
from tao_skill.errors import Issue, UserError
from tao_skill.home import data_cache_root

__all__ = ["StagedSource", "stage_source", "absolute_uri", "find_tao_root", "check_csv", "Progress"]

ARCHIVE = "images.tar.gz"
CSV_NAME = "dataset.csv"
SAMPLE_ROWS = 20
Progress = Callable[[str], None]


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


def _cache_key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def absolute_uri(uri: str) -> str:
    """A data source as recorded in a plan: ``s3://`` as given, a local folder (``file://`` or a path, relative to
    the current folder) as an absolute path, so that jobs, which run in their results folder, find it."""
    if not isinstance(uri, str) or not uri or uri.startswith("s3://"):
        return uri
    local = uri[len("file://") :] if uri.startswith("file://") else uri
    return os.path.abspath(os.path.expanduser(local))


def _sweep(folder: Path) -> None:
    """Remove temporary folders of ``folder`` left by staging processes that died (killed mid-download)."""
    for leftover in folder.parent.glob(f".{folder.name}.download-*"):
        try:
            os.kill(int(leftover.name.rsplit("-", 1)[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(leftover, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


# ----------------------------------------------------------------------------------------------------- checks
def _first_components(csv_path: Path, columns: list[str]) -> set[str]:
    names: set[str] = set()
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            for column in columns:
                value = (row.get(column) or "").strip().strip("/")
                if value:
                    names.add(value.split("/")[0])
    return names


def check_csv(csv_path: Path, source: str, required: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Check the header; return the column names. A missing column is a UserError naming file and column."""
    if not csv_path.is_file():
        raise UserError.single(
            f"data.{source}",
            f"{CSV_NAME} not found for data source '{source}': {csv_path}",
            rule="file_exists",
            hint=f"the source must hold {CSV_NAME} next to {ARCHIVE}",
        )
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), [])
    columns = [c.strip() for c in header]
    missing = [c for c in required if c not in columns]
    if missing:
        raise UserError(
            f"{csv_path} (data source '{source}') lacks column(s) {', '.join(missing)}",
            [
                Issue(
                    path=f"data.{source}:{CSV_NAME}",
                    value=columns,
                    rule="csv_columns",
                    message=f"{csv_path}: column '{name}' is missing (header: {', '.join(columns) or 'empty'})",
                    hint=f"the CSV needs the columns {', '.join(required)}",
                )
                for name in missing
            ],
        )
    return columns


def find_tao_root(base: Path, wanted: set[str], max_depth: int = 4) -> Path | None:
    """The shallowest folder under ``base`` holding every name in ``wanted`` (the skill's root folders and the CSV's);
    with nothing wanted, ``base`` itself."""
    if not wanted:
        return base
    level = [base]
    for _ in range(max_depth + 1):
        next_level: list[Path] = []
        for folder in level:
            try:
                children = {p.name: p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")}
            except OSError:
                continue
            if wanted <= set(children):
                return folder
            next_level.extend(children[name] for name in sorted(children))
        level = next_level
    return None


def check_images(
    csv_path: Path, images_dir: Path, source: str, layout: DatasetLayout, lights: Any, image_ext: str
) -> None:
    """Check that the images of the first rows exist (``<folder>/<stem>[_<light>]<ext>``); name the first missing."""
    if not layout.name_column or not layout.folder_columns:
        return
    names = list(lights) if isinstance(lights, dict) and lights else [None]
    missing: list[str] = []
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        for index, row in enumerate(csv.DictReader(handle)):
            if index >= SAMPLE_ROWS:
                break
            for column in layout.folder_columns:
                folder = images_dir / (row.get(column) or "").strip()
                for light in names:
                    name = f"{(row.get(layout.name_column) or '').strip()}{'_' + light if light else ''}{image_ext}"
                    if not (folder / name).is_file():
                        missing.append(str((folder / name).relative_to(images_dir)))
    if missing:
        raise UserError.single(
            f"data.{source}",
            f"data source '{source}': {len(missing)} image(s) named by the first {SAMPLE_ROWS} rows of {csv_path.name} "
            f"are missing under {images_dir}, first: {', '.join(missing[:5])}",
            rule="images_exist",
            value=missing[:5],
            hint=f"check {layout.image_ext_key or 'the image extension'} and {layout.lights_key or 'the lights'}, and "
            "that the archive holds the folders the CSV names",
        )


# ----------------------------------------------------------------------------------------------------- S3
def _split_s3(uri: str) -> tuple[str, str]:
    rest = uri[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise UserError.single("data", f"'{uri}' has no bucket", rule="s3_uri", value=uri, hint="s3://bucket/prefix")
    return bucket, prefix.strip("/")


def _s3_client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise UserError.single(
            "data", "s3:// data sources need boto3", rule="dependency", hint="pip install 'tao-skill-bank[s3]'"
        ) from None
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    attempts = os.environ.get("AWS_MAX_ATTEMPTS", "")  # the standard AWS setting; 5 when unset
    retries = {"max_attempts": int(attempts) if attempts.isdigit() else 5, "mode": "standard"}
    return boto3.client("s3", endpoint_url=endpoint, config=Config(retries=retries))


def _s3_error(exc: Exception, uri: str, source: str) -> UserError | None:
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "AWS S3"
        return UserError.single(
            f"data.{source}" if source else "data",
            f"cannot reach the S3 endpoint ({endpoint}) to read {uri}: {exc}",
            rule="s3_unreachable",
            value=uri,
            hint="check the network and AWS_ENDPOINT_URL (for non-AWS S3), then try again",
        )
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return UserError.single(
            f"data.{source}",
            f"no AWS credentials found to read {uri}",
            rule="s3_credentials",
            hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE (and AWS_ENDPOINT_URL for non-AWS S3)",
        )
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in (
            "NoSuchBucket",
            "AccessDenied",
            "403",
            "404",
            "NoSuchKey",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
        ):
            return UserError.single(
                f"data.{source}",
                f"cannot read {uri}: {code}",
                rule="s3_access",
                value=uri,
                hint="check the bucket, the prefix and your AWS credentials",
            )
    return None


def _download(client: Any, bucket: str, key: str, target: Path, size: int, progress: Progress) -> None:
    tmp = target.with_name(target.name + ".part")
    for attempt in range(1, 4):
        state = {"done": 0, "last": 0.0}

        def callback(chunk: int, state: dict[str, float] = state) -> None:
            state["done"] += chunk
            done = state["done"]
            now = time.monotonic()
            if now - state["last"] > 1.0 or done >= size:
                state["last"] = now
                progress(f"s3://{bucket}/{key}: {done / 1e6:.1f}/{size / 1e6:.1f} MB")

        try:
            client.download_file(bucket, key, str(tmp), Callback=callback)
            tmp.replace(target)
            return
        except Exception as exc:  # noqa: BLE001 - retried, then re-raised
            tmp.unlink(missing_ok=True)
            if attempt == 3 or _s3_error(exc, f"s3://{bucket}/{key}", "") is not None:
                raise
            progress(f"download of s3://{bucket}/{key} failed ({type(exc).__name__}); retry {attempt}/2")
            time.sleep(0.5 * attempt)


def _stage_s3(name: str, uri: str, home: Path | None, progress: Progress) -> tuple[Path, bool]:
    """Download the source's files into the cache; return the cache folder and whether it was already there."""
    bucket, prefix = _split_s3(uri)
    client = _s3_client()
    try:
        objects: dict[str, dict[str, Any]] = {}
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
            for obj in page.get("Contents", []):
                objects[obj["Key"][len(prefix) + 1 if prefix else 0 :]] = obj
    except Exception as exc:  # noqa: BLE001 - mapped to a user error when it is one
        err = _s3_error(exc, uri, name)
        if err is not None:
            raise err from None
        raise
    wanted = [k for k in objects if k in (ARCHIVE, CSV_NAME) or k.startswith("images/")]
    if CSV_NAME not in objects or not (ARCHIVE in objects or any(k.startswith("images/") for k in objects)):
        raise UserError.single(
            f"data.{name}",
            f"data source '{name}' ({uri}) must hold {CSV_NAME} and {ARCHIVE} (or an images/ folder); found: "
            f"{', '.join(sorted(objects)[:10]) or 'nothing'}",
            rule="data_source_layout",
            value=uri,
            hint="upload images.tar.gz and dataset.csv under that prefix",
        )
    if ARCHIVE in objects:
        wanted = [ARCHIVE, CSV_NAME]
    signature = [f"{k}:{objects[k].get('ETag', '')}:{objects[k].get('Size', 0)}" for k in sorted(wanted)]
    folder = data_cache_root(home) / _cache_key(uri, *signature)
    if (folder / ".complete").is_file():
        progress(f"{name}: {uri} already staged in {folder}")
        return folder, True
    _sweep(folder)
    download = folder.with_name(f".{folder.name}.download-{os.getpid()}")
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir(parents=True)
    try:
        for key in wanted:
            target = download / key
            target.parent.mkdir(parents=True, exist_ok=True)
            full_key = f"{prefix}/{key}" if prefix else key
            try:
                _download(client, bucket, full_key, target, int(objects[key].get("Size", 0)), progress)
            except Exception as exc:  # noqa: BLE001
                err = _s3_error(exc, f"s3://{bucket}/{full_key}", name)
                if err is not None:
                    raise err from None
                raise
        if (download / ARCHIVE).is_file():
            _extract(download / ARCHIVE, download, name, progress)
            (download / ARCHIVE).unlink()
        _finish(download, folder)
    finally:
        shutil.rmtree(download, ignore_errors=True)
    return folder, False


def _extract(archive: Path, download: Path, name: str, progress: Progress) -> None:
    from tao_skill.safe_tar import safe_extract

    progress(f"{name}: extracting {archive}")
    safe_extract(archive, download / "extracted", progress=_extract_progress(name, progress))


def _finish(download: Path, folder: Path) -> None:
    """Mark the download folder complete and move it into the cache atomically."""
    (download / ".complete").write_text(json.dumps({"staged_at": time.time()}))
    if folder.exists():
        return  # another process staged it meanwhile
    try:
        download.rename(folder)
    except OSError:
        if not folder.exists():
            raise


def _extract_progress(name: str, progress: Progress) -> Callable[[int, int], None]:
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] > 1.0 or done == total:
            last[0] = now
            progress(f"{name}: extracted {done / 1e6:.1f}/{total / 1e6:.1f} MB of {ARCHIVE}")

    return report


def _archive_identity(archive: Path) -> list[str]:
    stat = archive.stat()
    fields = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    return [str(archive.resolve()), *map(str, fields)]


def _snapshot_csv(csv_path: Path, home: Path | None) -> Path:
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
    identity = _archive_identity(archive)
    folder = data_cache_root(home) / _cache_key("local", *identity)
    csv_path = base / CSV_NAME
    if (folder / ".complete").is_file():
        progress(f"{name}: {archive} already extracted in {folder}")
        return folder, True, _snapshot_csv(csv_path, home) if csv_path.is_file() else csv_path
    _sweep(folder)
    download = folder.with_name(f".{folder.name}.download-{os.getpid()}")
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir(parents=True)
    try:
        _extract(archive, download, name, progress)
        if _archive_identity(archive) != identity:
            raise UserError.single(
                f"data.{name}",
                f"data source '{name}': {archive} changed while it was being extracted",
                rule="archive_changed",
                value=uri,
                hint="wait until the archive is completely written, then run again",
            )
        _finish(download, folder)
    finally:
        shutil.rmtree(download, ignore_errors=True)
    return folder, False, _snapshot_csv(csv_path, home) if csv_path.is_file() else csv_path


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
        folder, cached = _stage_s3(name, uri, home_path, report)
        csv_path = folder / CSV_NAME
    else:
        folder, cached, csv_path = _stage_local(name, uri, home_path, report)
    wanted = set(layout.root_folders)
    if need_csv or csv_path.is_file():
        check_csv(csv_path, name, layout.columns)
        wanted |= _first_components(csv_path, layout.folder_columns)
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
