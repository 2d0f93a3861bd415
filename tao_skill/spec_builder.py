"""Build an action's spec in layers, remembering where every value came from.

template <- parent (model/data shape) <- shorthands <- overrides <- override files <- data sources <- spec_params.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tao_skill import overrides as ov
from tao_skill._schema_walk import walk
from tao_skill._suggest import did_you_mean
from tao_skill.errors import Issue
from tao_skill.models import Job, ParentInfo
from tao_skill.secrets import REDACTED, is_secret
from tao_skill.skill import Skill

__all__ = ["SpecBuild", "build_spec", "INHERITED_KEYS"]

#: Keys a child job takes from its parent so the model it loads matches (a user override still wins).
INHERITED_KEYS = (
    "model",
    "dataset.num_input",
    "dataset.input_map",
    "dataset.grid_map",
    "dataset.concat_type",
    "dataset.image_width",
    "dataset.image_height",
    "dataset.image_ext",
    "dataset.augmentation_config.rgb_input_mean",
    "dataset.augmentation_config.rgb_input_std",
)


@dataclass
class SpecBuild:
    """The result of building: nested spec, provenance, issues found on the way, secrets kept apart."""

    spec: dict[str, Any]
    provenance: dict[str, str] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    parent: ParentInfo | None = None
    staging: dict[str, list[str]] = field(default_factory=dict)
    user_keys: set[str] = field(default_factory=set)


def _apply(build: SpecBuild, key: str, value: Any, origin: str) -> None:
    if is_secret(key) and value not in (None, ""):
        build.secrets[key] = str(value)
        value = REDACTED
    # A whole sub-tree replaced by a scalar or a dict: drop stale provenance under it.
    for existing in [k for k in build.provenance if k.startswith(key + ".")]:
        del build.provenance[existing]
    ov.set_dotted(build.spec, key, copy.deepcopy(value))
    build.provenance[key] = origin


def _template_provenance(build: SpecBuild, stop: set[str]) -> None:
    for key in ov.flatten(build.spec, stop=stop):
        build.provenance[key] = "template"


def _parent_layer(build: SpecBuild, parent_job: Job, parent_action: str, sections: set[str] | None = None) -> None:
    """Take the parent's model and data shape, only into the sections this action reads (``x-sections``)."""
    for key in INHERITED_KEYS:
        if sections is not None and key.split(".", 1)[0] not in sections:
            continue
        value = ov.get_dotted(parent_job.spec, key, default=ov.MISSING)
        if value is ov.MISSING or value is None:
            continue
        if isinstance(value, dict) and key == "model":
            for sub, sub_value in ov.flatten(value, prefix="model").items():
                _apply(build, sub, sub_value, f"parent:{parent_job.id}")
        else:
            _apply(build, key, value, f"parent:{parent_job.id}")


def map_keys(schema: dict[str, Any]) -> set[str]:
    """Dotted keys whose schema is a free-form mapping (an object without declared properties)."""
    found = set()
    for key, node in walk(schema):
        types = node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]
        if "object" in types and not node.get("properties"):
            found.add(key)
    return found


