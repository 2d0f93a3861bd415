"""Keep freed memory in the process for reuse (glibc's malloc), instead of returning it to the system.

A training step on the CPU allocates and frees activation buffers of tens of MiB. glibc serves blocks above its mmap
threshold with fresh ``mmap`` pages and gives freed heap tops back to the system, so every step pays page faults to
zero those pages again. Raising the mmap and trim thresholds lets the next step reuse the same memory: measured with
``make bench``-like runs on a 2-core machine, Siamese_Efficient trains 1.15x faster at 64x64 and 1.9x at 128x128, and
Siamese_3 1.25x, for the same peak RSS (+3%). Jobs of the embedded trainer call :func:`retain_freed_memory` at start;
``OI_KEEP_FREED_MEMORY=0`` turns it off. Other C libraries (musl, macOS, Windows) are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

__all__ = ["ENV", "retain_freed_memory"]

ENV = "OI_KEEP_FREED_MEMORY"
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 1 << 30  # 1 GiB: larger blocks still come from mmap, and at most this much freed memory is kept
_log = logging.getLogger(__name__)


def retain_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; True when applied."""
    if os.environ.get(ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    applied = bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _THRESHOLD))
    _log.debug("glibc mmap/trim thresholds raised to %d bytes: %s", _THRESHOLD, applied)
    return applied
