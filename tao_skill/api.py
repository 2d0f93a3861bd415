"""The Python API: plan, run, follow and chain jobs. The CLI and the MCP server call these functions.

``plan()`` is pure and fast (no download, no job record); ``run()`` = plan + stage + record + launch.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tao_skill import overrides as ov
from tao_skill.automl_policy import decide_automl
from tao_skill.errors import Issue, RuntimeFailure, UserError
from tao_skill.models import TERMINAL_STATES, CheckpointReport, Job, ParentInfo, Plan, SkillSummary
from tao_skill.skill import Skill, available_skills, load_skill
from tao_skill.spec_builder import REDACTED, build_spec, resolve_parent
from tao_skill.store import JobStore, new_job_id
from tao_skill.validation import validate_spec

__all__ = [
    "plan",
    "run",
    "status",
    "logs",
    "cancel",
    "jobs",
    "checkpoints",
    "wait",
    "list_skills",
    "describe",
    "launch_plan",
    "status_lines",
]

SPEC_NAME = "spec.yaml"
SECRET_SPEC_NAME = ".spec.run.yaml"


# ------------------------------------------------------------------------------------------------ plan
def _override_inputs(
    overrides: Iterable[str] | dict[str, Any] | None, override_files: Iterable[str]
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    items = ov.parse_assignments(overrides)
    files = [(str(f), ov.load_override_file(f)) for f in override_files or ()]
    return items, files


def _parent(
    store: JobStore, skill: Skill, action: str, parent_job_id: str, checkpoint: str
) -> tuple[Job, Job, ParentInfo, list[str]]:
    """(job asked for, job whose model is used, info, warnings)."""
    warnings: list[str] = []
    asked = store.get(parent_job_id)
    source = asked
    if asked.kind == "automl":
        child_id = asked.extra.get("best_child_job_id")
        if not child_id:
            raise UserError.single(
                "parent",
                f"AutoML job {asked.id} has no finished best trial yet",
                rule="parent_not_ready",
                value=asked.id,
                hint=f"wait for it (tao-skill status {asked.id}) or pass a trial's job id",
            )
        source = store.get(child_id)
    allowed = skill.info.runtime.parent_actions.get(action, [])
    if source.action not in allowed:
        raise UserError.single(
            "parent",
            f"a {action} job cannot take a {source.action} job ({source.id}) as its parent",
            rule="parent_action",
            value=source.id,
            hint=f"{action} chains from: {', '.join(allowed) or 'nothing (run it without --parent)'}",
        )
    if source.skill != skill.name:
        raise UserError.single(
            "parent",
            f"parent {source.id} belongs to skill {source.skill}, not {skill.name}",
            rule="parent_skill",
            value=source.id,
        )
    if source.state in ("failed", "cancelled"):
        warnings.append(f"parent {source.id} is {source.state}; using what it left")
    elif source.state in ("queued", "running"):
        warnings.append(f"parent {source.id} is still {source.state}; using what it has written so far")
    model_path, reason, selection = resolve_parent(source, asked, checkpoint, skill)
    if model_path is None or (not model_path.startswith("s3://") and not Path(model_path).exists()):
        raise UserError.single(
            "parent",
            f"{source.action} job {source.id} ({source.state}) left no model file ({model_path or 'none recorded'})",
            rule="parent_model_missing",
            value=source.id,
            hint=f"check it with `tao-skill status {source.id}` and `tao-skill logs {source.id}`",
        )
    info = ParentInfo(job_id=asked.id, action=source.action, model_path=model_path, selection=selection, reason=reason)
    return asked, source, info, warnings


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


def plan(
    skill: str,
    action: str,
    *,
    overrides: Iterable[str] | dict[str, Any] | None = None,
    override_files: Iterable[str] = (),
    data_sources: dict[str, str] | None = None,
    parent_job_id: str | None = None,
    checkpoint: str = "best",
    automl_policy: str | bool | None = None,
    request_text: str | None = None,
    backend: str = "local",
    home: str | None = None,
) -> Plan:
    """Build and validate the spec of one action. Raises UserError with every issue found; records nothing."""
    from tao_skill.launchers import BACKENDS

    sk = load_skill(skill)
    action_info = sk.action(action)
    if backend not in BACKENDS:
        raise UserError.single(
            "backend", f"unknown backend '{backend}'", rule="enum", value=backend, hint=f"one of: {', '.join(BACKENDS)}"
        )
    decision = decide_automl(
        automl_policy,
        request_text,
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
    items, files = _override_inputs(overrides, override_files)
    sources = {k: str(v) for k, v in (data_sources or {}).items()}
    store = JobStore(home)
    issues: list[Issue] = []
    warnings: list[str] = []
    parent_job = parent_info = None
    if parent_job_id:
        try:
            asked, parent_job, parent_info, parent_warnings = _parent(store, sk, action, parent_job_id, checkpoint)
            warnings += parent_warnings
        except UserError as exc:
            issues.extend(exc.issues)
    job_id = new_job_id(action)
    results_dir = str(store.results_dir(job_id))
    build = build_spec(
        sk,
        action,
        override_items=items,
        override_files=files,
        data_sources=sources,
        results_dir=results_dir,
        parent_job=parent_job,
        parent_model=parent_info.model_path if parent_info else None,
    )
    staged_keys = {k for keys in build.staging.values() for k in keys}
    issues += build.issues + _data_source_issues(sk, action, sources)
    issues += validate_spec(sk, action, build.spec, staged_keys=staged_keys)
    if backend == "docker":
        from tao_skill.tao_compat import container_spec

        _, compat_issues, _ = container_spec(build.spec, sk.schema(action))
        issues += compat_issues
    if issues:
        raise UserError(f"{sk.name} {action}: {len(issues)} problem(s) in the request", _dedupe(issues))
    route = "automl" if decision.enabled and decision.runnable and action == "train" else "direct"
    result = Plan(
        skill=sk.name,
        action=action,
        route=route,
        automl=decision,
        spec=build.spec,
        provenance=build.provenance,
        data_sources=sources,
        parent=parent_info,
        command=action_info.argv(str(Path(results_dir) / SPEC_NAME)),
        backend=backend,
        results_dir=results_dir,
        job_id=job_id,
        warnings=warnings + build.warnings,
    )
    result._secrets = dict(build.secrets)
    result._staging = dict(build.staging)
    return result


def _dedupe(issues: list[Issue]) -> list[Issue]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for issue in issues:
        key = (issue.path, issue.rule)
        if key not in seen:
            seen.add(key)
            unique.append(issue)
    return unique


# ------------------------------------------------------------------------------------------------ run
def _stage(plan_: Plan, sk: Skill, home: str | None) -> dict[str, Any]:
    """Stage every data source of the plan; returns the spec with local paths."""
    from tao_skill.staging import stage_source

    spec = json.loads(json.dumps(plan_.spec))
    bindings = sk.info.data_sources.get(plan_.action, {})
    for source, keys in plan_._staging.items():
        need_csv = any(bindings[k].path == "dataset.csv" for k in keys if k in bindings)
        staged = stage_source(
            source,
            plan_.data_sources[source],
            home=home,
            need_csv=need_csv,
            input_map=ov.get_dotted(spec, "dataset.input_map"),
            image_ext=ov.get_dotted(spec, "dataset.image_ext") or "",
        )
        for key in keys:
            binding = bindings[key]
            if binding.path == "dataset.csv":
                value: Any = str(staged.csv_path)
            else:
                value = str(staged.images_dir)
            ov.set_dotted(spec, key, [value] if binding.as_list else value)
    return spec


def _with_secrets(spec: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    full = json.loads(json.dumps(spec))
    for key, value in secrets.items():
        ov.set_dotted(full, key, value)
    return full


def _redacted(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as stored and shown: secret placeholders become null."""
    flat = ov.flatten(spec)
    return ov.unflatten({k: (None if v == REDACTED else v) for k, v in flat.items()})


