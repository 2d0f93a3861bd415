"""The TAO Deploy spec templates (gen_trt_engine, evaluate, inference with a TensorRT engine) are valid against the
generated JSON Schemas and load in the trainer's strict spec loader once their ``???`` values are filled in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[2]
OI = REPO / "skills" / "tao-train-optical-inspection"
DEPLOY_ACTIONS = ("gen_trt_engine", "evaluate", "inference")
#: What a user fills in for each ``???`` (paths inside the deploy container).
FILLED = {
    "gen_trt_engine.onnx_file": "/workspace/results/export/model.onnx",
    "gen_trt_engine.trt_engine": "/workspace/results/gen_trt_engine/model.engine",
    "evaluate.trt_engine": "/workspace/results/gen_trt_engine/model.engine",
    "inference.trt_engine": "/workspace/results/gen_trt_engine/model.engine",
}


def _missing(data: Any, prefix: str = "") -> list[str]:
    if isinstance(data, dict):
        return [k for key, v in data.items() for k in _missing(v, f"{prefix}{key}.")]
    return [prefix[:-1]] if data == "???" else []


def _template(action: str) -> dict[str, Any]:
    return yaml.safe_load((OI / "references" / f"spec_template_deploy_{action}.yaml").read_text(encoding="utf-8"))


def _fill(data: dict[str, Any]) -> list[str]:
    overrides = []
    for key in _missing(data):
        value = FILLED.get(key) or ("/workspace/data/split/" + key.rsplit(".", 1)[-1].replace("_path", ".csv"))
        overrides.append(f"{key}={value}")
    return overrides


@pytest.mark.parametrize("action", DEPLOY_ACTIONS)
def test_deploy_template_is_valid_against_the_action_schema(action: str) -> None:
    schema = yaml.safe_load((OI / "schemas" / f"{action}.schema.json").read_text(encoding="utf-8"))
    data = _template(action)
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors)
    assert data["gen_trt_engine" if action == "gen_trt_engine" else action].get("trt_engine") == "???"
    if action != "gen_trt_engine":
        assert len(data["dataset"]["input_map"]) == data["dataset"]["num_input"]


@pytest.mark.parametrize("action", DEPLOY_ACTIONS)
def test_deploy_template_loads_in_the_trainer_once_filled(action: str, tmp_path: Path) -> None:
    from optical_inspection.spec import SpecError, load_spec

    path = OI / "references" / f"spec_template_deploy_{action}.yaml"
    with pytest.raises(SpecError, match=r"\?\?\?"):
        load_spec(path, action=action)
    cfg = load_spec(path, _fill(_template(action)), action=action)
    if action == "gen_trt_engine":
        trt = cfg.gen_trt_engine.tensorrt
        assert trt.data_type == "fp16" and trt.min_batch_size <= trt.opt_batch_size <= trt.max_batch_size
    else:
        batch = getattr(cfg, action).batch_size
        profile = _template("gen_trt_engine")["gen_trt_engine"]["tensorrt"]
        assert profile["min_batch_size"] <= batch <= profile["max_batch_size"]


def test_schema_check_rejects_an_int8_engine() -> None:
    """The validity check can fail: INT8 is not an Optical Inspection engine precision."""
    schema = yaml.safe_load((OI / "schemas" / "gen_trt_engine.schema.json").read_text(encoding="utf-8"))
    data = _template("gen_trt_engine")
    data["gen_trt_engine"]["tensorrt"]["data_type"] = "int8"
    errors = list(Draft202012Validator(schema).iter_errors(data))
    assert [list(e.path) for e in errors] == [["gen_trt_engine", "tensorrt", "data_type"]]
