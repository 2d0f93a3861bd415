"""One side (test or golden) of chosen rows of a :class:`PairDataset`, as a dataset of single images.

Dataset scoring embeds every test image once and every DISTINCT golden image once (a golden image is shared by
the rows of every board), instead of embedding both sides of every pair. Items come from the pair dataset's tile
cache; batches are uint8 (B, 3, H', W') tensors, normalised in the main process (a quarter of the bytes to move
between processes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from optical_inspection.data.loader import worker_init
from optical_inspection.data.pair_dataset import PairDataset, one_torch_thread

__all__ = ["ImageView", "image_batches"]


class ImageView(Dataset):
    """Images of ``side`` ('test' or 'golden') of ``rows`` of a pair dataset, in that order."""

    def __init__(self, pairs: PairDataset, rows: np.ndarray, side: str) -> None:
        if side not in ("test", "golden"):
            raise ValueError(f"side must be 'test' or 'golden', got {side!r}")
        self.pairs = pairs
        self.rows = np.asarray(rows, dtype=np.int64)
        self.side = side

    def __len__(self) -> int:
        return len(self.rows)

    def __getitems__(self, indices: list[int]) -> torch.Tensor:
        with one_torch_thread():
            return self.pairs.side_tiles(self.rows[np.asarray(indices, dtype=np.int64)], self.side)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.__getitems__([int(index)])[0]


def _keep_batch(batch: Any) -> Any:
    return batch


def image_batches(pairs: PairDataset, rows: np.ndarray, side: str, batch_size: int, workers: int):
    """Yield normalised float32 (B, 3, H', W') batches of one side of ``rows``, in order."""
    loader = DataLoader(
        ImageView(pairs, rows, side),
        batch_size=max(int(batch_size), 1),
        shuffle=False,
        num_workers=int(workers),
        worker_init_fn=worker_init if workers > 0 else None,
        collate_fn=_keep_batch,
    )
    for batch in loader:
        with one_torch_thread():
            yield pairs.normalise(batch)
