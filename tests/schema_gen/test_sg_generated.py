"""The generated Optical Inspection artifacts: valid JSON Schema, templates that validate, real rejections."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from optical_inspection.config import ACTIONS

SKILL = Path(__file__).resolve().parents[2] / "skills" / "tao-train-optical-inspection"
ACTION_NAMES = [a.name for a in ACTIONS]

EXAMPLES = {
    "csv_path": "/data/train/dataset.csv",
    "images_dir": "/data/train/images",
    "checkpoint": "/results/train/model_epoch_009_step_00100.pth",
    "trt_engine": "/results/gen_trt_engine/model.engine",
    "onnx_file": "/results/export/model.onnx",
}


def schema(action: str) -> dict[str, Any]:
    return json.loads((SKILL / "schemas" / f"{action}.schema.json").read_text())


def validator(action: str) -> Draft202012Validator:
    return Draft202012Validator(schema(action))


def fill_missing(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (EXAMPLES[k] if v == "???" else fill_missing(v)) for k, v in node.items()}
    return node


def tao_full_spec() -> dict[str, Any]:
    """A full TAO-style OI experiment spec (TAO-COMPAT section 1), every section present."""
    return yaml.safe_load(
        """
results_dir: /results
encryption_key: nvidia_tlt
model_name: optical_inspection
wandb: {enable: false, project: TAO Toolkit, entity: '', group: '', tags: [tao-toolkit], reinit: false,
        sync_tensorboard: false, save_code: false, name: run, run_id: ''}
model: {model_type: Siamese_3, margin: 2.0, model_backbone: custom, embedding_vectors: 5, imagenet_pretrained: false}
dataset:
  train_dataset: {csv_path: /data/train.csv, images_dir: /data/images}
  validation_dataset: {csv_path: /data/val.csv, images_dir: /data/images}
  test_dataset: {csv_path: /data/test.csv, images_dir: /data/images}
  infer_dataset: {csv_path: /data/infer.csv, images_dir: /data/images}
  image_ext: .jpg
  batch_size: 4
  workers: 4
  fpratio_sampling: 0.1
  num_input: 4
  input_map: {LowAngleLight: 0, SolderLight: 1, UniformLight: 2, WhiteLight: 3}
  grid_map: {x: 2, y: 2}
  concat_type: linear
  image_width: 128
  image_height: 128
  augmentation_config:
    rgb_input_mean: [0.485, 0.456, 0.406]
    rgb_input_std: [0.229, 0.224, 0.225]
    random_flip: {vflip_probability: 0.5, hflip_probability: 0.5, enable: true}
    random_rotate: {rotate_probability: 0.5, angle_list: [90, 180, 270], enable: true}
    random_color: {brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.3, enable: true, color_probability: 0.5}
    with_random_blur: true
    with_random_crop: true
    augment: false
train:
  num_gpus: 1
  gpu_ids: [0]
  num_nodes: 1
  seed: 1234
  cudnn: {benchmark: false, deterministic: true}
  num_epochs: 10
  checkpoint_interval: 1
  checkpoint_interval_unit: epoch
  validation_interval: 1
  resume_training_checkpoint_path: null
  results_dir: null
  checkpointer: {enable_topk: false, replace_periodic: false, monitor: null, mode: null, save_top_k: 1,
                 filename: 'model_best_{epoch:03d}', dirpath: null, auto_insert_metric_name: false}
  optim: {type: Adam, lr: 0.0005, momentum: 0.9, weight_decay: 0.0005}
  loss: contrastive
  clip_grad_norm: 0.0
  tensorboard: {enabled: false, infrequent_logging_frequency: 2}
  pretrained_model_path: null
evaluate: {num_gpus: 1, gpu_ids: [0], num_nodes: 1, checkpoint: /results/train/oi_model_latest.pth,
           trt_engine: null, results_dir: null, batch_size: 8}
inference: {num_gpus: 1, gpu_ids: [0], num_nodes: 1, checkpoint: /results/train/oi_model_latest.pth,
            trt_engine: null, results_dir: null, batch_size: 8}
export: {results_dir: null, gpu_id: 0, checkpoint: /results/train/oi_model_latest.pth,
         onnx_file: /results/export/model.onnx, opset_version: 17, on_cpu: false, input_height: 512,
         input_width: 128, input_channel: 3, batch_size: -1, do_constant_folding: false}
gen_trt_engine:
  results_dir: null
  gpu_id: 0
  onnx_file: /results/export/model.onnx
  trt_engine: /results/gen_trt_engine/model.engine
  timing_cache: null
  batch_size: -1
  verbose: false
  tensorrt:
    data_type: fp16
    workspace_size: 1024
    min_batch_size: 1
    opt_batch_size: 1
    max_batch_size: 1
    layers_precision: []
    calibration: {cal_image_dir: [], cal_cache_file: null, cal_batch_size: 1, cal_batches: 1}
dataset_convert: {root_dataset_dir: /raw, data_convert_output_dir: /out, train_pcb_dataset_dir: train,
                  val_pcb_dataset_dir: val, all_pcb_dataset_dir: all, golden_csv_dir: golden, project_name: p1,
                  bot_top: TOP}
