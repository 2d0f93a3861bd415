"""The Optical Inspection experiment config: every key of TAO's spec tree, with defaults that run.

Keys, nesting and names follow TAO's ``optical_inspection`` experiment spec (nvidia-tao-core 7.3), so any TAO OI
spec loads. Defaults are those of TAO's shipped experiment spec where TAO's own dataclass defaults would not run
(num_input 4 with the 4-light input_map, linear concat, ``.jpg``, a training batch size > 1). Keys marked
``extension=True`` exist only in the embedded trainer; the runtime drops them (at their defaults) before a spec goes
to TAO's container. No torch import here: the schema generator and the runtime read this module.
"""

from dataclasses import dataclass
from typing import Optional

from tao_skill.schema_gen.fields import config_field

MODEL_TYPES = ["Siamese_Diff", "Siamese_Efficient", "Siamese", "Siamese_3"]
#: Model types only the embedded trainer has (TAO's container lacks them); the runtime refuses them for docker.
EMBEDDED_ONLY_MODEL_TYPES = ["Siamese_Diff", "Siamese_Efficient"]
LOSSES = ["contrastive", "bce", "focal"]
LR_SCHEDULERS = ["onecycle", "cosine", "none"]
DEFAULT_INPUT_MAP = {"LowAngleLight": 0, "SolderLight": 1, "UniformLight": 2, "WhiteLight": 3}


@dataclass
class WandBConfig:
    """Weights & Biases logging of training (needs the ``wandb`` package; offline when not logged in)."""

    enable: bool = config_field(
        False,
        description=(
            "Log training metrics to Weights & Biases (online when logged in through WANDB_API_KEY or netrc, "
            "else offline under results_dir/train/wandb for a later wandb sync)."
        ),
    )
    project: str = config_field("TAO Toolkit", description="W&B project name.")
    entity: Optional[str] = config_field("", description="W&B entity.")
    group: Optional[str] = config_field("", description="W&B group.")
    tags: list[str] = config_field(["tao-toolkit"], description="W&B tags.")
    reinit: bool = config_field(False, description="Re-initialise the W&B run.")
    sync_tensorboard: bool = config_field(False, description="Sync TensorBoard logs to W&B.")
    save_code: bool = config_field(False, description="Save code to W&B.")
    name: str = config_field("TAO Toolkit Training", description="W&B run name.")
    run_id: str = config_field("", description="W&B run id (default: the training run's id, so a resume continues it).")


@dataclass
class ModelConfig:
    """Siamese network."""

    model_type: str = config_field(
        "Siamese_Diff",
        description=(
            "Architecture. Siamese_Diff (the default for new work): compares the feature maps of the golden and the "
            "test image, forgiving registration_tolerance pixels of misregistration, and outputs a defect score "
            "(embedded trainer only). Siamese_Efficient: a small embedding network (embedded trainer only). Siamese "
            "and Siamese_3: TAO's networks, checkpoint-compatible with TAO."
        ),
        display_name="Model type",
        options=MODEL_TYPES,
        extension_options=EMBEDDED_ONLY_MODEL_TYPES,
        popular=True,
    )
    margin: float = config_field(
        2.0,
        description="Contrastive-loss margin; also the fallback decision threshold on the embedding distance.",
        minimum=1.0,
        automl=True,
        popular=True,
    )
    model_backbone: str = config_field("custom", description="Backbone of the tower ('custom' for every model type).")
    embedding_vectors: int = config_field(
        5, description="Size of the embedding each branch outputs (embedding networks).", minimum=1
    )
    imagenet_pretrained: bool = config_field(False, description="Use ImageNet-pretrained backbone weights.")
    base_channels: int = config_field(
        16,
        description="Siamese_Diff: feature channels of the first encoder stage (the second has twice as many).",
        minimum=4,
        maximum=128,
        extension=True,
    )
    registration_tolerance: int = config_field(
        4,
        description=(
            "Siamese_Diff: misregistration between the golden and the test image, in pixels of a light tile, that "
            "the comparison forgives (a feature counts as changed only if nothing like it is within this distance)."
        ),
        minimum=0,
        maximum=16,
        extension=True,
    )


