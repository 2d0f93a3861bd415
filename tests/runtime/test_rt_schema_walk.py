"""Schema walking follows local $ref and anyOf, so generated schemas with $defs work the same as inline ones."""

from __future__ import annotations

from tao_skill._schema_walk import walk
from tao_skill.spec_builder import map_keys
from tao_skill.tao_compat import container_spec, extension_keys

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "train": {"$ref": "#/$defs/Train"},
        "dataset": {"anyOf": [{"$ref": "#/$defs/Dataset"}, {"type": "null"}]},
    },
    "$defs": {
        "Train": {
            "type": "object",
            "properties": {
                "num_epochs": {"type": "integer", "default": 10},
                "target_recall": {"type": "number", "default": 0.99, "x-tao-extension": True},
            },
        },
        "Dataset": {"type": "object", "properties": {"input_map": {"type": "object", "default": {"A": 0}}}},
    },
}


def test_walk_follows_refs() -> None:
    keys = dict(walk(SCHEMA))
    assert set(keys) == {"train", "train.num_epochs", "train.target_recall", "dataset", "dataset.input_map"}
    assert keys["train.num_epochs"]["default"] == 10
    assert map_keys(SCHEMA) == {"dataset.input_map"}
    assert extension_keys(SCHEMA) == {"train.target_recall": 0.99}


def test_container_spec_on_ref_schema() -> None:
    spec, issues, dropped = container_spec({"train": {"num_epochs": 2, "target_recall": 0.99}}, SCHEMA)
    assert spec == {"train": {"num_epochs": 2}} and dropped == ["train.target_recall"] and not issues
    _, issues, _ = container_spec({"train": {"target_recall": 0.5}}, SCHEMA)
    assert issues[0].path == "train.target_recall"
