"""Helpers shared by the tasks: results folder set-up, device choice, rank detection."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from optical_inspection import console
from optical_inspection.spec import dump_spec, task_results_dir
from optical_inspection.status import StatusLogger

__all__ = ["prepare_results", "is_rank_zero", "setup_logging"]


def is_rank_zero() -> bool:
    """False in the extra processes Lightning's DDP launcher starts (they carry LOCAL_RANK/NODE_RANK > 0)."""
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0


def prepare_results(cfg: Any, task: str) -> tuple[Path, StatusLogger]:
    """Create ``<task>`` results folder, write ``experiment.yaml`` (secrets redacted); return it and its logger."""
    results = task_results_dir(cfg, task)
    rank0 = is_rank_zero()
    if rank0:
        results.mkdir(parents=True, exist_ok=True)
        dump_spec(cfg, results / "experiment.yaml")
    return results, StatusLogger(results, enabled=rank0)


def setup_logging(verbose: bool = False) -> None:
    """Root logging to stderr, one line per record, third-party noise filtered (:mod:`optical_inspection.console`)."""
    console.setup_logging(verbose)
