"""Request -> plan: build and validate an action's spec without side effects (no download, no job record)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tao_skill import overrides as ov
from tao_skill import s3_files
from tao_skill.automl_policy import decide_automl
from tao_skill.errors import Issue, UserError
from tao_skill.launchers import launcher_class
from tao_skill.models import Plan
from tao_skill.parents import resolve_parent
from tao_skill.preflight import for_request
from tao_skill.request import Request, as_request
from tao_skill.skill import Skill, load_skill
from tao_skill.spec_builder import build_spec
from tao_skill.staging import absolute_uri
from tao_skill.store import JobStore, new_job_id
from tao_skill.validation import validate_spec

__all__ = ["plan", "SPEC_NAME"]

#: The spec file a job's results folder holds (secrets redacted).
SPEC_NAME = "spec.yaml"


def _data_source_issues(skill: Skill, action: str, data_sources: dict[str, str]) -> list[Issue]:
    """Cheap checks of local data source folders (s3:// is checked when staged)."""
    issues: list[Issue] = []
    bindings = skill.info.data_sources.get(action, {})
    for name, uri in data_sources.items():
        if not isinstance(uri, str) or not uri:
            issues.append(
                Issue(
                    path=f"data.{name}",
                    value=uri,
                    rule="data_source",
                    message=f"data source '{name}' is empty",
                    hint="give a folder or s3:// prefix",
                )
            )
            continue
        if uri.startswith("s3://"):
            continue
        base = Path(uri[len("file://") :] if uri.startswith("file://") else uri).expanduser()
        needs_csv = any(b.source == name and b.path == "dataset.csv" for b in bindings.values())
        if base.is_dir() and needs_csv and not (base / "dataset.csv").is_file():
            issues.append(
                Issue(
                    path=f"data.{name}",
                    value=uri,
                    rule="file_exists",
                    message=f"data source '{name}': {base / 'dataset.csv'} not found",
                    hint="the folder must hold dataset.csv next to images.tar.gz (or an images/ folder)",
                )
            )
        if not base.is_dir():
            issues.append(
                Issue(
                    path=f"data.{name}",
                    value=uri,
                    rule="file_exists",
                    message=f"data source '{name}': folder not found: {uri}",
                    hint="give a folder (or s3:// prefix) holding images.tar.gz and dataset.csv",
                )
            )
    return issues


def _dedupe(issues: list[Issue]) -> list[Issue]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for issue in issues:
        key = (issue.path, issue.rule)
        if key not in seen:
            seen.add(key)
            unique.append(issue)
    return unique


def plan(
    request: Request | str | None = None,
    action: str | None = None,
    *,
    home: str | None = None,
    **fields: Any,
) -> Plan:
    """Build and validate the spec of one action. Raises UserError with every issue found; records nothing.

    ``plan(Request(...))`` or ``plan(skill, action, **fields)`` with the fields of :class:`~tao_skill.request.Request`
    (overrides, override_files, data_sources, parent_job_id, checkpoint, automl_policy, automl_settings,
    request_text, backend). ``backend`` defaults to the skill's first backend (``runtime.backends``: the embedded
    trainer for Optical Inspection, TAO's container for a skill that has no embedded trainer).
    """
    req = as_request(request, action, fields)
    action, backend, checkpoint = req.action, req.backend, req.checkpoint
    sk = load_skill(req.skill)
    action_info = sk.action(action)
    backends = sk.info.runtime.backends
    backend = backend or (backends[0] if backends else "local")
    launcher = launcher_class(backend)
    if backends and backend not in backends:
        raise UserError.single(
            "backend",
            f"skill {sk.name} runs with {' or '.join(backends)}, not '{backend}'",
            rule="skill_backend",
            value=backend,
            hint=f"--backend {backends[0]}",
        )
    decision = decide_automl(
        req.automl_policy,
        req.request_text,
        action=action,
        automl_enabled=sk.info.automl_enabled,
        train_packaged=sk.has_schema("train") and sk.has_template("train"),
    )
    if not sk.has_schema(action) or not sk.has_template(action):
        missing = sk.schema_path(action) if not sk.has_schema(action) else sk.template_path(action)
        raise UserError.single(
            str(missing),
            f"skill {sk.name} has no {'schema' if not sk.has_schema(action) else 'spec template'} for '{action}' "
            f"({missing})"
            + (f"; {decision.reason}" if decision.enabled and not decision.runnable and action == "train" else ""),
            rule="skill_contract.missing_file",
            hint="generate the schemas and templates with `make schemas`",
        )
    items = dict(req.overrides)
    files = [(str(f), ov.load_override_file(f)) for f in req.override_files]
    sources = {k: absolute_uri(str(v)) for k, v in req.data_sources.items()}
    store = JobStore(home)
    issues: list[Issue] = []
    warnings: list[str] = []
    parent = None
    if req.parent_job_id:
        try:
            parent = resolve_parent(store, sk, action, req.parent_job_id, checkpoint)
            warnings += parent.warnings
        except UserError as exc:
            issues.extend(exc.issues)
    job_id = new_job_id(action)
    results_dir = launcher.results_dir_for(store, job_id)
    build = build_spec(
        sk,
        action,
        override_items=items,
        override_files=files,
        data_sources=sources,
        results_dir=results_dir,
        parent_job=parent.source if parent else None,
        parent_model=parent.info.model_path if parent else None,
    )
    staged_keys = {k for keys in build.staging.values() for k in keys}
    issues += build.issues + _data_source_issues(sk, action, sources)
    unresolved = {i.path for i in build.issues if i.rule == "interpolation"}  # reported once, as written
    issues += [i for i in validate_spec(sk, action, build.spec, staged_keys=staged_keys) if i.path not in unresolved]
    issues += launcher.adapt_spec(build.spec, sk, action)[1]
    if issues:
        raise UserError(f"{sk.name} {action}: {len(issues)} problem(s) in the request", _dedupe(issues))
    route = "automl" if decision.enabled and decision.runnable and action == "train" else "direct"
    preflight = for_request(
        action=action,
        route=route,
        launcher=launcher,
        spec=build.spec,
        data_sources=sources,
        parent_model=parent.info.model_path if parent else None,
    )
    result = Plan(
        skill=sk.name,
        action=action,
        route=route,
        automl=decision,
        spec=build.spec,
        provenance=build.provenance,
        data_sources=sources,
        parent=parent.info if parent else None,
        command=action_info.argv(s3_files.join(results_dir, SPEC_NAME)),
        backend=backend,
        results_dir=results_dir,
        job_id=job_id,
        warnings=warnings + build.warnings,
        preflight=preflight,
    )
    result._secrets = dict(build.secrets)
    result._staging = dict(build.staging)
    return result
