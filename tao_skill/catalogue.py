"""The skill catalogue: which skills the bank holds and what each action takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tao_skill.errors import UserError
from tao_skill.home import skills_root
from tao_skill.models import SkillSummary
from tao_skill.skill import available_skills, load_skill
from tao_skill.spec_builder import SPEC_LAYERS

__all__ = ["list_skills", "describe"]


def list_skills() -> list[SkillSummary]:
    """Every skill in the bank: the model skills (with a skill_info.yaml: actions a job runs) and the workflow skills
    (a SKILL.md only, such as the AutoML one, which drives the model skills' train action)."""
    summaries = []
    for name in available_skills():
        try:
            summaries.append(load_skill(name).summary())
        except UserError:
            continue
    known = {s.name for s in summaries}
    root = skills_root()
    for doc in sorted(root.glob("*/SKILL.md")) if root.is_dir() else []:
        if doc.parent.name not in known:
            front = _front_matter(doc)
            summaries.append(
                SkillSummary(
                    name=str(front.get("name") or doc.parent.name),
                    kind="workflow",
                    network_arch="",
                    actions=[],
                    automl_enabled=False,
                    description=" ".join(str(front.get("description") or "").split()),
                )
            )
    return sorted(summaries, key=lambda s: (s.kind != "model", s.name))


def _front_matter(doc: Path) -> dict[str, Any]:
    """The YAML front matter of a SKILL.md (empty when it has none or it does not parse)."""
    text = doc.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return {}
    block = text[3:].split("\n---", 1)[0]
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


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
