"""Stage data sources: a folder or ``s3://`` prefix holding ``images.tar.gz`` (or ``images/``) + ``dataset.csv``.

S3 objects are downloaded once into ``$TAO_SKILL_HOME/data/<key>`` (key = URI + ETags and sizes) with retries and
progress; tarballs are extracted safely; the TAO-ready root (the folder holding the skill's root folders, such as
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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tao_skill.contract import DatasetLayout
from tao_skill.errors import Issue, UserError
from tao_skill.home import data_cache_root
from tao_skill.safe_tar import safe_extract

__all__ = ["StagedSource", "stage_source", "find_tao_root", "check_csv", "Progress"]

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
    return boto3.client("s3", endpoint_url=endpoint, config=Config(retries={"max_attempts": 5, "mode": "standard"}))


def _s3_error(exc: Exception, uri: str, source: str) -> UserError | None:
    from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

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
    download = folder.with_name(folder.name + f".download-{os.getpid()}")
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
        _finish(download, folder, name, progress)
    finally:
        shutil.rmtree(download, ignore_errors=True)
    return folder, False


def _finish(download: Path, folder: Path, name: str, progress: Progress) -> None:
    """Extract the archive (if any) into the download folder and move it into the cache atomically."""
    archive = download / ARCHIVE
    if archive.is_file():
        progress(f"{name}: extracting {ARCHIVE}")
        safe_extract(archive, download / "extracted", progress=_extract_progress(name, progress))
        archive.unlink()
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
            progress(f"{name}: extracted {done}/{total} entries")

    return report


def _stage_local(name: str, uri: str, home: Path | None, progress: Progress) -> tuple[Path, bool]:
    base = Path(uri[len("file://") :] if uri.startswith("file://") else uri).expanduser()
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
        return base, True
    stat = archive.stat()
    folder = data_cache_root(home) / _cache_key(str(base.resolve()), str(stat.st_size), str(stat.st_mtime_ns))
    if (folder / ".complete").is_file():
        progress(f"{name}: {archive} already extracted in {folder}")
    else:
        download = folder.with_name(folder.name + f".download-{os.getpid()}")
        shutil.rmtree(download, ignore_errors=True)
        download.mkdir(parents=True)
        try:
            shutil.copy2(archive, download / ARCHIVE)
            _finish(download, folder, name, progress)
        finally:
            shutil.rmtree(download, ignore_errors=True)
    if (base / CSV_NAME).is_file():
        shutil.copy2(base / CSV_NAME, folder / CSV_NAME) if not (folder / CSV_NAME).exists() else None
    return folder, False


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
    else:
        folder, cached = _stage_local(name, uri, home_path, report)
    csv_path = folder / CSV_NAME
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