@dataclass
class OptimConfig:
    """Optimiser."""

    type: str = config_field("Adam", description="Optimiser.", options=["Adam", "SGD"])
    lr: float = config_field(
        2e-3,
        description=(
            "Learning rate (the peak of the one-cycle schedule). 2e-3 trains Siamese_Diff in a few epochs; TAO's "
            "default for its networks is 5e-4."
        ),
        exclusive_minimum=0.0,
        automl=True,
        popular=True,
    )
    momentum: float = config_field(
        0.9, description="SGD momentum (Adam ignores it).", maximum=1.0, exclusive_minimum=0.0, automl=True
    )
    weight_decay: float = config_field(5e-4, description="Weight decay (L2) coefficient.", minimum=0.0)
    lr_scheduler: str = config_field(
        "onecycle",
        description=(
            "Learning-rate schedule over the run, per step. onecycle: warm up to lr over the first 15% of the steps, "
            "then anneal to nearly 0. cosine: cosine annealing from lr to 0. none: constant lr (TAO's behaviour)."
        ),
        options=LR_SCHEDULERS,
        automl=False,
        extension=True,
    )


@dataclass
class RandomFlip:
    """Random flips."""

    vflip_probability: float = config_field(
        0.5, description="Vertical flip probability.", minimum=0.0, maximum=1.0, automl=True
    )
    hflip_probability: float = config_field(
        0.5, description="Horizontal flip probability.", minimum=0.0, maximum=1.0, automl=True
    )
    enable: bool = config_field(True, description="Enable random flips.", automl=True)


@dataclass
class RandomRotation:
    """Random rotations by one of the listed angles."""

    rotate_probability: float = config_field(
        0.5, description="Rotation probability.", minimum=0.0, maximum=1.0, automl=True
    )
    angle_list: list[float] = config_field(
        [90.0, 180.0, 270.0], description="Angles (degrees) to choose from.", automl=False
    )
    enable: bool = config_field(True, description="Enable random rotation.", automl=True)


@dataclass
class RandomColor:
    """Random colour jitter."""

    brightness: float = config_field(
        0.3, description="Brightness jitter.", maximum=2.0, exclusive_minimum=0.0, automl=True
    )
    contrast: float = config_field(0.3, description="Contrast jitter.", maximum=2.0, exclusive_minimum=0.0, automl=True)
    saturation: float = config_field(
        0.3, description="Saturation jitter.", maximum=2.0, exclusive_minimum=0.0, automl=True
    )
    hue: float = config_field(0.3, description="Hue jitter.", maximum=0.5, exclusive_minimum=0.0, automl=True)
    enable: bool = config_field(True, description="Enable random colour jitter.", automl=True)
    color_probability: float = config_field(
        0.5, description="Colour jitter probability.", minimum=0.0, maximum=1.0, automl=True
    )


@dataclass
class RandomShift:
    """Registration error: shifts of the TEST image only, as a misregistered part on a real line (extension)."""

    enable: bool = config_field(
        True, description="Shift the test image (all its lights together) against the golden image.", extension=True
    )
    max_pixels: int = config_field(
        4, description="Largest shift in x and in y, in pixels of a light tile.", minimum=0, maximum=32, extension=True
    )
    probability: float = config_field(
        0.5, description="Probability of a shift per pair.", minimum=0.0, maximum=1.0, extension=True
    )


@dataclass
class RandomDrift:
    """Lighting drift and sensor noise of the TEST image only (extension)."""

    enable: bool = config_field(
        True, description="Change the test image's brightness/contrast and add sensor noise.", extension=True
    )
    brightness: float = config_field(
        0.1,
        description="Largest brightness offset, as a fraction of full scale.",
        minimum=0.0,
        maximum=1.0,
        extension=True,
    )
    contrast: float = config_field(
        0.2, description="Largest relative contrast change.", minimum=0.0, maximum=1.0, extension=True
    )
    noise: float = config_field(
        0.02,
        description="Largest standard deviation of the Gaussian sensor noise, as a fraction of full scale.",
        minimum=0.0,
        maximum=0.5,
        extension=True,
    )
    probability: float = config_field(
        0.5, description="Probability of a drift per pair.", minimum=0.0, maximum=1.0, extension=True
    )


@dataclass
class AugmentationConfig:
    """Normalisation and training augmentation."""

    rgb_input_mean: list[float] = config_field(
        [0.485, 0.456, 0.406], description="Per-channel mean.", automl=False, inherit=True
    )
    rgb_input_std: list[float] = config_field(
        [0.229, 0.224, 0.225], description="Per-channel standard deviation.", automl=False, inherit=True
    )
    random_flip: RandomFlip = config_field(RandomFlip())
    random_rotate: RandomRotation = config_field(RandomRotation())
    random_color: RandomColor = config_field(RandomColor())
    with_random_blur: bool = config_field(True, description="Random blur (when augment is on).")
    with_random_crop: bool = config_field(True, description="Random crop (when augment is on).")
    random_shift: RandomShift = config_field(RandomShift())
    random_drift: RandomDrift = config_field(RandomDrift())
    augment: bool = config_field(False, description="Apply training augmentation.", automl=True)