def _flat_user(values: dict[str, Any], stop: set[str]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value and key not in stop:
            flat.update(ov.flatten(value, key, stop))
        else:
            flat[key] = value
    return flat


def _user_layers(
    build: SpecBuild,
    skill: Skill,
    override_items: dict[str, Any],
    files: list[tuple[str, dict[str, Any]]],
    stop: set[str],
) -> None:
    shorthands = skill.info.spec_shorthand_keys
    override_items = _flat_user(override_items, stop)
    files = [(name, _flat_user(values, stop)) for name, values in files]
    for key, value in override_items.items():
        if key in shorthands:
            _apply(build, shorthands[key], value, f"shorthand:{key}")
            build.user_keys.add(shorthands[key])
    for key, value in override_items.items():
        if key not in shorthands:
            _apply(build, key, value, "override")
            build.user_keys.add(key)
    for name, values in files:
        for key, value in values.items():
            target = shorthands.get(key, key)
            _apply(build, target, value, f"override_file:{name}")
            build.user_keys.add(target)


def _join(uri: str, name: str) -> str:
    return uri.rstrip("/") + "/" + name


def _data_layer(build: SpecBuild, skill: Skill, action: str, data_sources: dict[str, str]) -> None:
    bindings = skill.info.data_sources.get(action, {})
    known = sorted({b.source for b in bindings.values()})
    for name in data_sources:
        if name not in known:
            build.issues.append(
                Issue(
                    path=f"data.{name}",
                    value=data_sources[name],
                    rule="unknown_data_source",
                    message=f"action '{action}' has no data source '{name}'",
                    hint=did_you_mean(name, known) or f"data sources of {action}: {', '.join(known) or 'none'}",
                )
            )
    for key, binding in bindings.items():
        uri = data_sources.get(binding.source)
        if not uri:
            continue
        value: Any = _join(uri, binding.path)
        if binding.as_list:
            value = [value]
        _apply(build, key, value, f"data_source:{binding.source}")
        build.staging.setdefault(binding.source, []).append(key)


def _parent_model_for(key: str, parent_action: str, model_path: str | None) -> str | None:
    """parent_model applies to a key only when the parent's file kind fits it."""
    if model_path is None:
        return None
    leaf = key.rsplit(".", 1)[-1]
    suffix = Path(model_path).suffix
    if leaf == "trt_engine":
        return model_path if suffix == ".engine" else None
    if leaf == "onnx_file":
        return model_path if suffix == ".onnx" else None
    if leaf == "checkpoint":
        return model_path if suffix in (".pth", ".onnx", ".ckpt", ".tlt") else None
    return model_path


def _latest_in(folder: Path) -> str | None:
    for sub in (folder / "train", folder):
        link = sub / "oi_model_latest.pth"
        if link.exists():
            return str(link)
    return None


def _params_layer(
    build: SpecBuild, skill: Skill, action: str, results_dir: str, parent_model: str | None, parent_action: str | None
) -> None:
    artifacts = skill.info.runtime.artifacts
    folder = Path(results_dir)
    resume = _latest_in(folder)
    for key, param in skill.info.spec_params.get(action, {}).items():
        value: Any = None
        if param == "output_dir":
            value = results_dir
        elif param == "key":
            env = skill.info.runtime.key_env
            value = os.environ.get(env) or None
        elif param == "resume_model":
            value = resume
        elif param == "ptm_if_no_resume_model":
            value = None  # no pretrained-model registry here: the user's value (if any) stays
        elif param == "parent_model":
            value = _parent_model_for(key, parent_action or "", parent_model)
        elif param == "create_onnx_file":
            value = str(folder / artifacts.get("export", "model.onnx"))
        elif param == "create_engine_file":
            value = str(folder / artifacts.get("gen_trt_engine", "model.engine"))
        elif param == "create_cal_cache":
            value = str(folder / artifacts.get("gen_trt_engine_cal_cache", "cal.bin"))
        else:
            build.warnings.append(f"spec_param '{param}' for {key} is not known to this runtime; left as is")
            continue
        if value is None:
            continue
        if key in build.user_keys and param not in ("output_dir", "key"):
            build.warnings.append(f"{key}: your value was replaced by spec_param {param} ({value})")
        _apply(build, key, value, f"spec_param:{param}")


def _derive_export_shape(build: SpecBuild) -> None:
    """export.input_height/width follow the dataset's concatenated image size unless the user set them."""
    spec = build.spec
    n = ov.get_dotted(spec, "dataset.num_input")
    h = ov.get_dotted(spec, "dataset.image_height")
    w = ov.get_dotted(spec, "dataset.image_width")
    if not all(isinstance(v, int) for v in (n, h, w)):
        return
    if ov.get_dotted(spec, "dataset.concat_type") == "grid":
        grid = ov.get_dotted(spec, "dataset.grid_map") or {}
        height, width = int(grid.get("y", 1)) * h, int(grid.get("x", 1)) * w
    else:
        height, width = n * h, w
    for key, value in (("export.input_height", height), ("export.input_width", width)):
        if key not in build.user_keys and ov.get_dotted(spec, key) != value:
            _apply(build, key, value, "derived:dataset")


def build_spec(
    skill: Skill,
    action: str,
    *,
    override_items: dict[str, Any],
    override_files: list[tuple[str, dict[str, Any]]],
    data_sources: dict[str, str],
    results_dir: str,
    parent_job: Job | None = None,
    parent_chain: Job | None = None,
    parent_model: str | None = None,
) -> SpecBuild:
    """Apply every layer; problems go to ``issues`` (the caller raises them together with validation issues)."""
    build = SpecBuild(spec=copy.deepcopy(skill.template(action)))
    stop = map_keys(skill.schema(action))
    _template_provenance(build, stop)
    for key, value in skill.info.key_defaults.items():
        _apply(build, key, value, "key_default")
    if parent_job is not None:
        declared = skill.schema(action).get("x-sections")
        _parent_layer(build, parent_job, parent_job.action, set(declared) if isinstance(declared, list) else None)
    _user_layers(build, skill, override_items, override_files, stop)
    _data_layer(build, skill, action, data_sources)
    _params_layer(build, skill, action, results_dir, parent_model, parent_job.action if parent_job else None)
    if action == "export":
        _derive_export_shape(build)
    _clear_optional_placeholders(build, skill, action)
    return build


def _clear_optional_placeholders(build: SpecBuild, skill: Skill, action: str) -> None:
    """A template's ``???`` on an input the action marks optional (one of checkpoint/trt_engine) becomes null once
    another model input has a value, so only a real gap is reported."""
    inputs = skill.action(action).inputs
    optional = [k for k, io in inputs.items() if io.optional]
    given = any(
        ov.get_dotted(build.spec, k) not in (None, "", ov.MISSING)
        for k in optional
        if k.rsplit(".", 1)[-1] in ("checkpoint", "trt_engine")
    )
    for key in optional:
        if ov.get_dotted(build.spec, key) == ov.MISSING and (
            given or key.rsplit(".", 1)[-1] not in ("checkpoint", "trt_engine")
        ):
            _apply(build, key, None, build.provenance.get(key, "template"))
