"""The (test, golden) pair dataset.

Pair order follows TAO: TAO's dataset returns ``(img0, img1, label)`` with img0 the image under test (the CSV's
``input_path``) and img1 the golden image (``golden_path``); its model is called as ``model(img0, img1)``, which
the ONNX export names ``input_1`` and ``input_2``. So here item[0] is the test image (ONNX ``input_1``) and item[1]
the golden image (ONNX ``input_2``).

Each item is ``(test, golden, label, index)``: two float32 (3, H', W') tensors normalised with
``rgb_input_mean/std`` (values in [0, 1] before), a float32 scalar label (1.0 = defect) and the CSV row index, so
that inference can write scores back to the right row.

Speed: decoded, resized uint8 tiles are cached (``tile_cache``: a lazily filled shared-memory slab when the dataset
fits the budget, else a per-worker LRU); ``__getitems__`` builds a whole batch with one gather from the cache and a
single uint8 -> normalised float32 pass, and a DataLoader using :func:`collate_pairs` takes that batch as is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset, get_worker_info

from optical_inspection.data.augment import PairAugmenter
from optical_inspection.data.csv_table import DatasetTable, format_rows, read_dataset_csv
from optical_inspection.data.errors import DatasetError
from optical_inspection.data.layout import TileLayout, image_path, tile_layout
from optical_inspection.data.tile_cache import TileCache, make_tile_cache, shared_empty

__all__ = ["PairDataset", "PairBatch", "build_dataset", "collate_pairs", "decode_tile", "SPLITS"]

#: Split name -> key of ``cfg.dataset``.
SPLITS = {
    "train": "train_dataset",
    "validation": "validation_dataset",
    "test": "test_dataset",
    "infer": "infer_dataset",
}
_SPLIT_ALIASES = {"val": "validation", "valid": "validation", "inference": "infer", "evaluate": "test"}
_log = logging.getLogger(__name__)


class PairBatch(list):
    """What ``PairDataset.__getitems__`` returns: a list of per-pair tuples (so torch's default collate works) that
    also carries the already-batched tensors, which :func:`collate_pairs` hands over without another copy."""

    def __init__(self, test: torch.Tensor, golden: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor) -> None:
        super().__init__((test[i], golden[i], labels[i], int(indices[i])) for i in range(len(indices)))
        self.tensors = (test, golden, labels, indices)


def collate_pairs(batch: list) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Collate for PairDataset loaders: (test, golden, labels (B,), row indices (B,) int64)."""
    if isinstance(batch, PairBatch):
        return batch.tensors
    return torch.utils.data.default_collate(batch)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch ops on one intra-op thread, then restore the setting.

    Batch assembly is a few memory-bound passes: splitting them over OpenMP threads gains little on an idle machine
    and loses several-fold when the cores are busy (the threads wait for each other at every op). Workers already
    run single-threaded; the main process switches only around data work.
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _output_tensor(shape: torch.Size, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Batch buffer; in a DataLoader worker it is allocated in shared memory, so that sending the batch to the
    main process does not copy it once more."""
    return shared_empty(tuple(shape), dtype) if get_worker_info() is not None else torch.empty(shape, dtype=dtype)


def decode_tile(path: Path, height: int, width: int) -> np.ndarray:
    """Decode an image file to RGB uint8 (height, width, 3), bilinear-resized with Pillow as TAO does (full decode,
    no JPEG draft mode, so the pixels match TAO's preprocessing)."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        if rgb.size != (width, height):
            rgb = rgb.resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)


class PairDataset(Dataset):
    """Pairs of a :class:`DatasetTable` with images under ``images_dir``."""

    def __init__(
        self,
        table: DatasetTable,
        images_dir: str | Path,
        layout: TileLayout,
        *,
        mean: tuple[float, float, float] = (0.485, 0.456, 0.406),
        std: tuple[float, float, float] = (0.229, 0.224, 0.225),
        augmenter: PairAugmenter | None = None,
        cache: str | TileCache = "auto",
        check_files: bool = True,
    ) -> None:
        self.table = table
        #: Set by :class:`PairLoader`: workers send uint8 batches (4x less to move between processes) and the
        #: loader normalises them in the main process.
        self.defer_normalisation = False
        self.images_dir = Path(images_dir)
        self.layout = layout
        self.augmenter = augmenter
        if len(mean) != 3 or len(std) != 3 or any(s <= 0 for s in std):
            raise DatasetError(
                f"augmentation_config.rgb_input_mean/std need 3 values each (std > 0), got {list(mean)} / {list(std)}."
            )
        self._mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        # uint8 -> normalised float in one multiply-subtract: x / 255 / std - mean / std
        self._scale = (1.0 / (255.0 * self._std)).contiguous()
        self._neg_shift = (-self._mean / self._std).contiguous()
        self.paths, self._test_ids, self._golden_ids = self._index_tiles()
        if check_files:
            self.check_files()
        if not isinstance(cache, TileCache):
            cache = make_tile_cache(cache, len(self.paths), layout.height, layout.width)
        self.cache = cache

    def _index_tiles(self) -> tuple[list[Path], np.ndarray, np.ndarray]:
        lights = self.layout.lights or (None,)
        index: dict[Path, int] = {}
        test_ids = np.empty((len(self.table), len(lights)), dtype=np.int64)
        golden_ids = np.empty_like(test_ids)
        for i, row in enumerate(self.table.rows):
            for j, light in enumerate(lights):
                for ids, column in ((test_ids, "input_path"), (golden_ids, "golden_path")):
                    path = image_path(self.images_dir, row[column], row["object_name"], light, self.layout.image_ext)
                    ids[i, j] = index.setdefault(path, len(index))
        return list(index), test_ids, golden_ids

    def _where(self, tile: int) -> tuple[int, str]:
        """First (row index, column) using a tile."""
        for ids, column in ((self._test_ids, "input_path"), (self._golden_ids, "golden_path")):
            hit = np.argwhere(ids == tile)
            if len(hit):
                return int(hit[0, 0]), column
        raise KeyError(tile)

    def check_files(self) -> None:
        """Raise :class:`DatasetError` naming the first missing image (CSV row, column, full path) and the count."""
        if not self.images_dir.is_dir():
            raise DatasetError(
                f"images_dir {self.images_dir} is not a folder (CSV {self.table.path}); point images_dir at the "
                "folder holding golden/ and the folders the CSV's input_path values name."
            )
        missing = [k for k, path in enumerate(self.paths) if not path.is_file()]
        if not missing:
            return
        row, column = self._where(missing[0])
        path = self.paths[missing[0]]
        rows = sorted({self.table.row_number(self._where(k)[0]) for k in missing[:200]})
        message = (
            f"{self.table.path} row {self.table.row_number(row)}, column {column}: image not found: {path}. "
            f"{len(missing)} of {len(self.paths)} image file(s) are missing ({format_rows(rows)}). "
            f"Expected images_dir/<{column}>/<object_name>"
            + ("_<Light>" if self.layout.lights else "")
            + f"{self.layout.image_ext or ''}"
            + (f" with lights {', '.join(self.layout.lights)}" if self.layout.lights else "")
            + "; check images_dir, image_ext and input_map."
        )
        nested = self.images_dir / "images"
        if nested.is_dir() and (nested / path.relative_to(self.images_dir)).is_file():
            message += f" The files exist under {nested}: set images_dir to that folder (the TAO-ready root)."
        raise DatasetError(message)

    def __len__(self) -> int:
        return len(self.table)

    def _decode(self, tile: int) -> np.ndarray:
        """Tile ``tile`` as contiguous uint8 (3, H, W); a missing or broken file is a DatasetError naming the row."""
        path = self.paths[tile]
        try:
            return np.ascontiguousarray(decode_tile(path, self.layout.height, self.layout.width).transpose(2, 0, 1))
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            row, column = self._where(tile)
            reason = "not found" if isinstance(exc, FileNotFoundError) else f"unreadable ({exc})"
            raise DatasetError(
                f"{self.table.path} row {self.table.row_number(row)}, column {column}: image {reason}: {path}. "
                "Replace or remove the file, or drop the row from the CSV."
            ) from None

    def _grid_view(self, tiles: torch.Tensor) -> torch.Tensor:
        """(B, n, 3, H, W) -> a (B, 3, rows, H, cols, W) view, tiles taken row by row (no copy)."""
        b, _, c, h, w = tiles.shape
        return tiles.view(b, self.layout.rows, self.layout.cols, c, h, w).permute(0, 3, 1, 4, 2, 5)

    def _join(self, tiles: torch.Tensor, normalise: bool) -> torch.Tensor:
        """(B, n, 3, H, W) -> contiguous (B, 3, rows*H, cols*W); with ``normalise``, uint8 -> normalised float32 in
        the same pass (cast while copying, then scale and shift in place)."""
        grid = self._grid_view(tiles)
        b, c, rows, h, cols, w = grid.shape
        if normalise and tiles.dtype == torch.uint8:
            out = _output_tensor(grid.shape).copy_(grid)
            out.mul_(self._scale.view(1, 3, 1, 1, 1, 1)).add_(self._neg_shift.view(1, 3, 1, 1, 1, 1))
        else:
            out = _output_tensor(grid.shape, tiles.dtype).copy_(grid)
            if normalise:
                out.sub_(self._mean.view(1, 3, 1, 1, 1, 1)).div_(self._std.view(1, 3, 1, 1, 1, 1))
        return out.view(b, c, rows * h, cols * w)

    def normalise(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 tiles (0..255) or floats in [0, 1] of shape (B, 3, H', W') -> float32 normalised with
        rgb_input_mean/std (a new tensor)."""
        if batch.dtype == torch.uint8:
            return _output_tensor(batch.shape).copy_(batch).mul_(self._scale).add_(self._neg_shift)
        return batch.sub(self._mean).div_(self._std)

    def __getitems__(self, indices: list[int]) -> PairBatch:
        """A whole batch at once: one gather from the tile cache and one normalising copy per side."""
        with one_torch_thread():
            return self._batch(np.asarray(indices, dtype=np.int64))

    def _batch(self, rows: np.ndarray) -> PairBatch:
        test = torch.from_numpy(self.cache.get_many(self._test_ids[rows], self._decode))
        golden = torch.from_numpy(self.cache.get_many(self._golden_ids[rows], self._decode))
        if self.augmenter is not None:  # uint8 in and out: the batch keeps the fast uint8 path below
            self.augmenter.reseed(rows.tobytes())
            pairs = [self.augmenter(t, g) for t, g in zip(test, golden, strict=True)]
            test = torch.stack([t for t, _ in pairs])
            golden = torch.stack([g for _, g in pairs])
        # in a PairLoader worker, uint8 batches travel to the main process, which normalises them on arrival
        final = not (self.defer_normalisation and test.dtype == torch.uint8 and get_worker_info() is not None)
        labels = torch.from_numpy(self.table.labels[rows].astype(np.float32))
        return PairBatch(self._join(test, final), self._join(golden, final), labels, torch.from_numpy(rows))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        test, golden, label, _ = self.__getitems__([int(index)]).tensors
        return test[0], golden[0], label[0], int(index)

    def preload(self, chunk: int = 256) -> int:
        """Decode every tile into the shared cache now (threads in this process), before workers start.

        Returns the number of tiles decoded; 0 when the cache is not the shared slab (an LRU would only thrash).
        """
        if self.cache.kind != "shared":
            return 0
        before = self.cache.misses
        for start in range(0, len(self.paths), chunk):
            self.cache.get_many(np.arange(start, min(start + chunk, len(self.paths))), self._decode)
        return self.cache.misses - before

    def golden_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """(first row of each distinct golden image, position of every row's golden image among them)."""
        _, first, inverse = np.unique(self._golden_ids, axis=0, return_index=True, return_inverse=True)
        return first.astype(np.int64), inverse.reshape(-1).astype(np.int64)

    def side_tiles(self, rows: np.ndarray, side: str) -> torch.Tensor:
        """uint8 (B, 3, rows*H, cols*W) images of the ``side`` ('test' or 'golden') of ``rows`` (no augmentation)."""
        ids = self._test_ids if side == "test" else self._golden_ids
        tiles = torch.from_numpy(self.cache.get_many(ids[np.asarray(rows, dtype=np.int64)], self._decode))
        return self._join(tiles, normalise=False)

    def tile_paths(self, index: int) -> tuple[list[Path], list[Path]]:
        """Image files of row ``index``: (test paths, golden paths) in light order."""
        return [self.paths[t] for t in self._test_ids[index]], [self.paths[t] for t in self._golden_ids[index]]


def _split_key(split: str) -> str:
    name = _SPLIT_ALIASES.get(split, split)
    if name not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return SPLITS[name]


def build_dataset(
    cfg: Any, split: str, *, train: bool, cache: str | TileCache = "auto", seed: int | None = None
) -> PairDataset:
    """The :class:`PairDataset` of ``cfg.dataset.<split>_dataset``; ``train=True`` enables augmentation (if set),
    its draws seeded per batch from ``seed`` (see :meth:`PairAugmenter.reseed`)."""
    key = _split_key(split)
    section = getattr(cfg.dataset, key)
    csv_path, images_dir = section.csv_path, section.images_dir
    unset = [name for name, value in (("csv_path", csv_path), ("images_dir", images_dir)) if not value]
    if unset:
        raise DatasetError(
            f"dataset.{key}.{' and '.join(unset)} {'is' if len(unset) == 1 else 'are'} not set; "
            f"give the dataset CSV and the image root folder, e.g. dataset.{key}.csv_path=<dir>/dataset.csv "
            f"dataset.{key}.images_dir=<dir>/images."
        )
    layout = tile_layout(cfg)
    table = read_dataset_csv(csv_path, require_label=key != "infer_dataset")
    aug = cfg.dataset.augmentation_config
    augmenter = PairAugmenter(aug, seed=seed) if train and aug.augment else None
    return PairDataset(
        table,
        images_dir,
        layout,
        mean=tuple(aug.rgb_input_mean),
        std=tuple(aug.rgb_input_std),
        augmenter=augmenter,
        cache=cache,
    )
