"""``s3://`` data sources: list the prefix, download ``images.tar.gz`` and ``dataset.csv`` (or ``images/``) once into
the data cache (key = URI + ETags and sizes) with retries and progress, and map S3 failures to user errors. The client
comes from :func:`tao_skill.s3_files.new_client`; credentials come from the standard AWS chain and are never logged."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from tao_skill import s3_files
from tao_skill.errors import UserError
from tao_skill.home import data_cache_root
from tao_skill.staging_cache import ARCHIVE, CSV_NAME, Progress, cache_key, extract, publish, sweep_abandoned

__all__ = ["stage_s3"]


def _split_s3(uri: str) -> tuple[str, str]:
    rest = uri[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise UserError.single("data", f"'{uri}' has no bucket", rule="s3_uri", value=uri, hint="s3://bucket/prefix")
    return bucket, prefix.strip("/")


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


def stage_s3(name: str, uri: str, home: Path | None, progress: Progress) -> tuple[Path, bool]:
    """Download the source's files into the cache; return the cache folder and whether it was already there."""
    bucket, prefix = _split_s3(uri)
    client = s3_files.new_client("data", "s3:// data sources")
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
    folder = data_cache_root(home) / cache_key(uri, *signature)
    if (folder / ".complete").is_file():
        progress(f"{name}: {uri} already staged in {folder}")
        return folder, True
    sweep_abandoned(folder)
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
            extract(download / ARCHIVE, download, name, progress)
            (download / ARCHIVE).unlink()
        publish(download, folder)
    finally:
        shutil.rmtree(download, ignore_errors=True)
    return folder, False
