"""Validate a built spec: the action's JSON Schema (Draft 2020-12) plus semantic rules; every issue at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tao_skill import overrides as ov
from tao_skill._suggest import did_you_mean
from tao_skill.errors import Issue
from tao_skill.skill import Skill

__all__ = ["validate_spec", "schema_issues", "semantic_issues", "missing_values"]

_VALIDATORS: dict[int, Any] = {}


def _validator(schema: dict[str, Any]) -> Any:
    from jsonschema import Draft202012Validator

    key = id(schema)
    cached = _VALIDATORS.get(key)
    if cached is None or cached.schema is not schema:
        cached = Draft202012Validator(schema)
        _VALIDATORS[key] = cached
    return cached


def missing_values(spec: dict[str, Any]) -> list[str]:
    """Dotted keys still holding the template's ``???`` (a value the user must give)."""
    return [k for k, v in ov.flatten(spec).items() if v == ov.MISSING]


def _is_requirement(error: Any) -> bool:
    if not error.schema_path or error.schema_path[0] != "allOf":
        return False
    return error.validator in ("not", "anyOf", "required", "oneOf")


def schema_issues(skill: Skill, action: str, spec: dict[str, Any], *, skip: set[str] = frozenset()) -> list[Issue]:
    """JSON Schema errors as issues; unknown keys get did-you-mean hints (shorthand names included at the top)."""
    schema = skill.schema(action)
    issues: list[Issue] = []
    for error in sorted(_validator(schema).iter_errors(spec), key=lambda e: [str(p) for p in e.absolute_path]):
        path = ".".join(str(p) for p in error.absolute_path)
        if path in skip or any(path.startswith(s + ".") for s in skip):
            continue
        if _is_requirement(error):
            # "must be given" rules (allOf/anyOf of required + not-null); semantic_issues reports them with a hint
            issues.append(
                Issue(
                    path=path or "<spec>",
                    value=None,
                    rule="mandatory_value",
                    message=f"{path or 'spec'}: a value is required by '{action}'",
                    hint=f"set {path}=<value>" if path else "see the action's required inputs (tao-skill describe)",
                )
            )
            continue
        if error.validator == "additionalProperties":
            allowed = list((error.schema or {}).get("properties") or {})
            extra = [k for k in error.instance if k not in allowed] if isinstance(error.instance, dict) else []
            for name in extra:
                dotted = f"{path}.{name}" if path else name
                prefix = f"{path}." if path else ""
                choices = [prefix + a for a in allowed] + (list(skill.info.spec_shorthand_keys) if not path else [])
                hint = did_you_mean(dotted, choices)
                if not hint and not path:
                    hint = did_you_mean(name, ov.flatten(skill.template(action)))
                issues.append(
                    Issue(
                        path=dotted,
                        value=error.instance.get(name),
                        rule="unknown_key",
                        message=f"unknown key '{dotted}' for action '{action}'",
                        hint=hint or (f"known keys here: {', '.join(allowed[:12])}" if allowed else ""),
                    )
                )
            continue
        schema_text = {k: error.schema.get(k) for k in ("type", "enum", "minimum", "maximum") if k in error.schema}
        hint = ""
        if "enum" in schema_text:
            options = [str(o) for o in schema_text["enum"]]
            hint = f"one of: {', '.join(options)}"
            parts = [p.strip() for p in error.instance.split(",")] if isinstance(error.instance, str) else []
            if len(parts) > 1 and all(p in options for p in parts):
                hint = (
                    f"'{error.instance}' lists several options (TAO's templates show the choices this way); "
                    f"pick one, e.g. {path}={parts[-1]}"
                )
        elif error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            hint = f"{error.validator} is {error.validator_value}"
        elif error.validator == "type":
            hint = f"expected {error.validator_value}"
        message = (
            error.message
            if not isinstance(error.instance, (dict, list)) or len(error.message) < 200
            else (f"does not satisfy '{error.validator}' ({json.dumps(error.validator_value, default=str)[:120]})")
        )
        issues.append(
            Issue(
                path=path or "<spec>",
                value=error.instance if not isinstance(error.instance, dict) else None,
                rule=f"schema.{error.validator}",
                message=f"{path or 'spec'}: {message}",
                hint=hint,
            )
        )
    return issues


def _number(spec: dict[str, Any], key: str) -> Any:
    return ov.get_dotted(spec, key)


