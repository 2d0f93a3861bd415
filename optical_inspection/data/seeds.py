"""Seeds derived from the run's seed and where a draw happens, so that a resumed run draws what an uninterrupted one
would have drawn (no generator state to carry between processes or into a checkpoint)."""

from __future__ import annotations

import hashlib

import torch

__all__ = ["derive_seed", "derived_generator"]


def derive_seed(seed: int, *keys: int | bytes | str) -> int:
    """A 63-bit seed that depends on ``seed`` and every key (an epoch, a batch's row indices...)."""
    digest = hashlib.blake2b(str(int(seed)).encode(), digest_size=8)
    for key in keys:
        digest.update(b"\0" + (key if isinstance(key, bytes) else str(key).encode()))
    return int.from_bytes(digest.digest(), "little") >> 1


def derived_generator(seed: int, *keys: int | bytes | str) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with :func:`derive_seed`."""
    return torch.Generator().manual_seed(derive_seed(seed, *keys))
