"""Caches of decoded, resized uint8 tiles (3, H, W), keyed by the tile's index in the dataset's list of unique
(path, size) keys. Golden tiles are shared by many rows, and every tile is reused every epoch.

- :class:`SharedTileStore`: one slab of shared memory for every unique tile, filled lazily by whichever process
  decodes a tile first (DataLoader workers included), so no tile is decoded twice across workers or epochs. Used
  when the whole dataset fits the memory budget.
- :class:`LruTileCache`: an in-process LRU bounded in bytes; each worker keeps its own (persistent workers keep
  it across epochs). Used when the dataset does not fit.
- :class:`NoCache`: decode every time (TAO's behaviour; the benchmark baseline).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch.utils.data import get_worker_info

__all__ = ["TileCache", "NoCache", "LruTileCache", "SharedTileStore", "make_tile_cache", "cache_budget_bytes"]

Loader = Callable[[], np.ndarray]
_log = logging.getLogger(__name__)

#: Environment overrides of the memory budgets (MiB).
SHARED_BUDGET_ENV = "OI_LOADER_SHARED_CACHE_MB"
LRU_BUDGET_ENV = "OI_LOADER_LRU_CACHE_MB"
_DEFAULT_SHARED_MB = 4096
_DEFAULT_LRU_MB = 512


class TileCache:
    """Interface: ``get(index, load)`` returns the tile, calling ``load()`` on a miss."""

    kind = "base"

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0

    def get(self, index: int, load: Loader) -> np.ndarray:
        raise NotImplementedError

    def get_many(self, indices: np.ndarray, load: Callable[[int], np.ndarray]) -> np.ndarray:
        """Tiles ``indices`` (any shape) stacked as ``indices.shape + (3, H, W)``; ``load(i)`` decodes tile i."""
        decoded = dict(zip(*_decode_parallel(self._absent(np.unique(indices)), load), strict=True))
        flat = [self.get(int(i), lambda i=int(i): decoded.pop(i) if i in decoded else load(i)) for i in indices.ravel()]
        return np.stack(flat).reshape(*indices.shape, *flat[0].shape)

    def _absent(self, unique: np.ndarray) -> list[int]:
        """Tiles of ``unique`` not held (decoded ahead in parallel by ``get_many``)."""
        return [int(i) for i in unique]


class NoCache(TileCache):
    """Decode on every access."""

    kind = "none"

    def get(self, index: int, load: Loader) -> np.ndarray:
        self.misses += 1
        return load()


class LruTileCache(TileCache):
    """Least-recently-used tiles up to ``max_bytes`` in this process."""

    kind = "lru"

    def __init__(self, max_bytes: int) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._tiles: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tiles)

    def _absent(self, unique: np.ndarray) -> list[int]:
        return [int(i) for i in unique if int(i) not in self._tiles]

    def get(self, index: int, load: Loader) -> np.ndarray:
        tile = self._tiles.get(index)
        if tile is not None:
            self._tiles.move_to_end(index)
            self.hits += 1
            return tile
        self.misses += 1
        tile = load()
        if tile.nbytes <= self.max_bytes:
            self._tiles[index] = tile
            self.nbytes += tile.nbytes
            while self.nbytes > self.max_bytes:
                _, old = self._tiles.popitem(last=False)
                self.nbytes -= old.nbytes
        return tile


def shared_empty(shape: tuple[int, ...], dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    """A tensor allocated straight in shared memory (its fresh pages read as zeros), without a private copy first."""
    count = int(np.prod(shape))
    try:
        storage = torch.UntypedStorage._new_shared(count * dtype.itemsize)
        return torch.empty(0, dtype=dtype).set_(storage).view(shape)
    except (AttributeError, TypeError):  # private API gone in some torch: allocate, then move to shared memory
        return torch.zeros(shape, dtype=dtype).share_memory_()


class SharedTileStore(TileCache):
    """A shared-memory slab (n, 3, H, W) plus a filled flag per tile; survives worker start-up by fork or spawn."""

    kind = "shared"

    def __init__(self, n_tiles: int, height: int, width: int) -> None:
        super().__init__()
        self._slab = shared_empty((n_tiles, 3, height, width))
        self._filled = shared_empty((n_tiles,))
        self._views()

    def _views(self) -> None:
        self._slab_np = self._slab.numpy()
        self._filled_np = self._filled.numpy()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_slab_np", None)
        state.pop("_filled_np", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._views()

    @property
    def filled(self) -> int:
        """Number of tiles decoded so far by any process."""
        return int(self._filled_np.sum())

    @property
    def complete(self) -> bool:
        """Every tile decoded (by any process)."""
        return bool(self._filled_np.all())

    def get(self, index: int, load: Loader) -> np.ndarray:
        if self._filled_np[index]:
            self.hits += 1
            return self._slab_np[index]
        self.misses += 1
        tile = load()
        self._slab_np[index] = tile
        self._filled_np[index] = 1  # written after the data: a reader never sees a half-filled flagged tile
        return self._slab_np[index]

    def get_many(self, indices: np.ndarray, load: Callable[[int], np.ndarray]) -> np.ndarray:
        """One fancy-index gather from the slab after decoding the tiles no process has filled yet."""
        wanted = np.unique(indices)
        missing = wanted[self._filled_np[wanted] == 0]
        for index, tile in zip(*_decode_parallel([int(i) for i in missing], load), strict=True):
            self._slab_np[index] = tile
            self._filled_np[index] = 1
        self.misses += len(missing)
        self.hits += indices.size - len(missing)
        return self._slab_np[indices]


_MIN_PARALLEL = 4
_executor: tuple[int, ThreadPoolExecutor] | None = None


def _decode_parallel(indices: list[int], load: Callable[[int], np.ndarray]) -> tuple[list[int], list[np.ndarray]]:
    """Decode tiles; in the main process (not in DataLoader workers) on a small thread pool, as Pillow releases
    the GIL while decoding and resizing."""
    global _executor
    if len(indices) < _MIN_PARALLEL or get_worker_info() is not None or (os.cpu_count() or 1) < 2:
        return indices, [load(i) for i in indices]
    if _executor is None or _executor[0] != os.getpid():  # threads do not survive fork: one pool per process
        _executor = (os.getpid(), ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)))
    return indices, list(_executor[1].map(load, indices))


def cache_budget_bytes(kind: str) -> int:
    """Memory budget of a cache kind (``shared`` or ``lru``), from the environment or the defaults."""
    env, default = (SHARED_BUDGET_ENV, _DEFAULT_SHARED_MB) if kind == "shared" else (LRU_BUDGET_ENV, _DEFAULT_LRU_MB)
    try:
        return int(float(os.environ.get(env, default)) * 2**20)
    except ValueError:
        _log.warning("%s=%r is not a number of MiB; using %d.", env, os.environ.get(env), default)
        return default * 2**20


def _shm_free_bytes() -> int | None:
    try:
        return shutil.disk_usage("/dev/shm").free
    except OSError:
        return None


def make_tile_cache(kind: str, n_tiles: int, height: int, width: int) -> TileCache:
    """Build a cache; ``auto`` picks the shared slab when it fits the budget (and half of /dev/shm), else an LRU."""
    if kind not in ("auto", "shared", "lru", "none"):
        raise ValueError(f"tile cache must be auto, shared, lru or none, got {kind!r}")
    if kind == "none":
        return NoCache()
    need = n_tiles * height * width * 3
    if kind == "auto":
        shm_free = _shm_free_bytes()
        fits = need <= cache_budget_bytes("shared") and (shm_free is None or need <= shm_free // 2)
        kind = "shared" if fits else "lru"
        if not fits:
            _log.info("Tile cache: %.0f MiB of tiles exceed the shared budget; using a per-worker LRU.", need / 2**20)
    if kind == "shared":
        try:
            return SharedTileStore(n_tiles, height, width)
        except (RuntimeError, OSError) as exc:
            _log.warning("Shared tile cache unavailable (%s); using a per-worker LRU.", exc)
    return LruTileCache(cache_budget_bytes("lru"))
