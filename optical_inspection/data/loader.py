"""DataLoaders for training and evaluation, with TAO's defect-oversampling training sampler.

Training: a ``WeightedRandomSampler`` with replacement, weight 1 for PASS and ``(n_pass / n_defect) *
fpratio_sampling`` for defects, ``num_samples`` = CSV length, seeded; ``drop_last``; batch size must be > 1 (the
model has BatchNorm1d). Workers are persistent so that their tile caches live across epochs.

Speed design (measured by ``benchmarks/bench_loader.py`` on a 2-core machine): the tile cache removes decoding
after the first epoch, batches are assembled whole (``PairDataset.__getitems__``) with single-threaded torch ops,
and workers send uint8 batches that :class:`PairLoader` normalises on arrival. Moving float32 batches between
processes costs more than building them from the cache, so with few cores ``workers=0`` is the fastest once the
cache is warm; workers pay off for the first (decoding) epoch and on machines with more cores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, WeightedRandomSampler

from optical_inspection.data.csv_table import DatasetTable
from optical_inspection.data.errors import DatasetError
from optical_inspection.data.pair_dataset import build_dataset, collate_pairs, one_torch_thread
from optical_inspection.data.seeds import derived_generator
from optical_inspection.machine import configure_threads

__all__ = [
    "PairLoader",
    "EpochWeightedSampler",
    "build_dataloader",
    "sampler_weights",
    "training_sampler",
    "worker_init",
]


def sampler_weights(table: DatasetTable, fpratio_sampling: float) -> np.ndarray:
    """Per-row sampling weights; raise :class:`DatasetError` when a class is missing."""
    n_defect, n_pass = table.n_defect, table.n_pass
    if n_defect == 0:
        raise DatasetError(
            f"The training set {table.path} has no defect rows (every label is exactly PASS); the weighted sampler "
            "needs at least one defect (TAO fails here with a division by zero). Add defect pairs (any label other "
            "than PASS) to the training CSV."
        )
    if n_pass == 0:
        raise DatasetError(
            f"The training set {table.path} has no PASS rows; a Siamese model needs good pairs too. Add rows "
            "labelled exactly PASS (near-misses such as 'pass' count as defects)."
        )
    if fpratio_sampling <= 0:
        raise DatasetError(
            f"dataset.fpratio_sampling is {fpratio_sampling}: defects would never be sampled. Use a value in (0, 1]."
        )
    defect_weight = (n_pass / n_defect) * fpratio_sampling
    return np.where(table.labels == 1, defect_weight, 1.0).astype(np.float64)


class EpochWeightedSampler(WeightedRandomSampler):
    """TAO's weighted sampler (with replacement) whose draws in epoch ``e`` come from a generator seeded by
    ``(seed, e)``: a resumed run draws in its remaining epochs the rows an uninterrupted run would have drawn.

    Lightning calls :meth:`set_epoch` before each epoch (also through its distributed wrapper); without it each
    iteration counts as the next epoch. Without a seed the draws come from torch's global generator.
    """

    def __init__(self, weights: torch.Tensor, num_samples: int, seed: int | None) -> None:
        super().__init__(weights, num_samples=num_samples, replacement=True)
        self.seed = seed
        self.epoch: int | None = None
        self._iterations = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self):
        epoch = self.epoch if self.epoch is not None else self._iterations
        self._iterations += 1
        if self.seed is not None:
            self.generator = derived_generator(self.seed, "sampler", epoch)
        return super().__iter__()


def training_sampler(table: DatasetTable, fpratio_sampling: float, seed: int | None) -> EpochWeightedSampler:
    """TAO's weighted sampler, drawing ``len(table)`` rows with replacement (seeded per epoch)."""
    weights = torch.as_tensor(sampler_weights(table, fpratio_sampling))
    return EpochWeightedSampler(weights, num_samples=len(table), seed=seed)


