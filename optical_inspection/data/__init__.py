"""The trainer's data side: dataset CSVs, pair images, caches, augmentation and loaders (TAO-COMPAT section 2)."""

from optical_inspection.data.csv_table import REQUIRED_COLUMNS, DatasetTable, read_dataset_csv
from optical_inspection.data.errors import DatasetError
from optical_inspection.data.layout import TileLayout, input_shape, tile_layout
from optical_inspection.data.loader import build_dataloader, sampler_weights, training_sampler
from optical_inspection.data.pair_dataset import PairDataset, build_dataset

__all__ = [
    "REQUIRED_COLUMNS",
    "DatasetError",
    "DatasetTable",
    "PairDataset",
    "TileLayout",
    "build_dataloader",
    "build_dataset",
    "input_shape",
    "read_dataset_csv",
    "sampler_weights",
    "tile_layout",
    "training_sampler",
]
