"""The Optical Inspection experiment config: every key of TAO's spec tree, with defaults that run.

Keys, nesting and names follow TAO's ``optical_inspection`` experiment spec (nvidia-tao-core 7.3), so any TAO OI
spec loads. Defaults are those of TAO's shipped experiment spec where TAO's own dataclass defaults would not run
(num_input 4 with the 4-light input_map, linear concat, ``.jpg``, a training batch size > 1). Keys marked
``extension=True`` exist only in the embedded trainer; the runtime drops them (at their defaults) before a spec goes
to TAO's container. No torch import here: the schema generator and the runtime read this module.

The keys are laid out by concern: ``config_data`` (``dataset.*``), ``config_train`` (``train.*``, ``wandb.*``) and
``config_tasks`` (the other tasks); the model keys and the whole tree are here, and this module re-exports every
class and constant of the tree (the schema generator, the runtime's tests and the trainer read them here).
"""

from dataclasses import dataclass
from typing import Optional

from optical_inspection.config_data import (
    DEFAULT_INPUT_MAP,
    AugmentationConfig,
    DataPathFormat,
    DatasetConfig,
    RandomColor,
    RandomDrift,
    RandomFlip,
    RandomRotation,
    RandomShift,
)
from optical_inspection.config_tasks import (
    CalibrationConfig,
    DatasetConvertConfig,
    EvaluateConfig,
    ExportConfig,
    GenTrtEngineConfig,
    InferenceConfig,
    TrtConfig,
)
from optical_inspection.config_train import (
    LOSSES,
    LR_SCHEDULERS,
    CheckpointerConfig,
    CuDNNConfig,
    OptimConfig,
    TensorBoardLogger,
    TrainConfig,
    WandBConfig,
)
from tao_skill.schema_gen.fields import config_field

__all__ = [
    "MODEL_TYPES",
    "EMBEDDED_ONLY_MODEL_TYPES",
    "LOSSES",
    "LR_SCHEDULERS",
    "DEFAULT_INPUT_MAP",
    "ModelConfig",
    "ExperimentConfig",
    "WandBConfig",
    "OptimConfig",
    "RandomFlip",
    "RandomRotation",
    "RandomColor",
    "RandomShift",
    "RandomDrift",
    "AugmentationConfig",
    "DataPathFormat",
    "DatasetConfig",
    "TensorBoardLogger",
    "CuDNNConfig",
    "CheckpointerConfig",
    "TrainConfig",
    "EvaluateConfig",
    "InferenceConfig",
    "ExportConfig",
    "CalibrationConfig",
    "TrtConfig",
    "GenTrtEngineConfig",
    "DatasetConvertConfig",
    "ACTIONS",
    "COMMON_KEYS",
    "RULES",
]

MODEL_TYPES = ["Siamese_Diff", "Siamese_Efficient", "Siamese", "Siamese_3"]
#: Model types only the embedded trainer has (TAO's container lacks them); the runtime refuses them for docker.
EMBEDDED_ONLY_MODEL_TYPES = ["Siamese_Diff", "Siamese_Efficient"]


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