class PairLoader(DataLoader):
    """A DataLoader over a :class:`PairDataset` whose workers send uint8 batches, normalised here on arrival.

    Moving float32 batches between processes costs more than decoding from the cache; uint8 is a quarter of the
    bytes and the one-pass normalisation is cheap. Batches come out exactly as ``PairDataset`` builds them. With
    ``pin_memory`` (GPU runs) workers send final float32 batches, which the pin-memory thread pins.

    Once the first epoch has gone through the workers, a CPU run with the shared tile cache builds its batches in this
    process: one gather from shared memory costs less than receiving a batch from a worker, so the workers only pay
    off while decoding. The batches and their order are the same (the sampler is drawn in this process either way).
    """

    def __iter__(self):
        dataset = self.dataset
        if self._serve_in_process():
            configure_threads(busy_workers=0)  # the workers idle from now on: the cores are the model's
            yield from self._iter_in_process()
            return
        configure_threads(busy_workers=self.num_workers)
        self._worker_epochs = getattr(self, "_worker_epochs", 0) + 1
        # with pinned memory (GPU) the batch must arrive final, else the pinned copy would be thrown away
        dataset.defer_normalisation = self.num_workers > 0 and not self.pin_memory
        try:
            for batch in super().__iter__():
                if isinstance(batch, tuple) and batch[0].dtype == torch.uint8:
                    with one_torch_thread():
                        batch = (dataset.normalise(batch[0]), dataset.normalise(batch[1]), batch[2], batch[3])
                yield batch
        except Exception:
            self._stop_workers()  # a data error ends the run: do not leave persistent workers to time out later
            raise

    def _serve_in_process(self) -> bool:
        """Whether this epoch's batches are built here: a CPU run with workers whose shared tile cache is complete.
        After a first epoch through the workers, the tiles its draws did not reach (a training sampler draws with
        replacement) are decoded here on threads, so later epochs need no worker."""
        cache = getattr(self.dataset, "cache", None)
        if (
            self.num_workers == 0
            or self.batch_sampler is None
            or self.pin_memory
            or getattr(cache, "kind", "") != "shared"
        ):
            return False
        if not cache.complete and getattr(self, "_worker_epochs", 0) > 0:
            self.dataset.preload()
        return bool(cache.complete)

    def _iter_in_process(self):
        self.dataset.defer_normalisation = False
        for indices in self.batch_sampler:
            yield self.collate_fn(self.dataset.__getitems__(list(indices)))

    def _stop_workers(self) -> None:
        iterator = getattr(self, "_iterator", None)
        shutdown = getattr(iterator, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
            self._iterator = None


def worker_init(_: int) -> None:
    torch.set_num_threads(1)  # decoding workers must not fight the training process for cores


def build_dataloader(
    cfg: Any,
    split: str,
    *,
    train: bool,
    batch_size: int | None = None,
    workers: int | None = None,
    seed: int | None = None,
    drop_last: bool | None = None,
    cache: str = "auto",
) -> DataLoader:
    """DataLoader of ``cfg.dataset.<split>_dataset``; ``train=True``: weighted sampler, augmentation, drop_last."""
    batch_size = int(cfg.dataset.batch_size if batch_size is None else batch_size)
    workers = int(cfg.dataset.workers if workers is None else workers)
    if batch_size < 1:
        raise DatasetError(f"dataset.batch_size must be >= 1, got {batch_size}.")
    if train and batch_size < 2:
        raise DatasetError(
            f"Training batch size must be > 1 (got {batch_size}): the model's BatchNorm layers need at least two "
            "pairs per batch. Set dataset.batch_size to 2 or more."
        )
    if seed is None:
        train_seed = getattr(getattr(cfg, "train", None), "seed", None)
        seed = int(train_seed) if train_seed is not None and int(train_seed) >= 0 else None
    drop_last = train if drop_last is None else drop_last
    dataset = build_dataset(cfg, split, train=train, cache=cache, seed=seed)
    sampler = None
    if train:
        sampler = training_sampler(dataset.table, float(cfg.dataset.fpratio_sampling), seed)
        if drop_last and len(dataset) < batch_size:
            raise DatasetError(
                f"The training set {dataset.table.path} has {len(dataset)} rows, fewer than the batch size "
                f"{batch_size}; with drop_last no batch would be trained. Lower dataset.batch_size or add rows."
            )
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return PairLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        shuffle=False,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=torch.cuda.is_available(),
        drop_last=drop_last,
        worker_init_fn=worker_init if workers > 0 else None,
        generator=generator,
        collate_fn=collate_pairs,
    )
