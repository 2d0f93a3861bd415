"""Fixtures of the runtime's tests: a stand-in skill bank built from the trainer's config dataclasses.

The schema engineer's generator produces the shipped schemas; these tests build their own small JSON Schemas (same
keys, types, defaults, ``x-tao-extension`` marks, ``additionalProperties: false``) so they do not depend on the
generated files, and copy the shipped ``skill_info.yaml`` unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import subprocess
import sys
import time
import types
import typing
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from optical_inspection import config as oi_config

SKILL = "tao-train-optical-inspection"


def _type_schema(tp: Any) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = _type_schema(args[0])
        return {"anyOf": [inner, {"type": "null"}]}
    if dataclasses.is_dataclass(tp):
        return _object_schema(tp)
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        return {"type": "array", "items": _type_schema(item) if item is not Any else {}}
    if origin is dict:
        return {"type": "object"}
    return {
        int: {"type": "integer"},
        float: {"type": "number"},
        bool: {"type": "boolean"},
        str: {"type": "string"},
    }.get(tp, {})


def _object_schema(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    props: dict[str, Any] = {}
    instance = cls()
    for field in dataclasses.fields(cls):
        node = _type_schema(hints[field.name])
        default = getattr(instance, field.name)
        if not dataclasses.is_dataclass(default):
            node["default"] = default
        meta = field.metadata or {}
        if meta.get("tao_extension"):
            node["x-tao-extension"] = True
        if meta.get("valid_options") and node.get("type") == "string":
            node["enum"] = meta["valid_options"].split(",")
        if meta.get("valid_min") not in (None, "", "inf") and node.get("type") in ("integer", "number"):
            node["minimum"] = float(meta["valid_min"]) if node["type"] == "number" else int(float(meta["valid_min"]))
        props[field.name] = node
    return {"type": "object", "properties": props, "additionalProperties": False}


def _template(action: oi_config.ActionSpec) -> dict[str, Any]:
    full = dataclasses.asdict(oi_config.ExperimentConfig())
    keep = set(oi_config.COMMON_KEYS) | set(action.sections)
    template = {k: v for k, v in full.items() if k in keep}
    for required in action.required:
        if "|" in required:
            continue
        node = template
        parts = required.split(".")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = "???"
    return template


def build_skill_bank(dest: Path, repo_root: Path) -> Path:
    """Write ``dest/<skill>/`` with the shipped skill_info.yaml and generated schemas, templates and manifest."""
    skill = dest / SKILL
    (skill / "references").mkdir(parents=True, exist_ok=True)
    (skill / "schemas").mkdir(parents=True, exist_ok=True)
    info = "references/skill_info.yaml"
    shutil.copy(repo_root / "skills" / SKILL / info, skill / info)
    full = _object_schema(oi_config.ExperimentConfig)
    manifest: dict[str, Any] = {"actions": {}}
    for action in oi_config.ACTIONS:
        keep = set(oi_config.COMMON_KEYS) | set(action.sections)
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {k: v for k, v in full["properties"].items() if k in keep},
            "additionalProperties": False,
        }
        (skill / "schemas" / f"{action.name}.schema.json").write_text(json.dumps(schema, indent=1))
        (skill / "references" / f"spec_template_{action.name}.yaml").write_text(
            yaml.safe_dump(_template(action), sort_keys=False)
        )
        manifest["actions"][action.name] = {"schema": f"{action.name}.schema.json"}
    (skill / "schemas" / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return skill


REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def skill_bank_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped skill bank (generated schemas and templates), or a stand-in when they are not generated."""
    shipped = REPO_ROOT / "skills" / SKILL
    if all((shipped / "schemas" / f"{a.name}.schema.json").is_file() for a in oi_config.ACTIONS):
        return REPO_ROOT / "skills"
    bank = tmp_path_factory.mktemp("skill_bank")
    build_skill_bank(bank, REPO_ROOT)
    return bank


@pytest.fixture(autouse=True)
def _skill_bank(skill_bank_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAO_SKILL_BANK", str(skill_bank_dir))


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny packaged datasets (32x32, images.tar.gz + dataset.csv): train (images/images wrapper) and val."""
    from optical_inspection.tools.synth import generate

    root = tmp_path_factory.mktemp("synth")
    train = generate(
        root / "train", pairs=48, defect_fraction=0.25, seed=0, image_size=32, package=True, images_wrapper=True
    )
    val = generate(root / "val", pairs=24, defect_fraction=0.25, seed=1, image_size=32, package=True)
    return {"train": Path(train.root), "val": Path(val.root)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 API on loopback: moto's server in a subprocess."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


S3_SECRET = "dummy-secret-key-DO-NOT-LOG-123"


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """AWS settings pointing at the loopback S3 (dummy credentials)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_endpoint


@pytest.fixture
def s3_upload(s3_env: str) -> Any:
    """A function uploading a packaged dataset folder's files under s3://bucket/prefix/ (returns the URI)."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_env)

    def upload(
        bucket: str, prefix: str, folder: Path, files: tuple[str, ...] = ("images.tar.gz", "dataset.csv")
    ) -> str:
        existing = [b["Name"] for b in client.list_buckets().get("Buckets", [])]
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)
        for name in files:
            client.upload_file(str(folder / name), bucket, f"{prefix}/{name}")
        return f"s3://{bucket}/{prefix}"

    return upload
