"""The TAO Deploy spec templates (gen_trt_engine, evaluate, inference with a TensorRT engine) are valid against the
generated JSON Schemas as they are, and load in the trainer's strict spec loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[2]
OI = REPO / "skills" / "tao-train-optical-inspection"
DEPLOY_ACTIONS = ("gen_trt_engine", "evaluate", "inference")


def _template(action: str) -> dict[str, Any]:
    return yaml.safe_load((OI / "references" / f"spec_template_deploy_{action}.yaml").read_text(encoding="utf-8"))


def _schema(action: str) -> dict[str, Any]:
    return json.loads((OI / "schemas" / f"{action}.schema.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("action", DEPLOY_ACTIONS)
def test_deploy_template_is_valid_against_the_action_schema(action: str) -> None:
    data = _template(action)
    errors = sorted(Draft202012Validator(_schema(action)).iter_errors(data), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors)
    assert data[action]["trt_engine"].endswith(".engine")
    if action != "gen_trt_engine":
        assert len(data["dataset"]["input_map"]) == data["dataset"]["num_input"]


@pytest.mark.parametrize("action", DEPLOY_ACTIONS)
def test_deploy_template_loads_in_the_trainer(action: str) -> None:
    from optical_inspection.spec import SpecError, load_spec

    path = OI / "references" / f"spec_template_deploy_{action}.yaml"
    cfg = load_spec(path, action=action)
    if action == "gen_trt_engine":
        trt = cfg.gen_trt_engine.tensorrt
        assert trt.data_type == "fp16" and trt.min_batch_size <= trt.opt_batch_size <= trt.max_batch_size
    else:
        batch = getattr(cfg, action).batch_size
        profile = _template("gen_trt_engine")["gen_trt_engine"]["tensorrt"]
        assert profile["min_batch_size"] <= batch <= profile["max_batch_size"]
    with pytest.raises(SpecError, match="trt_engin"):
        load_spec(path, [f"{action}.trt_engin=x.engine"], action=action)


def test_schema_check_rejects_an_int8_engine() -> None:
    """The validity check can fail: INT8 is not an Optical Inspection engine precision."""
    data = _template("gen_trt_engine")
    data["gen_trt_engine"]["tensorrt"]["data_type"] = "int8"
    errors = list(Draft202012Validator(_schema("gen_trt_engine")).iter_errors(data))
    assert [list(e.path) for e in errors] == [["gen_trt_engine", "tensorrt", "data_type"]]
