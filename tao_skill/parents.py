"""Chaining: the job a plan names as its parent, the job whose model it uses, and that model file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tao_skill import overrides as ov
from tao_skill import s3_files
from tao_skill.checkpoints import resolve_by_contract
from tao_skill.errors import UserError
from tao_skill.job_kinds import kind_of
from tao_skill.models import Job, ParentInfo
from tao_skill.skill import Skill
from tao_skill.store import JobStore

__all__ = ["ResolvedParent", "resolve_parent", "parent_model"]


@dataclass
class ResolvedParent:
    """The job asked for, the job whose model is used (an AutoML job's best trial), what was taken and why."""

    asked: Job
    source: Job
    info: ParentInfo
    warnings: list[str] = field(default_factory=list)


def resolve_parent(store: JobStore, skill: Skill, action: str, parent_job_id: str, checkpoint: str) -> ResolvedParent:
    """Check that ``action`` may chain from the job and find the model file it leaves (a UserError otherwise)."""
    warnings: list[str] = []
    asked = store.get(parent_job_id)
    source = kind_of(asked).model_job(asked, store)
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
    model_path, reason, selection = parent_model(source, asked, checkpoint, skill)
    if model_path is None or (not model_path.startswith("s3://") and not Path(model_path).exists()):
        raise UserError.single(
            "parent",
            f"{source.action} job {source.id} ({source.state}) left no model file ({model_path or 'none recorded'})",
            rule="parent_model_missing",
            value=source.id,
            hint=f"check it with `tao-skill status {source.id}` and `tao-skill logs {source.id}`",
        )
    info = ParentInfo(job_id=asked.id, action=source.action, model_path=model_path, selection=selection, reason=reason)
    return ResolvedParent(asked=asked, source=source, info=info, warnings=warnings)


def parent_model(parent_job: Job, parent_chain: Job, select: str, skill: Skill) -> tuple[str | None, str, str | None]:
    """(model file, reason, selection) a parent job leaves. An action that declares a file output (an ONNX file, an
    engine) leaves that file; otherwise (training) the checkpoint ``select`` picks by the skill's ranking.
    ``parent_chain`` is the job asked for (an AutoML job when ``parent_job`` is its best trial)."""
    runtime_info = skill.info.runtime
    action = parent_job.action
    outputs = [k for k, io in skill.action(action).outputs.items() if io.type == "file"]
    if not outputs:
        sel = resolve_by_contract(parent_job.results_dir, select, runtime_info)
        via = (
            f" (best trial {parent_job.id} of AutoML job {parent_chain.id})" if parent_chain.id != parent_job.id else ""
        )
        return sel.path, sel.reason + via, select
    spec_key = outputs[0]
    path = ov.get_dotted(parent_job.spec, spec_key)
    default = runtime_info.artifacts.get(action, "")
    if not path and default:
        path = s3_files.join(parent_job.results_dir, default)
    return path, f"{spec_key} of {action} job {parent_job.id}", None