@dataclass
class DataPathFormat:
    """One dataset split: a CSV and the image root it refers to."""

    csv_path: Optional[str] = config_field(None, description="Path to the dataset CSV.")
    images_dir: Optional[str] = config_field(None, description="Root folder the CSV's image paths are relative to.")


@dataclass
class DatasetConfig:
    """Data."""

    train_dataset: DataPathFormat = config_field(DataPathFormat())
    validation_dataset: DataPathFormat = config_field(DataPathFormat())
    test_dataset: DataPathFormat = config_field(DataPathFormat())
    infer_dataset: DataPathFormat = config_field(DataPathFormat())
    image_ext: Optional[str] = config_field(
        ".jpg", description="Image file extension, with the dot.", automl=False, inherit=True
    )
    batch_size: int = config_field(
        32, description="Batch size (training needs > 1); 32 is TAO's own value.", minimum=1, popular=True
    )
    workers: int = config_field(2, description="Data-loading worker processes.", minimum=0, automl=False)
    fpratio_sampling: float = config_field(
        1.0,
        description=(
            "Training sampler weight of defects relative to PASS, as a fraction of n_pass/n_fail: 1.0 draws as many "
            "defect pairs as PASS pairs (TAO's default 0.1 draws about 9% defects, which trains slower)."
        ),
        minimum=0.0,
        maximum=1.0,
        automl=True,
    )
    num_input: int = config_field(
        4, description="Number of lights per side; must equal len(input_map).", minimum=1, automl=False, inherit=True
    )
    input_map: Optional[dict[str, int]] = config_field(
        dict(DEFAULT_INPUT_MAP),
        description="Light name -> index; lights are taken in key order.",
        automl=False,
        inherit=True,
    )
    grid_map: Optional[dict[str, int]] = config_field(
        {"x": 2, "y": 2}, description="Tiles across (x) and down (y) for grid concat.", automl=False, inherit=True
    )
    concat_type: Optional[str] = config_field(
        "linear", description="How light tiles are joined.", options=["linear", "grid"], automl=False, inherit=True
    )
    image_width: int = config_field(
        128, description="Width each light is resized to.", minimum=1, maximum=4096, automl=False, inherit=True
    )
    image_height: int = config_field(
        128, description="Height each light is resized to.", minimum=1, maximum=4096, automl=False, inherit=True
    )
    augmentation_config: AugmentationConfig = config_field(
        AugmentationConfig(), depends_on="dataset.augmentation_config.augment"
    )


@dataclass
class TensorBoardLogger:
    """TensorBoard logging."""

    enabled: bool = config_field(False, description="Write TensorBoard logs.")
    infrequent_logging_frequency: int = config_field(2, description="Epochs between image logs.", minimum=0)


@dataclass
class CuDNNConfig:
    """cuDNN flags (GPU only)."""

    benchmark: bool = config_field(False, description="cuDNN benchmark mode.")
    deterministic: bool = config_field(True, description="cuDNN deterministic algorithms.")


@dataclass
class CheckpointerConfig:
    """Metric-ranked checkpoint saving (TAO 7.3 key)."""

    enable_topk: bool = config_field(
        False, description="Also keep the save_top_k best checkpoints by the monitored epoch metric."
    )
    replace_periodic: bool = config_field(
        False,
        description=(
            "With enable_topk: each periodic checkpoint replaces the previous one, so the folder keeps the latest "
            "(to resume from) and the best ones."
        ),
    )
    monitor: Optional[str] = config_field(
        None,
        description="Monitored epoch metric: val_roc_auc (default; ties go to the lower val_far_at_target), "
        "val_far_at_target, val_acc, val_loss, val_fpr, train_acc, train_loss or train_fpr.",
    )
    mode: Optional[str] = config_field(
        None,
        description="Better direction of the monitor; default: min for losses and fpr, else max.",
        options=["min", "max"],
    )
    save_top_k: int = config_field(1, description="Number of best checkpoints kept.", minimum=1)
    filename: str = config_field(
        "model_best_{epoch:03d}",
        description="Best-checkpoint file name (.pth appended): a format pattern over epoch, step and the metrics.",
    )
    dirpath: Optional[str] = config_field(None, description="Folder for best checkpoints (default results_dir).")
    auto_insert_metric_name: bool = config_field(
        False, description="Write each pattern field as name=value (epoch=003), as Lightning does."
    )


