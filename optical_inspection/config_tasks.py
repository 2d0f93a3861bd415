"""Keys of the Optical Inspection spec's other tasks: evaluate, inference, export, gen_trt_engine, dataset_convert.

Part of the experiment config (``optical_inspection.config``); keys and names follow TAO's spec. No torch import here.
"""

from dataclasses import dataclass
from typing import Optional

from tao_skill.schema_gen.fields import config_field

__all__ = [
    "EvaluateConfig",
    "InferenceConfig",
    "ExportConfig",
    "CalibrationConfig",
    "TrtConfig",
    "GenTrtEngineConfig",
    "DatasetConvertConfig",
]


@dataclass
class EvaluateConfig:
    """Evaluation on dataset.test_dataset."""

    num_gpus: int = config_field(1, description="Number of devices.", minimum=1, automl=False)
    gpu_ids: list[int] = config_field([0], description="Device ids.", automl=False)
    num_nodes: int = config_field(1, description="Number of nodes.", minimum=1, automl=False)
    checkpoint: Optional[str] = config_field(None, description="Model to evaluate: .pth checkpoint, .onnx or .engine.")
    trt_engine: Optional[str] = config_field(None, description="TensorRT engine to evaluate (needs TensorRT).")
    results_dir: Optional[str] = config_field(None, description="Results folder (default <results_dir>/evaluate).")
    batch_size: int = config_field(8, description="Batch size.", minimum=1)
    threshold: Optional[float] = config_field(
        None,
        description=(
            "Decision threshold on the pair score; empty: the checkpoint's calibrated threshold, else the model's "
            "own (model.margin for the embedding networks)."
        ),
        minimum=0.0,
        extension=True,
    )
    target_recall: float = config_field(
        0.99,
        description="Defect recall the recommended threshold in metrics.json must reach.",
        maximum=1.0,
        exclusive_minimum=0.0,
        extension=True,
    )


@dataclass
class InferenceConfig:
    """Inference on dataset.infer_dataset."""

    num_gpus: int = config_field(1, description="Number of devices.", minimum=1, automl=False)
    gpu_ids: list[int] = config_field([0], description="Device ids.", automl=False)
    num_nodes: int = config_field(1, description="Number of nodes.", minimum=1, automl=False)
    checkpoint: Optional[str] = config_field(None, description="Model: .pth checkpoint, .onnx or .engine.")
    trt_engine: Optional[str] = config_field(None, description="TensorRT engine (needs TensorRT).")
    results_dir: Optional[str] = config_field(None, description="Results folder (default <results_dir>/inference).")
    batch_size: int = config_field(8, description="Batch size.", minimum=1)
    threshold: Optional[float] = config_field(
        None,
        description=(
            "Decision threshold on the pair score; empty: threshold_file, else the checkpoint's calibrated "
            "threshold, else the model's own (model.margin for the embedding networks)."
        ),
        minimum=0.0,
        extension=True,
    )
    threshold_file: Optional[str] = config_field(
        None, description="metrics.json written by evaluate; its recommended threshold is used.", extension=True
    )


@dataclass
class ExportConfig:
    """ONNX export."""

    results_dir: Optional[str] = config_field(None, description="Results folder (default <results_dir>/export).")
    gpu_id: int = config_field(0, description="GPU id (CPU is used when no GPU is present).", minimum=0)
    checkpoint: Optional[str] = config_field(None, description="Checkpoint (.pth) to export.")
    onnx_file: Optional[str] = config_field(None, description="ONNX file to write (default <results>/model.onnx).")
    opset_version: int = config_field(17, description="ONNX opset.", minimum=7)
    on_cpu: bool = config_field(False, description="Export on the CPU.")
    input_height: int = config_field(
        512,
        description="Concatenated input height (num_input x image_height for linear).",
        minimum=1,
        derived="int(get(dataset.grid_map, 'y', 1)) * dataset.image_height if dataset.concat_type == 'grid' "
        "else dataset.num_input * dataset.image_height",
    )
    input_width: int = config_field(
        128,
        description="Concatenated input width.",
        minimum=1,
        derived="int(get(dataset.grid_map, 'x', 1)) * dataset.image_width if dataset.concat_type == 'grid' "
        "else dataset.image_width",
    )
    input_channel: int = config_field(3, description="Input channels.", options=[3])
    batch_size: int = config_field(-1, description="Batch size; -1 exports a dynamic batch axis.", minimum=-1)
    do_constant_folding: bool = config_field(False, description="Fold constants during export.")


@dataclass
class CalibrationConfig:
    """INT8 calibration (TAO key; OI engines are fp32/fp16)."""

    cal_image_dir: list[str] = config_field([], description="Calibration image folders.")
    cal_cache_file: Optional[str] = config_field(None, description="Calibration cache file.")
    cal_batch_size: int = config_field(1, description="Calibration batch size.", minimum=1)
    cal_batches: int = config_field(1, description="Calibration batches.", minimum=1)


@dataclass
class TrtConfig:
    """TensorRT builder settings."""

    data_type: str = config_field("fp32", description="Engine precision.", options=["fp32", "fp16"])
    workspace_size: int = config_field(1024, description="Builder workspace (MB).", minimum=0)
    min_batch_size: int = config_field(1, description="Optimisation profile: minimum batch.", minimum=1)
    opt_batch_size: int = config_field(16, description="Optimisation profile: optimum batch.", minimum=1)
    max_batch_size: int = config_field(64, description="Optimisation profile: maximum batch.", minimum=1)
    layers_precision: Optional[list[str]] = config_field([], description="Per-layer precision ('layer:fp32').")
    calibration: CalibrationConfig = config_field(CalibrationConfig())


@dataclass
class GenTrtEngineConfig:
    """TensorRT engine build from the exported ONNX."""

    results_dir: Optional[str] = config_field(
        None, description="Results folder (default <results_dir>/gen_trt_engine)."
    )
    gpu_id: int = config_field(0, description="GPU id.", minimum=0)
    onnx_file: Optional[str] = config_field(None, description="ONNX model to build from.")
    trt_engine: Optional[str] = config_field(None, description="Engine file to write.")
    timing_cache: Optional[str] = config_field(None, description="TensorRT timing cache (read and updated).")
    batch_size: int = config_field(-1, description="Batch size; -1 uses the optimisation profile.", minimum=-1)
    verbose: bool = config_field(False, description="Verbose TensorRT logging.")
    tensorrt: TrtConfig = config_field(TrtConfig())


@dataclass
class DatasetConvertConfig:
    """Conversion of TAO's raw factory layout to dataset CSVs."""

    root_dataset_dir: Optional[str] = config_field(None, description="Root of the raw dataset.")
    data_convert_output_dir: Optional[str] = config_field(None, description="Output folder for the CSVs.")
    train_pcb_dataset_dir: Optional[str] = config_field(None, description="Training boards folder.")
    val_pcb_dataset_dir: Optional[str] = config_field(None, description="Validation boards folder.")
    all_pcb_dataset_dir: Optional[str] = config_field(None, description="All boards folder.")
    golden_csv_dir: Optional[str] = config_field(None, description="Golden CSV folder.")
    project_name: Optional[str] = config_field(None, description="Project name.")
    bot_top: Optional[str] = config_field(None, description="Board side: TOP, BOT or both.")
