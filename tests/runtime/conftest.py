"""Fixtures of the runtime's tests: a stand-in skill bank built from the trainer's config dataclasses.

The schema engineer's generator produces the shipped schemas; these tests build their own small JSON Schemas (same
keys, types, defaults, ``x-tao-extension`` marks, ``additionalProperties: false``) so they do not depend on the
generated files, and copy the shipped ``skill_info.yaml`` unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import types
import typing
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
    bank = tmp_path_factory.mktemp("skill_bank")
    build_skill_bank(bank, REPO_ROOT)
    return bank


@pytest.fixture(autouse=True)
def _skill_bank(skill_bank_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAO_SKILL_BANK", str(skill_bank_dir))
