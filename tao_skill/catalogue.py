"""The skill catalogue: which skills the bank holds and what each action takes."""

from __future__ import annotations

from typing import Any

from tao_skill.errors import UserError
from tao_skill.models import SkillSummary
from tao_skill.skill import available_skills, load_skill
from tao_skill.spec_builder import SPEC_LAYERS

__all__ = ["list_skills", "describe"]


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
            "ranking": info.runtime.ranking.model_dump() if info.runtime.ranking else None,
            "backends": info.runtime.backends,
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
        "spec_layers": SPEC_LAYERS,
        "placeholders": f"'???' (or '<required>') is an error only on keys {action} reads; elsewhere the key takes "
        "its schema default. '${a.b}' references are resolved (OmegaConf, as TAO) before validation.",
    }
    if sk.has_template(action):
        result["template"] = sk.template(action)
    return result