"""
    )


def error_paths(action: str, spec: dict[str, Any]) -> list[str]:
    return [".".join(str(p) for p in e.absolute_path) for e in validator(action).iter_errors(spec)]


@pytest.mark.parametrize("action", ACTION_NAMES)
def test_schema_passes_the_2020_12_metaschema(action: str) -> None:
    document = schema(action)
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("action", ACTION_NAMES)
def test_template_with_its_required_values_filled_validates(action: str) -> None:
    text = (SKILL / "references" / f"spec_template_{action}.yaml").read_text()
    template = yaml.safe_load(text)
    assert "???" in text or not next(a for a in ACTIONS if a.name == action).required
    assert error_paths(action, template), "a template with ??? left must not validate"
    assert error_paths(action, fill_missing(template)) == []


@pytest.mark.parametrize("action", ACTION_NAMES)
def test_full_tao_experiment_spec_validates_for_every_action(action: str) -> None:
    assert error_paths(action, tao_full_spec()) == []


@pytest.mark.parametrize(
    ("action", "dotted", "value", "expected_path"),
    [
        ("train", "train.num_epochs", "ten", "train.num_epochs"),  # wrong type
        ("train", "model.margin", 0.5, "model.margin"),  # below valid_min
        ("train", "train.optim.lr", 0.0, "train.optim.lr"),  # math_cond "> 0.0"
        ("train", "dataset.concat_type", "mosaic", "dataset.concat_type"),  # bad enum value
        ("train", "train.optim.learning_rate", 0.1, "train.optim"),  # misspelled key in its own section
        ("evaluate", "evaluate.batch_sise", 4, "evaluate"),
        ("export", "export.opset_version", 17.5, "export.opset_version"),
        ("gen_trt_engine", "gen_trt_engine.tensorrt.data_type", "int8", "gen_trt_engine.tensorrt.data_type"),
    ],
)
def test_bad_values_are_rejected_with_their_key_path(action: str, dotted: str, value: Any, expected_path: str) -> None:
    spec = copy.deepcopy(tao_full_spec())
    node = spec
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = value
    assert expected_path in error_paths(action, spec)


def test_unknown_top_level_key_is_rejected_but_other_actions_sections_are_not() -> None:
    spec = tao_full_spec()
    spec["trian"] = {"num_epochs": 3}
    assert "" in error_paths("train", spec)
    spec = tao_full_spec()
    spec["evaluate"]["not_an_evaluate_key"] = 1  # another action's section: not validated by train
    assert error_paths("train", spec) == []
    assert "evaluate" in error_paths("evaluate", spec)


def test_missing_required_data_is_rejected() -> None:
    spec = tao_full_spec()
    del spec["dataset"]["train_dataset"]["csv_path"]
    errors = list(validator("train").iter_errors(spec))
    assert errors and any("csv_path" in e.message or "csv_path" in str(e.schema_path) for e in errors)
    spec = tao_full_spec()
    spec["evaluate"]["checkpoint"] = None
    assert error_paths("evaluate", spec)  # neither checkpoint nor trt_engine
    spec["evaluate"]["trt_engine"] = "/x/model.engine"
    assert error_paths("evaluate", spec) == []


def test_automl_lists_only_for_training_and_annotations_kept() -> None:
    manifest = json.loads((SKILL / "schemas" / "manifest.json").read_text())
    train = schema("train")
    assert "train.optim.lr" in train["automl_default_parameters"]
    assert "model.margin" in train["automl_default_parameters"]
    assert "dataset.num_input" in train["automl_disabled_parameters"]
    assert len(train["automl_default_parameters"]) == 16  # TAO's 16 OI AutoML defaults
    for action in ACTION_NAMES:
        entry = manifest["actions"][action]
        if action == "train":
            assert entry["automl_default_parameters"] == train["automl_default_parameters"]
        else:
            assert entry["automl_default_parameters"] == [] and schema(action)["automl_default_parameters"] == []
    lr = train["properties"]["train"]["properties"]["optim"]["properties"]["lr"]
    assert lr["exclusiveMinimum"] == 0 and "maximum" not in lr and lr["math_cond"] == "> 0.0"
    assert lr["automl_enabled"] is True
    margin = train["properties"]["model"]["properties"]["margin"]
    assert margin["minimum"] == 1.0 and "maximum" not in margin  # valid_max "inf" -> no bound
    input_map = train["properties"]["dataset"]["properties"]["input_map"]
    assert input_map["type"] == ["object", "null"] and input_map["additionalProperties"] == {"type": "integer"}
    target_recall = train["properties"]["train"]["properties"]["target_recall"]
    assert target_recall["x-tao-extension"] is True


def test_manifest_hashes_match_files() -> None:
    import hashlib

    manifest = json.loads((SKILL / "schemas" / "manifest.json").read_text())
    assert manifest["config_source"] == "optical_inspection.config:ExperimentConfig"
    assert set(manifest["actions"]) == set(ACTION_NAMES)
    for relative, entry in manifest["files"].items():
        digest = hashlib.sha256((SKILL / relative).read_bytes()).hexdigest()
        assert digest == entry["sha256"], relative
