"""What this process may use and what it used: CPU cores (affinity and cgroup quota), torch threads, peak memory.

PyTorch sizes its thread pool from the machine's physical cores; in a container with a CPU quota, or under a CPU
affinity mask, that is more threads than the process may run, and OpenMP threads that wait for each other at every
operator make a small model several times slower. The trainer therefore sizes the pool from the cores it is
allowed, leaves one core per busy data-loading worker, and honours ``OMP_NUM_THREADS`` when it is set. Its
OpenMP threads also wait passively (``OMP_WAIT_POLICY=PASSIVE`` unless set): by default they spin at every barrier,
which on a machine busy with other work made a 2-thread training step 4-20x slower than one thread (measured on a
loaded 2-core machine: Siamese_Diff steps at batch 32, 7-14 pairs/s spinning, 56-140 passive, 56 with one thread).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = [
    "affinity_cpus",
    "allowed_cpus",
    "compute_threads",
    "configure_threads",
    "passive_openmp_waits",
    "peak_rss_mib",
]

_CGROUP = Path("/sys/fs/cgroup")


def _cgroup_quota(root: Path = _CGROUP) -> float | None:
    """CPUs granted by the cgroup's CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``); None when unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max" and float(period) > 0:
            return float(quota) / float(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = float((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = float((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def affinity_cpus() -> int:
    """Cores in this process's CPU affinity mask (which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def allowed_cpus(cgroup_root: Path = _CGROUP) -> int:
    """Cores this process may run on: its affinity mask, capped by the cgroup's CPU quota (rounded up)."""
    cpus = affinity_cpus()
    quota = _cgroup_quota(cgroup_root)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def compute_threads(busy_workers: int = 0, env: dict[str, str] | None = None, cpus: int | None = None) -> int:
    """Torch threads for the main process: ``OMP_NUM_THREADS`` when set, else the allowed cores less one per busy
    data-loading worker (at least 1)."""
    env = os.environ if env is None else env
    text = env.get("OMP_NUM_THREADS", "").strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    cpus = allowed_cpus() if cpus is None else cpus
    return max(1, cpus - max(0, int(busy_workers)))


def configure_threads(busy_workers: int = 0) -> int:
    """Set torch's intra-op thread count (see :func:`compute_threads`); returns it."""
    import torch

    threads = compute_threads(busy_workers)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def passive_openmp_waits(env: dict[str, str] | None = None) -> bool:
    """Ask OpenMP threads to sleep rather than spin while they wait, unless ``OMP_WAIT_POLICY`` is already set.
    Takes effect only before torch (its OpenMP runtime) is loaded; returns whether it was set here."""
    env = os.environ if env is None else env
    if env.get("OMP_WAIT_POLICY"):
        return False
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def peak_rss_mib() -> float | None:
    """Peak resident memory of this process so far, in MiB (Linux VmHWM); None where /proc is not available."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None
