"""Validate a built spec: the action's JSON Schema (Draft 2020-12, with the skill's cross-key rules as the
``x-rules`` keyword), the action's inputs (given, existing), and ``???`` values; every issue at once."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tao_skill import overrides as ov
from tao_skill._suggest import did_you_mean
from tao_skill.errors import Issue
from tao_skill.rules import RULES_KEYWORD, check_rules
from tao_skill.schema_errors import issues_from_errors
from tao_skill.skill import Skill

__all__ = ["validate_spec", "schema_issues", "input_issues", "missing_values", "validator_for"]

_VALIDATORS: dict[int, Any] = {}


def validator_for(schema: dict[str, Any]) -> Any:
    """A Draft 2020-12 validator of ``schema`` that also applies its ``x-rules`` (cached per schema object)."""
    from jsonschema import Draft202012Validator, validators

    key = id(schema)
    cached = _VALIDATORS.get(key)
    if cached is None or cached.schema is not schema:
        cls = validators.extend(Draft202012Validator, {RULES_KEYWORD: check_rules})
        cached = cls(schema)
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
    """JSON Schema errors (cross-key rules included) as issues; unknown keys get did-you-mean hints (shorthand names
    included at the top)."""
    schema = skill.schema(action)
    errors = list(validator_for(schema).iter_errors(spec))

    def skipped(error: Any) -> bool:
        path = ".".join(str(p) for p in error.absolute_path)
        return path in skip or any(path.startswith(s + ".") for s in skip) or _is_requirement(error)

    def suggest(path: str, name: str, allowed: list[str]) -> str:
        prefix = f"{path}." if path else ""
        choices = [prefix + a for a in allowed] + (list(skill.info.spec_shorthand_keys) if not path else [])
        hint = did_you_mean(prefix + name, choices)
        return hint or (did_you_mean(name, ov.flatten(skill.template(action))) if not path else "")

    issues = issues_from_errors(errors, skip=skipped, suggest=suggest, context=f" for action '{action}'")
    for error in errors:  # "must be given" rules (allOf of required + not-null); reported once, with a hint
        path = ".".join(str(p) for p in error.absolute_path)
        if _is_requirement(error) and not (path in skip or any(path.startswith(s + ".") for s in skip)):
            issues.append(
                Issue(
                    path=path or "<spec>",
                    value=None,
                    rule="mandatory_value",
                    message=f"{path or 'spec'}: a value is required by '{action}'",
                    hint=f"set {path}=<value>" if path else "see the action's required inputs (tao-skill describe)",
                )
            )
    return issues


def _data_source_of(skill: Skill, action: str, key: str) -> str | None:
    binding = skill.info.data_sources.get(action, {}).get(key)
    return binding.source if binding else None


def _mandatory_input(skill: Skill, action: str, key: str) -> Issue:
    source = _data_source_of(skill, action, key)
    if source:
        hint = f"pass --data {source}=<folder or s3:// prefix with images.tar.gz and dataset.csv>"
    else:
        chained = skill.info.spec_params.get(action, {}).get(key) == "parent_model"
        hint = f"set {key}=<path>" + (" or chain from a parent job (--parent JOB_ID)" if chained else "")
    message = f"{key} is required by '{action}'" + (f" (data source '{source}' not given)" if source else "")
    return Issue(path=key, value=None, rule="mandatory_input", message=message, hint=hint)


def input_issues(skill: Skill, action: str, spec: dict[str, Any], staged_keys: set[str] = frozenset()) -> list[Issue]:
    """The action's inputs (skill_info): each one given unless optional, each local file or folder present, and one
    of each group of alternatives (``a|b`` in the schema manifest's required keys) given."""
    issues: list[Issue] = []
    info = skill.action(action)
    for key, io in info.inputs.items():
        value = ov.get_dotted(spec, key)
        if value in (None, "", [], ov.MISSING):
            if not io.optional:
                issues.append(_mandatory_input(skill, action, key))
            continue
        if key in staged_keys:
            continue
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str) or item.startswith("s3://"):
                continue
            path = Path(item)
            if not (path.is_file() if io.type == "file" else path.is_dir()):
                source = _data_source_of(skill, action, key)
                if source:
                    hint = f"pass --data {source}=<folder or s3:// prefix>: it fills {key}"
                elif io.optional:
                    hint = f"give an existing {io.type}, or clear it ({key}='') to go without"
                else:
                    hint = f"give an existing {io.type}"
                message = f"{key}: {io.type} not found: {item}"
                issues.append(Issue(path=key, value=item, rule="file_exists", message=message, hint=hint))
    for group in skill.alternatives(action):
        if all(ov.get_dotted(spec, k) in (None, "", ov.MISSING) for k in group):
            chained = any(skill.info.spec_params.get(action, {}).get(k) == "parent_model" for k in group)
            issues.append(
                Issue(
                    path="|".join(group),
                    value=None,
                    rule="mandatory_input",
                    message=f"'{action}' needs one of {', '.join(group)}",
                    hint=("chain from a parent job with --parent JOB_ID, or set " if chained else "set ")
                    + f"{group[0]}=<value>",
                )
            )
    return issues


def _non_finite(value: Any, path: str = "") -> list[tuple[str, float]]:
    """(dotted path, value) of every NaN or infinity in a spec, lists included."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(path, value)]
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in _non_finite(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value) for hit in _non_finite(v, f"{path}[{i}]")]
    return []


def validate_spec(
    skill: Skill, action: str, spec: dict[str, Any], *, staged_keys: set[str] = frozenset()
) -> list[Issue]:
    """All issues of a spec: mandatory ``???`` values, the JSON Schema and its rules, the action's inputs, and numbers
    that are not finite (NaN, infinity)."""
    missing = set(missing_values(spec))
    checked = ov.unflatten({k: (None if v == ov.MISSING else v) for k, v in ov.flatten(spec).items()})
    # flatten() keeps empty dicts as leaves; unflatten restores them, so the schema sees the same structure.
    inputs = input_issues(skill, action, checked, staged_keys=staged_keys)
    covered = {p for i in inputs for p in i.path.split("|")}
    one_of = any("|" in i.path for i in inputs)
    issues = [
        i
        for i in schema_issues(skill, action, checked, skip=missing)
        if not (i.rule == "mandatory_value" and (i.path in covered or (i.path == "<spec>" and one_of)))
    ]
    issues.extend(inputs)
    issues.extend(
        Issue(
            path=key,
            value=str(value),
            rule="finite_number",
            message=f"{key} is {value}: numbers in a spec must be finite (training on it would end in NaN weights)",
            hint=f"give {key} a finite value",
        )
        for key, value in _non_finite(checked)
    )
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