@dataclass
class TrainConfig:
    """Training."""

    num_gpus: int = config_field(
        1, description="Number of devices (GPUs, or CPU processes without a GPU).", minimum=1, automl=False
    )
    gpu_ids: list[int] = config_field([0], description="Device ids; length equals num_gpus.", automl=False)
    num_nodes: int = config_field(1, description="Number of nodes.", minimum=1, automl=False)
    seed: int = config_field(1234, description="Random seed; < 0 disables seeding.", minimum=-1, automl=False)
    cudnn: CuDNNConfig = config_field(CuDNNConfig())
    num_epochs: int = config_field(6, description="Number of epochs.", minimum=1, popular=True, automl=False)
    checkpoint_interval: int = config_field(
        1, description="Checkpoint every N units.", minimum=1, popular=True, automl=False
    )
    checkpoint_interval_unit: str = config_field(
        "epoch", description="Unit of checkpoint_interval.", options=["epoch", "step"], automl=False
    )
    validation_interval: int = config_field(
        1, description="Validate every N epochs.", minimum=1, popular=True, automl=False
    )
    resume_training_checkpoint_path: Optional[str] = config_field(None, description="Checkpoint to resume from.")
    results_dir: Optional[str] = config_field(None, description="Results folder (default <results_dir>/train).")
    checkpointer: CheckpointerConfig = config_field(CheckpointerConfig())
    optim: OptimConfig = config_field(OptimConfig())
    loss: Optional[str] = config_field(
        None,
        description=(
            "Loss; empty: the model's own (bce for Siamese_Diff, TAO's contrastive for the embedding networks). "
            "contrastive: TAO's, on the pair score with model.margin. bce and focal (Siamese_Diff only): binary "
            "cross-entropy and focal loss on the defect logit."
        ),
        options=LOSSES,
        extension_options=["bce", "focal"],
        automl=False,
    )
    clip_grad_norm: float = config_field(0.0, description="Gradient-norm clip; 0 disables.", minimum=0.0)
    tensorboard: Optional[TensorBoardLogger] = config_field(TensorBoardLogger())
    pretrained_model_path: Optional[str] = config_field(None, description="Weights to start from (not resumed).")
    target_recall: float = config_field(
        0.995,
        description=(
            "Defect recall the calibrated decision threshold should keep on new boards of the same product. The "
            "threshold is set below the weakest validation defect by the spread of the weakest (1 - target_recall) "
            "share of validation defects, and at or below the 99% quantile of the validation PASS scores; it is "
            "stored in every checkpoint and used by evaluate and inference unless overridden."
        ),
        maximum=1.0,
        exclusive_minimum=0.0,
        extension=True,
    )
    precision: str = config_field(
        "32",
        description=(
            "Training arithmetic. 32: float32 (as TAO). bf16-mixed: bfloat16 convolutions with float32 weights, loss "
            "and validation; about 1.6x faster training of Siamese_Efficient on a CPU with native bfloat16, with a "
            "less reliably calibrated threshold in our checks. 16-mixed: float16 autocast (GPU only)."
        ),
        options=["32", "bf16-mixed", "16-mixed"],
        automl=False,
        extension=True,
    )


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


@dataclass
class ExperimentConfig:
    """Optical Inspection experiment spec."""

    model_name: Optional[str] = config_field("optical_inspection", description="Model name.")
    encryption_key: Optional[str] = config_field(None, description="Key for encrypted models (secret; never logged).")
    results_dir: Optional[str] = config_field(None, description="Root folder for every task's results.")
    wandb: WandBConfig = config_field(WandBConfig())
    model: ModelConfig = config_field(ModelConfig(), inherit=True)
    dataset: DatasetConfig = config_field(DatasetConfig())
    train: TrainConfig = config_field(TrainConfig())
    evaluate: EvaluateConfig = config_field(EvaluateConfig())
    inference: InferenceConfig = config_field(InferenceConfig())
    export: ExportConfig = config_field(ExportConfig())
    gen_trt_engine: GenTrtEngineConfig = config_field(GenTrtEngineConfig())
    dataset_convert: DatasetConvertConfig = config_field(DatasetConvertConfig())


# What each action reads and the rules between keys, kept beside the config (the schema generator reads them here).
from optical_inspection.config_actions import ACTIONS, COMMON_KEYS, RULES  # noqa: E402, F401
