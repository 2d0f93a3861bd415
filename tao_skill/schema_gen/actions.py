"""Which sections and keys each action reads.

A config module may declare ``ACTIONS`` (a sequence of :class:`~tao_skill.schema_gen.fields.ActionSpec`),
``COMMON_KEYS`` (top-level keys every action reads) and ``RULES`` (cross-key rules,
:class:`~tao_skill.schema_gen.fields.CrossKeyRule`), as the embedded trainer's config does. TAO Core's configs do
not, so the rule for them is: every top-level dataclass field named like a TAO task (:data:`TAO_TASKS`: ``train``,
``evaluate``, ``inference``, ``export``, ``gen_trt_engine``, ``prune``, ``retrain``, ``distill``, ``quantize``,
``dataset_convert``, ``convert``, ``visualize``, ...) is an action whose schema holds that section plus every
top-level field that is not a task section; the keys an action requires are the fields of its own section whose
value is omegaconf's MISSING (``???``). A config without any task section gets one ``experiment`` schema.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from tao_skill.schema_gen.fields import ActionSpec, CrossKeyRule
from tao_skill.schema_gen.introspect import FieldNode

#: TAO task sections, in the order they are emitted; the ones that train get the AutoML search space.
TAO_TASKS: tuple[str, ...] = (
    "train",
    "retrain",
    "distill",
    "evaluate",
    "inference",
    "export",
    "gen_trt_engine",
    "prune",
    "quantize",
    "calibrate",
    "dataset_convert",
    "convert",
    "visualize",
    "augment",
    "auto_label",
)
TRAINING_TASKS = frozenset({"train", "retrain", "distill"})


def declared_actions(config_source: str) -> tuple[tuple[ActionSpec, ...], tuple[str, ...]] | None:
    """``(ACTIONS, COMMON_KEYS)`` from the config's module, or None when it declares none."""
    module = importlib.import_module(config_source.partition(":")[0])
    actions = getattr(module, "ACTIONS", None)
    if not actions or not all(isinstance(a, ActionSpec) for a in actions):
        return None
    return tuple(actions), tuple(getattr(module, "COMMON_KEYS", ()))


def declared_rules(config_source: str) -> tuple[CrossKeyRule, ...]:
    """The config module's ``RULES`` (cross-key rules written into the schemas), or none."""
    module = importlib.import_module(config_source.partition(":")[0])
    rules = getattr(module, "RULES", ())
    return tuple(r for r in rules if isinstance(r, CrossKeyRule))


def derived_actions(tree: Sequence[FieldNode]) -> tuple[tuple[ActionSpec, ...], tuple[str, ...]]:
    """Actions of a config without an ``ACTIONS`` table (TAO Core), by the rule in the module docstring."""
    by_name = {node.name: node for node in tree}
    tasks = [name for name in TAO_TASKS if name in by_name and by_name[name].dataclass_type is not None]
    common_sections = tuple(n.name for n in tree if n.name not in tasks and n.dataclass_type is not None)
    common_keys = tuple(n.name for n in tree if n.dataclass_type is None)
    if not tasks:
        # No task section at all: one schema for the whole experiment.
        return (ActionSpec("experiment", sections=common_sections, description="Experiment spec."),), common_keys
    actions = []
    for name in tasks:
        section = by_name[name]
        required = tuple(sorted(n.path for n in section.walk() if n.is_leaf and n.missing))
        actions.append(
            ActionSpec(
                name,
                sections=(*common_sections, name),
                required=required,
                trains=name in TRAINING_TASKS,
                description=f"The {name} task.",
            )
        )
    return tuple(actions), common_keys
