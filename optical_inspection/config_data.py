"""Dataset keys of the Optical Inspection spec (``dataset.*``): the CSV splits, image layout and augmentation.

Part of the experiment config (``optical_inspection.config``); keys and names follow TAO's spec. No torch import here.
"""

from dataclasses import dataclass
from typing import Optional

from tao_skill.schema_gen.fields import config_field

__all__ = [
    "DEFAULT_INPUT_MAP",
    "RandomFlip",
    "RandomRotation",
    "RandomColor",
    "RandomShift",
    "RandomDrift",
    "AugmentationConfig",
    "DataPathFormat",
    "DatasetConfig",
]

DEFAULT_INPUT_MAP = {"LowAngleLight": 0, "SolderLight": 1, "UniformLight": 2, "WhiteLight": 3}


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
