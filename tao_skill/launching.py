"""Plan -> job: stage the data, record the job, write its spec and hand it to a launcher."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tao_skill import overrides as ov
from tao_skill import s3_files
from tao_skill._files import atomic_write
from tao_skill.errors import RuntimeFailure, UserError
from tao_skill.launchers import Launcher, get_launcher
from tao_skill.models import Job, Plan, PlanRecord
from tao_skill.planning import SPEC_NAME, plan
from tao_skill.preflight import install_command, require
from tao_skill.request import Request, as_request
from tao_skill.secrets import redacted, with_secrets
from tao_skill.skill import Skill, load_skill
from tao_skill.store import JobStore

__all__ = ["run", "launch_plan", "stage_sources", "fetch_inputs", "SECRET_SPEC_NAME"]

#: The private spec (mode 0600) a job runs with when its spec holds a secret; deleted when the job ends.
SECRET_SPEC_NAME = ".spec.run.yaml"


def _stage(plan_: Plan, sk: Skill, home: str | None) -> dict[str, Any]:
    """Stage every data source of the plan; returns the spec with local paths."""
    return stage_sources(plan_.spec, sk, plan_.action, plan_.data_sources, plan_._staging, home)


def stage_sources(
    spec: dict[str, Any],
    sk: Skill,
    action: str,
    data_sources: dict[str, str],
    staging: dict[str, list[str]],
    home: str | None,
) -> dict[str, Any]:
    """A copy of ``spec`` whose data-source keys (``staging``: source -> dotted keys) point at the staged files;
    run where the job runs (here, or on a cluster's worker node)."""
    from tao_skill.staging import stage_source

    spec = json.loads(json.dumps(spec))
    bindings = sk.info.data_sources.get(action, {})
    layout = sk.info.runtime.dataset
    for source, keys in staging.items():
        need_csv = any(bindings[k].path == "dataset.csv" for k in keys if k in bindings)
        staged = stage_source(
            source,
            data_sources[source],
            home=home,
            need_csv=need_csv,
            layout=layout,
            lights=ov.get_dotted(spec, layout.lights_key) if layout.lights_key else None,
            image_ext=(ov.get_dotted(spec, layout.image_ext_key) if layout.image_ext_key else None) or "",
        )
        for key in keys:
            binding = bindings[key]
            if binding.path == "dataset.csv":
                value: Any = str(staged.csv_path)
            else:
                value = str(staged.images_dir)
            ov.set_dotted(spec, key, [value] if binding.as_list else value)
    return spec


def fetch_inputs(
    spec: dict[str, Any], inputs: dict[str, str], cache: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    """Download every ``s3://`` file input (``inputs``: dotted key -> file or folder), e.g. a parent's checkpoint
    that a cluster job left on S3, into ``cache`` (by URI and ETag) where the job runs; the spec names the copy."""
    for key, kind in inputs.items():
        value = ov.get_dotted(spec, key)
        if kind != "file" or not s3_files.is_s3(value):
            continue
        info = s3_files.head(value)
        if info is None:
            raise UserError.single(key, f"{key}: {value} does not exist", rule="file_exists", value=value)
        digest = hashlib.sha256(f"{value}\n{info['etag']}\n{info['size']}".encode()).hexdigest()[:20]
        target = cache / digest / value.rsplit("/", 1)[-1]
        if not target.is_file():
            say(f"[tao-skill] downloading {key} from {value}")
            s3_files.download(value, target)
        ov.set_dotted(spec, key, str(target))
    return spec


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _write_yaml(path: Path, data: dict[str, Any], mode: int = 0o644) -> None:
    atomic_write(path, yaml.safe_dump(data, sort_keys=False, default_flow_style=False), permissions=mode)


def launch_plan(
    plan_: Plan,
    *,
    home: str | None = None,
    kind: str = "job",
    group_id: str | None = None,
    launcher: Launcher | None = None,
    **parts: Any,
) -> Job:
    """Stage, record and launch a validated direct plan (also used by the AutoML engine for trials, with
    ``kind="trial"`` and its ``trial`` record in ``parts``)."""
    sk = load_skill(plan_.skill)
    store = JobStore(home)
    runner = launcher or get_launcher(plan_.backend)
    if runner.stages_on_worker:
        spec = json.loads(json.dumps(plan_.spec))
    else:
        from tao_skill.home import data_cache_root

        inputs = {k: io.type for k, io in sk.action(plan_.action).inputs.items()}
        spec = fetch_inputs(_stage(plan_, sk, home), inputs, data_cache_root(home) / "inputs", _say)
    spec, issues, dropped = runner.adapt_spec(spec, sk, plan_.action)
    if issues:
        raise UserError(f"{sk.name} {plan_.action}: the spec does not fit the {plan_.backend} backend", issues)
    runner.check(plan_.action)
    record = PlanRecord(
        provenance=plan_.provenance,
        automl=plan_.automl,
        parent=plan_.parent,
        command=plan_.command,
        data_sources=plan_.data_sources,
        warnings=plan_.warnings,
        dropped_extension_keys=dropped,
    )
    prepared = runner.prepare(sk, plan_.action, spec, store)
    if prepared is not None:
        parts[type(prepared).__name__.removesuffix("Record").lower()] = prepared  # container or cluster
    stored_spec = redacted(spec)
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
        plan=record,
        **parts,
    )
    results = runner.job_folder(job, store)
    try:
        results.mkdir(parents=True, exist_ok=True)
        spec_path = results / SPEC_NAME
        _write_yaml(spec_path, stored_spec)
        command = list(plan_.command)
        cleanup: list[Path] = []
        if plan_._secrets:
            secret_path = results / SECRET_SPEC_NAME
            _write_yaml(secret_path, with_secrets(spec, plan_._secrets), mode=0o600)
            command = [str(secret_path) if part == str(spec_path) else part for part in command]
            cleanup.append(secret_path)
        handle = runner.launch(job, spec_path, command, cleanup=cleanup)
    except UserError as exc:
        store.update(job.id, state="failed", ended_at=time.time(), error=exc.message)
        raise
    except Exception as exc:
        store.update(job.id, state="failed", ended_at=time.time(), error=str(exc))
        raise RuntimeFailure(f"could not launch job {job.id}: {exc}") from exc
    return store.update(
        job.id, state="running", started_at=time.time(), pid=handle.pid, container_id=handle.container_id
    )


def run(
    request: Request | str | None = None,
    action: str | None = None,
    *,
    home: str | None = None,
    wait: bool = False,
    timeout: float | None = None,
    **fields: Any,
) -> Job:
    """Plan, stage the data, record the job and launch it (detached unless ``wait``).

    Takes what :func:`~tao_skill.planning.plan` takes; ``automl_settings`` (algorithm, max_trials, max_epochs,
    metric, ...) configure the study when the plan takes the AutoML route. A request that cannot run here
    (preflight) is refused before anything is recorded.
    """
    req = as_request(request, action, fields)
    the_plan = plan(req, home=home)
    require(the_plan.preflight, f"{the_plan.skill} {the_plan.action}")
    if the_plan.route == "automl":
        try:
            from tao_skill import automl
        except ImportError:
            raise UserError.single(
                "automl_policy",
                "AutoML is enabled but the AutoML engine is not installed; say 'plain training' or automl_policy=off "
                "to train directly",
                rule="automl_unavailable",
                hint=f"{install_command(['automl'])}, or --automl-policy off",
            ) from None
        job = automl.launch(the_plan, JobStore(home), settings=req.automl_settings)
    else:
        job = launch_plan(the_plan, home=home)
    if wait:
        from tao_skill.following import wait as wait_for

        return wait_for(job.id, timeout=timeout, home=home)
    return job
