"""Training keys of the Optical Inspection spec (``train.*`` and ``wandb.*``): devices, optimiser, checkpoints,
loggers.

Part of the experiment config (``optical_inspection.config``); keys and names follow TAO's spec. No torch import here.
"""

from dataclasses import dataclass
from typing import Optional

from tao_skill.schema_gen.fields import config_field

__all__ = [
    "LOSSES",
    "LR_SCHEDULERS",
    "WandBConfig",
    "OptimConfig",
    "TensorBoardLogger",
    "CuDNNConfig",
    "CheckpointerConfig",
    "TrainConfig",
]

LOSSES = ["contrastive", "bce", "focal"]
LR_SCHEDULERS = ["onecycle", "cosine", "none"]


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
