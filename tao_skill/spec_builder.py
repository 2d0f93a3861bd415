"""Build an action's spec in layers, remembering where every value came from.

template <- key_defaults <- spec files (``-f``, in order) <- parent job (model and data shape) <- inline overrides
(shorthands, then dotted keys) <- data sources <- spec_params; then ``${...}`` references are resolved (OmegaConf,
as TAO), values the schema derives from others are computed, and ``???`` placeholders on keys the action does not
read are settled (see :mod:`tao_skill.placeholders`). What a layer takes comes from the skill's contract: the keys a
child inherits (``x-inherit``, ``runtime.inherited_keys``), the file kinds an input takes, the checkpoint layout,
``x-derived`` expressions.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

from tao_skill import overrides as ov
from tao_skill import s3_files
from tao_skill._schema_walk import walk
from tao_skill._suggest import did_you_mean
from tao_skill.checkpoints import latest_link
from tao_skill.errors import Issue
from tao_skill.interpolation import resolve_interpolations
from tao_skill.models import Job, ParentInfo
from tao_skill.placeholders import is_placeholder, read_by_action, settle_placeholders
from tao_skill.rules import derived_values
from tao_skill.secrets import REDACTED, is_secret
from tao_skill.skill import Skill

__all__ = ["SpecBuild", "build_spec", "map_keys", "SPEC_LAYERS"]

#: How a spec is built, first to last (a later layer wins); ``describe`` shows it.
SPEC_LAYERS = [
    "template (references/spec_template_<action>.yaml)",
    "key_defaults (skill_info.yaml)",
    "spec files (-f/--override-file), in the order given",
    "parent job (--parent): model and data shape, so the checkpoint loads",
    "inline overrides (key=value, -o): shorthands, then dotted keys",
    "data sources (--data)",
    "spec_params (results_dir, parent model, output files)",
    "derived values (x-derived in the schema, e.g. an export input size), unless you set them",
]


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


def _parent_layer(
    build: SpecBuild, skill: Skill, action: str, parent_job: Job, stop: set[str], from_files: dict[str, str]
) -> None:
    """Take the parent's model and data shape: the keys the skill says a child of this action inherits.

    The parent's values beat spec files (a checkpoint's architecture is fixed), with a warning when they differ;
    inline overrides come later and still win.
    """
    for key in skill.inherited_keys(action):
        value = ov.get_dotted(parent_job.spec, key, default=ov.MISSING)
        if value is ov.MISSING or value is None:
            continue
        whole = not (isinstance(value, dict) and value and key not in stop)
        items = {key: value} if whole else ov.flatten(value, prefix=key, stop=stop)
        for sub_key, sub_value in items.items():
            current = ov.get_dotted(build.spec, sub_key, default=ov.MISSING)
            if sub_key in from_files and current != sub_value:
                build.warnings.append(
                    f"{sub_key}={current!r} from {from_files[sub_key]} replaced by {sub_value!r} from parent "
                    f"{parent_job.id} (its model was built with it); override it inline to force another value"
                )
            _apply(build, sub_key, sub_value, f"parent:{parent_job.id}")


def map_keys(schema: dict[str, Any]) -> set[str]:
    """Dotted keys whose schema is a free-form mapping (an object without declared properties).

    Sections of other actions (accepted, not validated) are not maps: their keys merge like any other.
    """
    sections = schema.get("x-sections")
    found = set()
    for key, node in walk(schema):
        types = node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]
        if "object" in types and not node.get("properties"):
            if "." not in key and isinstance(sections, list) and key not in sections:
                continue
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


def _file_layers(
    build: SpecBuild, skill: Skill, files: list[tuple[str, dict[str, Any]]], stop: set[str]
) -> dict[str, str]:
    """Spec files in the order given (a later file wins); returns {key: file} of the values they set."""
    shorthands = skill.info.spec_shorthand_keys
    given: dict[str, str] = {}
    for name, values in files:
        for key, value in _flat_user(values, stop).items():
            target = shorthands.get(key, key)
            _apply(build, target, value, f"override_file:{name}")
            build.user_keys.add(target)
            given[target] = name
    return given


def _inline_layers(build: SpecBuild, skill: Skill, override_items: dict[str, Any], stop: set[str]) -> None:
    """Inline ``key=value`` overrides: shorthands first, then dotted keys (a dotted key beats its shorthand)."""
    shorthands = skill.info.spec_shorthand_keys
    override_items = _flat_user(override_items, stop)
    for key, value in override_items.items():
        if key in shorthands:
            _apply(build, shorthands[key], value, f"shorthand:{key}")
            build.user_keys.add(shorthands[key])
    for key, value in override_items.items():
        if key not in shorthands:
            _apply(build, key, value, "override")
            build.user_keys.add(key)


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


def _parent_model_for(skill: Skill, action: str, key: str, model_path: str | None) -> str | None:
    """parent_model applies to a key only when the parent's file is of a kind the input takes."""
    io = skill.action(action).inputs.get(key)
    if model_path is None or (io is not None and not io.accepts(model_path)):
        return None
    return model_path


