"""What each action of the Optical Inspection experiment spec reads and needs, and the rules between its keys.

The schema generator emits one schema per :data:`ACTIONS` entry and writes :data:`RULES` into them as ``x-rules``
(the runtime's validator applies them); ``optical_inspection.config`` re-exports all three.
"""

from tao_skill.schema_gen.fields import ActionSpec, CrossKeyRule

#: Top-level keys every action reads.
COMMON_KEYS = ("model_name", "encryption_key", "results_dir", "wandb")

#: What each action reads and needs; the schema generator emits one schema per entry.
ACTIONS = (
    ActionSpec(
        "train",
        sections=("model", "dataset", "train"),
        required=(
            "dataset.train_dataset.csv_path",
            "dataset.train_dataset.images_dir",
            "dataset.validation_dataset.csv_path",
            "dataset.validation_dataset.images_dir",
        ),
        trains=True,
        description="Train a Siamese optical inspection model.",
    ),
    ActionSpec(
        "evaluate",
        sections=("model", "dataset", "evaluate"),
        required=(
            "dataset.test_dataset.csv_path",
            "dataset.test_dataset.images_dir",
            "evaluate.checkpoint|evaluate.trt_engine",
        ),
        description="Evaluate a model on dataset.test_dataset.",
    ),
    ActionSpec(
        "inference",
        sections=("model", "dataset", "inference"),
        required=(
            "dataset.infer_dataset.csv_path",
            "dataset.infer_dataset.images_dir",
            "inference.checkpoint|inference.trt_engine",
        ),
        description="Score pairs of dataset.infer_dataset.",
    ),
    ActionSpec(
        "export",
        sections=("model", "dataset", "export"),
        required=("export.checkpoint",),
        description="Export a checkpoint to ONNX.",
    ),
    ActionSpec(
        "gen_trt_engine",
        sections=("dataset", "gen_trt_engine"),
        required=("gen_trt_engine.onnx_file", "gen_trt_engine.trt_engine"),
        description="Build a TensorRT engine from an exported ONNX model.",
    ),
)

#: Rules between keys, applied by the runtime's validator (written into the schemas as ``x-rules``).
RULES = (
    CrossKeyRule(
        "num_input_matches_input_map",
        check="dataset.num_input == len(dataset.input_map)",
        path="dataset.num_input",
        message="dataset.num_input={dataset.num_input} but dataset.input_map has {len(dataset.input_map)} light(s)",
        hint="set num_input={len(dataset.input_map)} or change dataset.input_map",
    ),
    CrossKeyRule(
        "train_batch_size",
        check="dataset.batch_size > 1",
        path="dataset.batch_size",
        message="training needs dataset.batch_size > 1 (BatchNorm cannot normalise one sample)",
        hint="set batch_size=2 or more",
        actions=("train",),
    ),
    CrossKeyRule(
        "interval_le_num_epochs",
        check="train.checkpoint_interval_unit != 'epoch' or train.checkpoint_interval <= train.num_epochs",
        path="train.checkpoint_interval",
        message="train.checkpoint_interval={train.checkpoint_interval} is larger than "
        "train.num_epochs={train.num_epochs}: it would never happen",
        hint="set train.checkpoint_interval to at most {train.num_epochs}",
    ),
    CrossKeyRule(
        "interval_le_num_epochs",
        check="train.validation_interval <= train.num_epochs",
        path="train.validation_interval",
        message="train.validation_interval={train.validation_interval} is larger than "
        "train.num_epochs={train.num_epochs}: it would never happen",
        hint="set train.validation_interval to at most {train.num_epochs}",
    ),
)