def _write_yaml(path: Path, data: dict[str, Any], mode: int = 0o644) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, sort_keys=False, default_flow_style=False)
    os.replace(tmp, path)


def _image_kind(sk: Skill, action: str, spec: dict[str, Any]) -> str:
    kind = sk.info.runtime.action_images.get(action, "pyt")
    section = spec.get(action) or {}
    if action in ("evaluate", "inference") and (
        section.get("trt_engine") or str(section.get("checkpoint") or "").endswith(".engine")
    ):
        kind = "deploy"
    return kind


def _docker_mounts(spec: dict[str, Any], sk: Skill, action: str, store: JobStore) -> list[dict[str, str]]:
    from tao_skill.home import data_cache_root

    mounts = [{"path": str(store.results_root), "mode": "rw"}, {"path": str(data_cache_root(store.home)), "mode": "ro"}]
    for key, io in sk.action(action).inputs.items():
        value = ov.get_dotted(spec, key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item and not item.startswith("s3://"):
                path = Path(item).resolve()
                folder = path if io.type == "folder" else path.parent
                if not any(str(folder).startswith(m["path"]) for m in mounts):
                    mounts.append({"path": str(folder), "mode": "ro"})
    return mounts


def launch_plan(
    plan_: Plan,
    *,
    home: str | None = None,
    kind: str = "job",
    group_id: str | None = None,
    extra: dict[str, Any] | None = None,
    launcher: Any = None,
) -> Job:
    """Stage, record and launch a validated direct plan (also used by the AutoML engine for trials)."""
    from tao_skill.launchers import get_launcher

    sk = load_skill(plan_.skill)
    store = JobStore(home)
    spec = _stage(plan_, sk, home)
    dropped: list[str] = []
    if plan_.backend == "docker":
        from tao_skill.tao_compat import container_spec

        spec, issues, dropped = container_spec(spec, sk.schema(plan_.action))
        if issues:
            raise UserError(f"{sk.name} {plan_.action}: the spec does not fit TAO's container", issues)
    runner = launcher or get_launcher(plan_.backend)
    runner.check(plan_.action)
    job_extra: dict[str, Any] = {
        "provenance": plan_.provenance,
        "automl": plan_.automl.model_dump(),
        "parent": plan_.parent.model_dump() if plan_.parent else None,
        "command": plan_.command,
        "data_sources": plan_.data_sources,
        "warnings": plan_.warnings,
        "dropped_extension_keys": dropped,
    }
    if plan_.backend == "docker":
        image_kind = _image_kind(sk, plan_.action, spec)
        job_extra["image_kind"] = image_kind
        job_extra["image"] = sk.info.runtime.container_images.get(image_kind, sk.info.container_image)
        job_extra["mounts"] = _docker_mounts(spec, sk, plan_.action, store)
    job_extra.update(extra or {})
    stored_spec = _redacted(spec)
    job = store.create(
        job_id=plan_.job_id or None,
        skill=plan_.skill,
        action=plan_.action,
        spec=stored_spec,
        backend=plan_.backend,
        kind=kind,
        parent_id=plan_.parent.job_id if plan_.parent else None,
        group_id=group_id,
        results_dir=plan_.results_dir or None,
        extra=job_extra,
    )
    results = Path(job.results_dir)
    try:
        results.mkdir(parents=True, exist_ok=True)
        spec_path = results / SPEC_NAME
        _write_yaml(spec_path, stored_spec)
        command = list(plan_.command)
        cleanup: list[Path] = []
        if plan_._secrets:
            secret_path = results / SECRET_SPEC_NAME
            _write_yaml(secret_path, _with_secrets(spec, plan_._secrets), mode=0o600)
            command = [str(secret_path) if part == str(spec_path) else part for part in command]
            cleanup.append(secret_path)
        if plan_.backend == "docker" and hasattr(runner, "images"):
            runner.images = dict(sk.info.runtime.container_images)
        handle = runner.launch(job, spec_path, command, cleanup=cleanup)
    except UserError as exc:
        store.update(job.id, state="failed", ended_at=time.time(), extra={"error": exc.message})
        raise
    except Exception as exc:
        store.update(job.id, state="failed", ended_at=time.time(), extra={"error": str(exc)})
        raise RuntimeFailure(f"could not launch job {job.id}: {exc}") from exc
    return store.update(
        job.id, state="running", started_at=time.time(), pid=handle.pid, container_id=handle.container_id
    )


def run(
    skill: str,
    action: str,
    *,
    overrides: Iterable[str] | dict[str, Any] | None = None,
    override_files: Iterable[str] = (),
    data_sources: dict[str, str] | None = None,
    parent_job_id: str | None = None,
    checkpoint: str = "best",
    automl_policy: str | bool | None = None,
    request_text: str | None = None,
    backend: str = "local",
    home: str | None = None,
    wait: bool = False,
    timeout: float | None = None,
    automl_settings: dict[str, Any] | None = None,
) -> Job:
    """Plan, stage the data, record the job and launch it (detached unless ``wait``).

    ``automl_settings`` (algorithm, max_trials, max_epochs, metric, ...) apply when the plan takes the AutoML route.
    """
    the_plan = plan(
        skill,
        action,
        overrides=overrides,
        override_files=override_files,
        data_sources=data_sources,
        parent_job_id=parent_job_id,
        checkpoint=checkpoint,
        automl_policy=automl_policy,
        request_text=request_text,
        backend=backend,
        home=home,
    )
    if the_plan.route == "automl":
        try:
            from tao_skill import automl
        except ImportError:
            raise UserError.single(
                "automl_policy",
                "AutoML is enabled but the AutoML engine is not installed; say 'plain training' or automl_policy=off "
                "to train directly",
                rule="automl_unavailable",
                hint="--automl-policy off",
            ) from None
        job = automl.launch(the_plan, JobStore(home), settings=automl_settings)
    else:
        job = launch_plan(the_plan, home=home)
    if wait:
        return _wait_job(job.id, timeout=timeout, home=home)
    return job


# ------------------------------------------------------------------------------------------------ follow
def _launcher_for(job: Job) -> Any:
    from tao_skill.launchers import get_launcher

    return get_launcher(job.backend)


def status_file(job: Job) -> Path | None:
    """The job's status.json (the trainer writes it in ``<results>/<action>`` or ``<results>``)."""
    for folder in (Path(job.results_dir) / job.action, Path(job.results_dir)):
        if (folder / "status.json").is_file():
            return folder / "status.json"
    return None


def status_lines(job: Job) -> list[dict[str, Any]]:
    """The job's status.json records (bad lines skipped)."""
    path = status_file(job)
    if path is None:
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def status(job_id: str, home: str | None = None) -> Job:
    """The job, with its state refreshed from its launcher (exit code) and status.json (progress, KPIs)."""
    store = JobStore(home)
    job = store.get(job_id)
    if job.kind == "automl":
        from tao_skill.automl import refresh

        return refresh(job, store)
    if job.state in TERMINAL_STATES or (job.pid is None and job.container_id is None):
        return job
    result = _launcher_for(job).poll(job)
    fields: dict[str, Any] = {}
    records = status_lines(job)
    progress: dict[str, Any] = {}
    if records:
        last = records[-1]
        progress = {k: last.get(k) for k in ("status", "message", "epoch", "max_epoch", "eta") if k in last}
        kpis = [r["kpi"] for r in records if isinstance(r.get("kpi"), dict)]
        if kpis:
            progress["kpi"] = kpis[-1]
    if progress:
        fields["extra"] = {"progress": progress}
    if result.state != job.state:
        fields["state"] = result.state
    if result.state in TERMINAL_STATES:
        fields["exit_code"] = result.exit_code
        fields["ended_at"] = result.ended_at or time.time()
        if result.message:
            fields.setdefault("extra", {})["error"] = result.message
    return store.update(job_id, **fields) if fields else job


def logs(job_id: str, tail: int | None = None, home: str | None = None) -> str:
    """The job's captured output (the last ``tail`` lines when given)."""
    job = status(job_id, home=home)
    path = Path(job.results_dir) / "job.log"
    if not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace")
    if tail is not None:
        text = "\n".join(text.splitlines()[-tail:]) + ("\n" if text.endswith("\n") else "")
    return text


def cancel(job_id: str, home: str | None = None) -> Job:
    """Stop a running job (SIGTERM to its process group, or container stop)."""
    store = JobStore(home)
    job = status(job_id, home=home)
    if job.state in TERMINAL_STATES:
        return job
    if job.kind == "automl":
        try:
            from tao_skill import automl

            cancel_fn = getattr(automl, "cancel", None)
        except ImportError:
            cancel_fn = None
        if cancel_fn is not None:
            return cancel_fn(job, store)
    job = store.update(job_id, extra={"cancel_requested": True})
    _launcher_for(job).cancel(job)
    return job


def wait(job_id: str, timeout: float | None = None, home: str | None = None, poll_seconds: float = 0.5) -> Job:
    """Block until the job ends (or ``timeout`` seconds pass); returns its last state."""
    return _wait_job(job_id, timeout=timeout, home=home, poll_seconds=poll_seconds)


def _wait_job(job_id: str, timeout: float | None = None, home: str | None = None, poll_seconds: float = 0.5) -> Job:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = status(job_id, home=home)
        if job.state in TERMINAL_STATES:
            return job
        if deadline is not None and time.monotonic() >= deadline:
            return job
        time.sleep(poll_seconds)


def jobs(home: str | None = None, **filters: Any) -> list[Job]:
    """Recorded jobs, newest first; filters are equality on job fields (``state``, ``action``, ``group_id``...)."""
    limit = filters.pop("limit", None)
    return JobStore(home).list(limit=limit, **filters)


def checkpoints(job_id: str, select: str = "best", home: str | None = None) -> CheckpointReport:
    """Every checkpoint of a train job and the one ``select`` picks, with the reason."""
    from tao_skill.checkpoints import resolve

    store = JobStore(home)
    job = store.get(job_id)
    if job.kind == "automl":
        child = job.extra.get("best_child_job_id")
        if not child:
            raise UserError.single("job_id", f"AutoML job {job_id} has no best trial yet", rule="parent_not_ready")
        job = store.get(child)
    if job.action != "train":
        raise UserError.single(
            "job_id",
            f"job {job_id} is a {job.action} job; checkpoints belong to train jobs",
            rule="parent_action",
            value=job_id,
        )
    sk = load_skill(job.skill)
    monitoring = sk.info.runtime.monitoring
    chosen = resolve(job.results_dir, select, monitoring.metric, monitoring.mode)
    return CheckpointReport(
        job_id=job.id,
        results_dir=job.results_dir,
        select=select,
        metric=monitoring.metric,
        mode=monitoring.mode,
        chosen=chosen,
        candidates=chosen.candidates,
    )


# ------------------------------------------------------------------------------------------------ skills
def list_skills() -> list[SkillSummary]:
    """Every skill in the bank."""
    summaries = []
    for name in available_skills():
        try:
            summaries.append(load_skill(name).summary())
        except UserError:
            continue
    return summaries


def describe(skill: str, action: str | None = None) -> dict[str, Any]:
    """What a skill (or one action) takes: data sources, spec params, shorthands, inputs, schema and template."""
    sk = load_skill(skill)
    info = sk.info
    if action is None:
        return {
            **sk.summary().model_dump(),
            "container_image": info.container_image,
            "container_images": info.runtime.container_images,
            "monitoring": info.runtime.monitoring.model_dump(),
            "spec_shorthand_keys": info.spec_shorthand_keys,
            "parent_actions": info.runtime.parent_actions,
            "data_sources": {a: sorted({b.source for b in bs.values()}) for a, bs in info.data_sources.items()},
        }
    act = sk.action(action)
    result: dict[str, Any] = {
        "skill": sk.name,
        "action": action,
        "command": act.command,
        "inputs": {k: v.model_dump() for k, v in act.inputs.items()},
        "outputs": {k: v.model_dump() for k, v in act.outputs.items()},
        "data_sources": {k: v.model_dump() for k, v in info.data_sources.get(action, {}).items()},
        "spec_params": info.spec_params.get(action, {}),
        "parent_actions": info.runtime.parent_actions.get(action, []),
        "spec_shorthand_keys": info.spec_shorthand_keys,
        "schema_path": str(sk.schema_path(action)),
        "template_path": str(sk.template_path(action)),
        "schema_ready": sk.has_schema(action),
    }
    if sk.has_template(action):
        result["template"] = sk.template(action)
    return result