def _params_layer(build: SpecBuild, skill: Skill, action: str, results_dir: str, parent_model: str | None) -> None:
    artifacts = skill.info.runtime.artifacts
    link = None if s3_files.is_s3(results_dir) else latest_link(results_dir, skill.info.runtime.checkpoints)
    resume = str(link) if link is not None else None
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
            value = _parent_model_for(skill, action, key, parent_model)
        elif param == "create_onnx_file":
            value = s3_files.join(results_dir, artifacts.get("export", "model.onnx"))
        elif param == "create_engine_file":
            value = s3_files.join(results_dir, artifacts.get("gen_trt_engine", "model.engine"))
        elif param == "create_cal_cache":
            value = s3_files.join(results_dir, artifacts.get("gen_trt_engine_cal_cache", "cal.bin"))
        else:
            build.warnings.append(f"spec_param '{param}' for {key} is not known to this runtime; left as is")
            continue
        if value is None:
            continue
        current = ov.get_dotted(build.spec, key)
        given = current not in (None, "") and not is_placeholder(current)
        if key in build.user_keys and given and current != value and param not in ("output_dir", "key"):
            build.warnings.append(f"{key}: your value was replaced by spec_param {param} ({value})")
        _apply(build, key, value, f"spec_param:{param}")


def _derived_layer(build: SpecBuild, skill: Skill, action: str) -> None:
    """Keys the schema derives from others (``x-derived``, e.g. an export input size from the dataset's image size)
    take the computed value unless the user set them."""
    for key, value, sources in derived_values(skill.schema(action), build.spec):
        if key not in build.user_keys and ov.get_dotted(build.spec, key) != value:
            _apply(build, key, value, "derived:" + ",".join(sorted({k.split(".", 1)[0] for k in sources})))


def build_spec(
    skill: Skill,
    action: str,
    *,
    override_items: dict[str, Any],
    override_files: list[tuple[str, dict[str, Any]]],
    data_sources: dict[str, str],
    results_dir: str,
    parent_job: Job | None = None,
    parent_model: str | None = None,
) -> SpecBuild:
    """Apply every layer; problems go to ``issues`` (the caller raises them together with validation issues)."""
    build = SpecBuild(spec=copy.deepcopy(skill.template(action)))
    stop = map_keys(skill.schema(action))
    _template_provenance(build, stop)
    for key, value in skill.info.key_defaults.items():
        _apply(build, key, value, "key_default")
    from_files = _file_layers(build, skill, override_files, stop)
    if parent_job is not None:
        _parent_layer(build, skill, action, parent_job, stop, from_files)
    _inline_layers(build, skill, override_items, stop)
    _data_layer(build, skill, action, data_sources)
    _params_layer(build, skill, action, results_dir, parent_model)
    _resolve_references(build, skill, action)
    _derived_layer(build, skill, action)
    _pin_results_dir(build, action)
    _settle(build, skill, action, stop)
    return build


def _resolve_references(build: SpecBuild, skill: Skill, action: str) -> None:
    """``${a.b}`` references, resolved on the merged spec; a broken one is an issue only where the action reads it."""
    spec, resolved, issues = resolve_interpolations(build.spec)
    build.spec = spec
    for key, expression in resolved.items():
        if key in build.provenance:
            build.provenance[key] = f"{build.provenance[key]} (= {expression})"
    for issue in issues:
        if read_by_action(skill, action, issue.path):
            build.issues.append(issue)
        else:
            ov.set_dotted(build.spec, issue.path, ov.MISSING)  # settled below like any unread placeholder
            build.warnings.append(f"{issue.message}; '{action}' does not read it, so it keeps its default")


def _pin_results_dir(build: SpecBuild, action: str) -> None:
    """The job writes under its own results folder: an ``<action>.results_dir`` from a spec file would move it."""
    key = f"{action}.results_dir"
    value = ov.get_dotted(build.spec, key)
    if value in (None, "", ov.MISSING) or not isinstance(build.spec.get(action), dict):
        return
    origin = build.provenance.get(key, "template")
    _apply(build, key, None, f"spec_param:output_dir (was {value!r} from {origin})")
    build.warnings.append(
        f"{key}={value!r} ({origin}) dropped: the job writes to <results_dir>/{action} so it can be followed"
    )


def _settle(build: SpecBuild, skill: Skill, action: str, stop: set[str]) -> None:
    settled, defaults = settle_placeholders(build.spec, skill, action, stop)
    for key in settled:
        origin = build.provenance.get(key, "template")
        if key in defaults:
            build.provenance[key] = f"{origin} (??? not read by {action}: default)"
        else:
            build.provenance.pop(key, None)
