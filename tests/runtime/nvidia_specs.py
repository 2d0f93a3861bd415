"""Specs shaped like NVIDIA's published Optical Inspection specs (same keys and values), built here.

``skill_bank_template(action)``: the per-action templates of NVIDIA-TAO/tao-skill-bank (every section, ``???`` on all
four dataset splits and on the action's model/output paths, TAO's ``data_type: fp32,fp16`` option list).
``deploy_experiment()``: its TAO Deploy spec (``<required>`` markers, ``${dataset.batch_size}`` references).
``tutorial_experiment()``: NVIDIA/tao_tutorials' launcher spec (``${...}`` references between sections).
"""

from __future__ import annotations

from typing import Any

MISSING = "???"
LIGHTS = {"LowAngleLight": 0, "SolderLight": 1, "UniformLight": 2, "WhiteLight": 3}


def _splits(value: Any) -> dict[str, Any]:
    return {
        f"{name}_dataset": {"csv_path": value, "images_dir": value} for name in ("train", "validation", "test", "infer")
    }


def _wandb() -> dict[str, Any]:
    return {
        "enable": True,
        "project": "TAO Toolkit",
        "entity": "",
        "group": "",
        "tags": ["tao-toolkit"],
        "reinit": False,
        "sync_tensorboard": False,
        "save_code": False,
        "name": "TAO Toolkit Training",
        "run_id": "",
    }


def _augmentation() -> dict[str, Any]:
    return {
        "rgb_input_mean": [0.485, 0.456, 0.406],
        "rgb_input_std": [0.226, 0.226, 0.226],
        "random_flip": {"vflip_probability": 0.5, "hflip_probability": 0.5, "enable": True},
        "random_rotate": {"rotate_probability": 0.5, "angle_list": [90, 180, 270], "enable": True},
        "random_color": {
            "brightness": 0.3,
            "contrast": 0.3,
            "saturation": 0.3,
            "hue": 0.3,
            "enable": True,
            "color_probability": 0.5,
        },
        "with_random_blur": True,
        "with_random_crop": True,
        "augment": False,
    }


def _common() -> dict[str, Any]:
    return {
        "model_name": "",
        "encryption_key": "",
        "results_dir": "",
        "wandb": _wandb(),
        "model": {
            "model_type": "Siamese_3",
            "margin": 2.0,
            "model_backbone": "custom",
            "embedding_vectors": 5,
            "imagenet_pretrained": False,
        },
        "dataset": {
            **_splits(MISSING),
            "image_ext": ".jpg",
            "batch_size": 8,
            "workers": 1,
            "fpratio_sampling": 0.1,
            "num_input": 4,
            "input_map": dict(LIGHTS),
            "grid_map": {"x": 2, "y": 2},
            "concat_type": "linear",
            "image_width": 128,
            "image_height": 128,
            "augmentation_config": _augmentation(),
        },
        "train": {
            "num_gpus": 1,
            "gpu_ids": [0],
            "num_nodes": 1,
            "seed": 1234,
            "cudnn": {"benchmark": False, "deterministic": True},
            "num_epochs": 10,
            "checkpoint_interval": 1,
            "checkpoint_interval_unit": "epoch",
            "validation_interval": 1,
            "resume_training_checkpoint_path": "",
            "results_dir": "",
            "optim": {"type": "Adam", "lr": 0.0005, "momentum": 0.9, "weight_decay": 0.0005},
            "loss": "contrastive",
            "clip_grad_norm": 1.0,
            "tensorboard": {"enabled": False, "infrequent_logging_frequency": 2},
            "pretrained_model_path": "",
        },
    }


def _runner(batch_size: int) -> dict[str, Any]:
    return {
        "num_gpus": 1,
        "gpu_ids": [0],
        "num_nodes": 1,
        "checkpoint": MISSING,
        "trt_engine": "",
        "results_dir": "",
        "batch_size": batch_size,
    }


def skill_bank_template(action: str) -> dict[str, Any]:
    """NVIDIA-TAO/tao-skill-bank's ``spec_template_<action>.yaml`` for Optical Inspection."""
    spec = _common()
    if action == "evaluate":
        spec["evaluate"] = _runner(8)
    elif action == "inference":
        spec["inference"] = _runner(1)
    elif action == "export":
        spec["export"] = {
            "results_dir": "",
            "gpu_id": 0,
            "checkpoint": MISSING,
            "onnx_file": MISSING,
            "opset_version": 12,
            "on_cpu": False,
            "input_height": 512,
            "input_width": 128,
            "input_channel": 3,
            "batch_size": -1,
            "do_constant_folding": False,
        }
    elif action == "gen_trt_engine":
        spec["gen_trt_engine"] = {
            "results_dir": "",
            "gpu_id": 0,
            "onnx_file": MISSING,
            "trt_engine": MISSING,
            "timing_cache": "",
            "batch_size": -1,
            "verbose": False,
            "tensorrt": {
                "workspace_size": 1024,
                "min_batch_size": 1,
                "opt_batch_size": 1,
                "max_batch_size": 1,
                "layers_precision": [],
                "data_type": "fp32,fp16",
                "calibration": {
                    "cal_image_dir": MISSING,
                    "cal_cache_file": MISSING,
                    "cal_batch_size": 1,
                    "cal_batches": 1,
                },
            },
        }
    return spec