def semantic_issues(
    skill: Skill, action: str, spec: dict[str, Any], *, staged_keys: set[str] = frozenset()
) -> list[Issue]:
    """Rules a schema cannot express: batch size, light count, intervals, mandatory inputs, files that must exist."""
    issues: list[Issue] = []
    if action == "train":
        batch = _number(spec, "dataset.batch_size")
        if isinstance(batch, int) and batch <= 1:
            issues.append(
                Issue(
                    path="dataset.batch_size",
                    value=batch,
                    rule="train_batch_size",
                    message="training needs dataset.batch_size > 1 (BatchNorm cannot normalise one sample)",
                    hint="set batch_size=2 or more",
                )
            )
        epochs = _number(spec, "train.num_epochs")
        unit = _number(spec, "train.checkpoint_interval_unit") or "epoch"
        for key in ("train.checkpoint_interval", "train.validation_interval"):
            value = _number(spec, key)
            if key.endswith("checkpoint_interval") and unit != "epoch":
                continue
            if isinstance(value, int) and isinstance(epochs, int) and value > epochs:
                issues.append(
                    Issue(
                        path=key,
                        value=value,
                        rule="interval_le_num_epochs",
                        message=f"{key}={value} is larger than train.num_epochs={epochs}: it would never happen",
                        hint=f"set {key} to at most {epochs}",
                    )
                )
    num_input = _number(spec, "dataset.num_input")
    input_map = _number(spec, "dataset.input_map")
    if isinstance(num_input, int) and isinstance(input_map, dict) and num_input != len(input_map):
        issues.append(
            Issue(
                path="dataset.num_input",
                value=num_input,
                rule="num_input_matches_input_map",
                message=f"dataset.num_input={num_input} but dataset.input_map has {len(input_map)} light(s)",
                hint=f"set num_input={len(input_map)} or change dataset.input_map",
            )
        )
    issues.extend(_input_issues(skill, action, spec, staged_keys))
    return issues


def _data_source_of(skill: Skill, action: str, key: str) -> str | None:
    binding = skill.info.data_sources.get(action, {}).get(key)
    return binding.source if binding else None


def _input_issues(skill: Skill, action: str, spec: dict[str, Any], staged_keys: set[str]) -> list[Issue]:
    issues: list[Issue] = []
    info = skill.action(action)
    one_of = [k for k, f in info.inputs.items() if f.optional and k.rsplit(".", 1)[-1] in ("checkpoint", "trt_engine")]
    for key, io in info.inputs.items():
        value = ov.get_dotted(spec, key)
        empty = value in (None, "", [], ov.MISSING)
        if empty:
            if io.optional:
                continue
            source = _data_source_of(skill, action, key)
            hint = (
                f"pass --data {source}=<folder or s3:// prefix with images.tar.gz and dataset.csv>"
                if source
                else f"set {key}=<path>"
                + (" or chain from a parent job (--parent JOB_ID)" if "checkpoint" in key or "onnx" in key else "")
            )
            issues.append(
                Issue(
                    path=key,
                    value=None,
                    rule="mandatory_input",
                    message=f"{key} is required by '{action}'"
                    + (f" (data source '{source}' not given)" if source else ""),
                    hint=hint,
                )
            )
            continue
        if key in staged_keys:
            continue
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str) or item.startswith("s3://"):
                continue
            path = Path(item)
            exists = path.is_file() if io.type == "file" else path.is_dir()
            if not exists:
                source = _data_source_of(skill, action, key)
                if source:
                    hint = f"pass --data {source}=<folder or s3:// prefix>: it fills {key}"
                elif io.optional:
                    hint = f"give an existing {io.type}, or clear it ({key}='') to go without"
                else:
                    hint = f"give an existing {io.type}"
                message = f"{key}: {io.type} not found: {item}"
                issues.append(Issue(path=key, value=item, rule="file_exists", message=message, hint=hint))
    if one_of and all(ov.get_dotted(spec, k) in (None, "", ov.MISSING) for k in one_of):
        issues.append(
            Issue(
                path="|".join(one_of),
                value=None,
                rule="mandatory_input",
                message=f"'{action}' needs a model: one of {', '.join(one_of)}",
                hint="chain from a parent job with --parent JOB_ID, or set " + f"{one_of[0]}=<file>",
            )
        )
    return issues


def validate_spec(
    skill: Skill, action: str, spec: dict[str, Any], *, staged_keys: set[str] = frozenset()
) -> list[Issue]:
    """All issues of a spec: mandatory ``???`` values, the JSON Schema, then semantic rules."""
    missing = set(missing_values(spec))
    checked = ov.unflatten({k: (None if v == ov.MISSING else v) for k, v in ov.flatten(spec).items()})
    # flatten() keeps empty dicts as leaves; unflatten restores them, so the schema sees the same structure.
    semantic = semantic_issues(skill, action, checked, staged_keys=staged_keys)
    covered = {p for i in semantic for p in i.path.split("|")}
    one_of = any("|" in i.path for i in semantic)
    issues = [
        i
        for i in schema_issues(skill, action, checked, skip=missing)
        if not (i.rule == "mandatory_value" and (i.path in covered or (i.path == "<spec>" and one_of)))
    ]
    issues.extend(semantic)
    reported = {p for i in issues for p in i.path.split("|")}
    for key in sorted(missing - reported):
        source = _data_source_of(skill, action, key)
        issues.append(
            Issue(
                path=key,
                value=ov.MISSING,
                rule="mandatory_value",
                message=f"{key} has no value (the template marks it ???)",
                hint=f"pass --data {source}=<folder or s3://...>" if source else f"set {key}=<value>",
            )
        )
    return issues
