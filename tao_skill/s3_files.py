"""``s3://bucket/key`` files for job results: list, read, download and upload, with errors a user can act on.

boto3 is imported on first use; the endpoint comes from ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL`` (MinIO, moto),
credentials from the standard AWS chain (never logged). An object appears whole or not at all (S3 writes are atomic
per object), which is what the results syncer builds its "never a half-written latest" promise on.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tao_skill.errors import RuntimeFailure, UserError

__all__ = [
    "is_s3",
    "split",
    "join",
    "client",
    "new_client",
    "ObjectInfo",
    "list_objects",
    "read_bytes",
    "read_text",
    "head",
    "download",
    "upload_file",
    "put_bytes",
    "copy",
    "delete",
    "probe",
    "POINTER_META",
]

#: Object metadata key of a pointer object (a ``*_latest.pth`` link): the name of the file it copies.
POINTER_META = "tao-skill-target"

_local = threading.local()


def is_s3(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("s3://")


def split(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")`` (a UserError when there is no bucket)."""
    rest = uri[len("s3://") :] if is_s3(uri) else ""
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise UserError.single(
            "results_dir", f"'{uri}' names no bucket", rule="s3_uri", value=uri, hint="s3://bucket/prefix"
        )
    return bucket, key.strip("/")


def join(base: str, *parts: str) -> str:
    """Join an ``s3://`` URI (or a local path) with relative parts."""
    if not is_s3(base):
        return str(Path(base).joinpath(*parts))
    tail = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
    return f"{base.rstrip('/')}/{tail}" if tail else base.rstrip("/")


def new_client(field: str = "results_dir", purpose: str = "s3:// results") -> Any:
    """A boto3 S3 client from the standard AWS settings (endpoint, ``AWS_MAX_ATTEMPTS``: 5 standard-mode attempts
    when unset); without boto3 a user error on ``field`` saying that ``purpose`` needs it."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise UserError.single(
            field, f"{purpose} need boto3", rule="dependency", hint="pip install 'tao-skill-bank[s3]'"
        ) from None
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    attempts = os.environ.get("AWS_MAX_ATTEMPTS", "")
    retries = {"max_attempts": int(attempts) if attempts.isdigit() else 5, "mode": "standard"}
    return boto3.client("s3", endpoint_url=endpoint, config=Config(retries=retries))


def client() -> Any:
    """A boto3 S3 client for this thread (boto3 clients are thread-safe, their creation is not)."""
    cached = getattr(_local, "client", None)
    if cached is None:
        cached = _local.client = new_client()
    return cached


def _failure(exc: Exception, uri: str) -> Exception:
    """A UserError for what the user can fix (credentials, bucket, access), else a RuntimeFailure."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, PartialCredentialsError

    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return UserError.single(
            "results_dir",
            f"no AWS credentials found for {uri}",
            rule="s3_credentials",
            hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE (and AWS_ENDPOINT_URL for non-AWS S3)",
        )
    if isinstance(exc, EndpointConnectionError):
        return UserError.single(
            "results_dir",
            f"cannot reach the S3 endpoint for {uri}: {exc}",
            rule="s3_unreachable",
            value=uri,
            hint="check AWS_ENDPOINT_URL and the network",
        )
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchBucket", "AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return UserError.single(
                "results_dir",
                f"cannot use {uri}: {code}",
                rule="s3_access",
                value=uri,
                hint="check the bucket, the prefix and your AWS credentials",
            )
    return RuntimeFailure(f"S3 request for {uri} failed: {type(exc).__name__}: {exc}")


def _missing(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and str(exc.response.get("Error", {}).get("Code", "")) in (
        "404",
        "NoSuchKey",
        "NotFound",
    )


@dataclass(frozen=True)
class ObjectInfo:
    """One object under a prefix: its key relative to the prefix, size and ETag."""

    name: str
    size: int
    etag: str


def list_objects(uri: str) -> dict[str, ObjectInfo]:
    """Every object under ``uri`` (a prefix, as a folder), by key relative to it."""
    bucket, prefix = split(uri)
    base = f"{prefix}/" if prefix else ""
    found: dict[str, ObjectInfo] = {}
    try:
        for page in client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(base) :]
                if name:
                    found[name] = ObjectInfo(name, int(obj.get("Size", 0)), str(obj.get("ETag", "")).strip('"'))
    except Exception as exc:  # noqa: BLE001 - mapped to what the user can do about it
        raise _failure(exc, uri) from None
    return found


def read_bytes(uri: str) -> bytes | None:
    """The object's bytes, or None when it does not exist."""
    bucket, key = split(uri)
    try:
        return client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # noqa: BLE001
        if _missing(exc):
            return None
        raise _failure(exc, uri) from None


def read_text(uri: str) -> str | None:
    data = read_bytes(uri)
    return None if data is None else data.decode("utf-8", errors="replace")


def head(uri: str) -> dict[str, Any] | None:
    """``{"size", "etag", "metadata"}`` of an object, or None when it does not exist."""
    bucket, key = split(uri)
    try:
        answer = client().head_object(Bucket=bucket, Key=key)
    except Exception as exc:  # noqa: BLE001
        if _missing(exc):
            return None
        raise _failure(exc, uri) from None
    return {
        "size": int(answer.get("ContentLength", 0)),
        "etag": str(answer.get("ETag", "")).strip('"'),
        "metadata": dict(answer.get("Metadata") or {}),
    }


def download(uri: str, target: str | os.PathLike[str]) -> Path:
    """Download to ``target`` through a temporary name, so ``target`` is whole or absent."""
    bucket, key = split(uri)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        client().download_file(bucket, key, str(tmp))
        os.replace(tmp, target)
    except Exception as exc:  # noqa: BLE001
        tmp.unlink(missing_ok=True)
        if _missing(exc):
            raise UserError.single(
                "input", f"{uri} does not exist", rule="file_exists", value=uri, hint="check the job that wrote it"
            ) from None
        raise _failure(exc, uri) from None
    return target


def upload_file(path: str | os.PathLike[str], uri: str) -> None:
    """Upload a file (multipart when large); the object appears only once complete."""
    bucket, key = split(uri)
    try:
        client().upload_file(str(path), bucket, key)
    except Exception as exc:  # noqa: BLE001
        raise _failure(exc, uri) from None


def put_bytes(uri: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
    bucket, key = split(uri)
    try:
        client().put_object(Bucket=bucket, Key=key, Body=data, Metadata=metadata or {})
    except Exception as exc:  # noqa: BLE001
        raise _failure(exc, uri) from None


def copy(source_uri: str, uri: str, metadata: dict[str, str] | None = None) -> None:
    """Server-side copy (how a pointer object is replaced in one step)."""
    src_bucket, src_key = split(source_uri)
    bucket, key = split(uri)
    try:
        client().copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": src_bucket, "Key": src_key},
            Metadata=metadata or {},
            MetadataDirective="REPLACE",
        )
    except Exception as exc:  # noqa: BLE001
        raise _failure(exc, uri) from None


def delete(uri: str) -> None:
    bucket, key = split(uri)
    try:
        client().delete_object(Bucket=bucket, Key=key)
    except Exception as exc:  # noqa: BLE001
        if not _missing(exc):
            raise _failure(exc, uri) from None


def probe(uri: str) -> None:
    """Raise what is wrong when the prefix cannot be listed (a bucket that is not there, no access, no endpoint)."""
    bucket, prefix = split(uri)
    try:
        client().list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    except Exception as exc:  # noqa: BLE001
        raise _failure(exc, uri) from None