def deploy_experiment() -> dict[str, Any]:
    """NVIDIA-TAO/tao-skill-bank's ``spec_template_deploy_experiment.yaml`` (TAO Deploy) for Optical Inspection."""
    return {
        "results_dir": "/results",
        "encryption_key": "tlt_encode",
        "model": {"model_type": "Siamese_3", "model_backbone": "custom", "embedding_vectors": 5, "margin": 2.0},
        "dataset": {
            **_splits("/data/metadata.csv"),
            "image_ext": ".jpg",
            "batch_size": 32,
            "workers": 64,
            "fpratio_sampling": 0.1,
            "num_input": 4,
            "input_map": dict(LIGHTS),
            "concat_type": "linear",
            "grid_map": {"x": 2, "y": 2},
            "image_width": 100,
            "image_height": 100,
            "augmentation_config": {
                "rgb_input_mean": [0.485, 0.456, 0.406],
                "rgb_input_std": [0.229, 0.224, 0.225],
            },
        },
        "train": {
            "optim": {"type": "Adam", "lr": 0.0005},
            "loss": "contrastive",
            "num_epochs": 15,
            "checkpoint_interval": 5,
        },
        "evaluate": {
            "gpu_ids": [0],
            "batch_size": 1,
            "checkpoint": "<required>",
            "trt_engine": "/results/optical-inspection.engine",
        },
        "export": {"checkpoint": "<required>", "onnx_file": "/models/model.onnx"},
        "inference": {
            "gpu_ids": [0],
            "checkpoint": "<required>",
            "trt_engine": "/results/optical-inspection.engine",
            "batch_size": "${dataset.batch_size}",
        },
        "gen_trt_engine": {
            "onnx_file": "/models/model.onnx",
            "trt_engine": "/results/optical-inspection.engine",
            "batch_size": "${dataset.batch_size}",
            "tensorrt": {
                "data_type": "fp16",
                "workspace_size": 1024,
                "min_batch_size": 1,
                "opt_batch_size": 32,
                "max_batch_size": 32,
            },
        },
    }


def tutorial_experiment() -> dict[str, Any]:
    """NVIDIA/tao_tutorials' ``optical_inspection/specs/experiment.yaml`` (TAO launcher starter kit)."""
    split = {"csv_path": "/data/dataset_convert/valid_combined.csv", "images_dir": "/data/images/"}
    return {
        "results_dir": "/results",
        "encryption_key": "nvidia_tao",
        "model": {"model_type": "Siamese_3", "model_backbone": "custom", "embedding_vectors": 5, "margin": 2.0},
        "dataset": {
            "train_dataset": {"csv_path": "/data/dataset_convert/train_combined.csv", "images_dir": "/data/images/"},
            "validation_dataset": dict(split),
            "test_dataset": dict(split),
            "infer_dataset": dict(split),
            "image_ext": ".jpg",
            "batch_size": 16,
            "workers": 8,
            "fpratio_sampling": 0.1,
            "num_input": 4,
            "input_map": dict(LIGHTS),
            "concat_type": "linear",
            "grid_map": {"x": 2, "y": 2},
            "image_width": 128,
            "image_height": 128,
            "augmentation_config": {
                "rgb_input_mean": [0.485, 0.456, 0.406],
                "rgb_input_std": [0.229, 0.224, 0.225],
                "augment": False,
            },
        },
        "train": {
            "pretrained_model_path": "/workspace/tao-experiments/optical_inspection/results/pretrained/"
            "optical_inspection_vtrainable_v1.0/oi_model.pth",
            "optim": {"type": "Adam", "lr": 0.0005},
            "loss": "contrastive",
            "num_epochs": 15,
            "checkpoint_interval": 5,
            "validation_interval": "${train.checkpoint_interval}",
            "results_dir": "/results/train",
            "tensorboard": {"enabled": True},
        },
        "evaluate": {"checkpoint": "/results/train/oi_model.pth", "results_dir": "/results/evaluate"},
        "export": {
            "checkpoint": "/results/train/oi_model.pth",
            "results_dir": "/results/export",
            "onnx_file": "${export.results_dir}/oi_model.onnx",
            "batch_size": "${dataset.batch_size}",
            "input_height": 512,
            "input_width": 128,
        },
        "inference": {
            "checkpoint": "/results/train/oi_model.pth",
            "results_dir": "/results/inference",
            "trt_engine": "${gen_trt_engine.trt_engine}",
            "batch_size": "${dataset.batch_size}",
        },
        "gen_trt_engine": {
            "results_dir": "/results/gen_trt_engine",
            "onnx_file": "${export.onnx_file}",
            "trt_engine": "${gen_trt_engine.results_dir}/oi_model.trt",
            "batch_size": "${dataset.batch_size}",
        },
    }
