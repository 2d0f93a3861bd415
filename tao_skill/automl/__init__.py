"""AutoML for the train action: Optuna studies whose trials are train jobs of the runtime.

Layout: :mod:`~tao_skill.automl.storage` (where a study lives), :mod:`~tao_skill.automl.objective` (one trial: plan,
launch, follow, report), :mod:`~tao_skill.automl.worker` (the trial loop and recovery),
:mod:`~tao_skill.automl.lifecycle` (launch, refresh, resume, cancel; the ``automl`` job kind), plus the search space,
settings, algorithms and report.

Public API: :func:`launch` (used by ``tao_skill.api.run`` on the AutoML route), :func:`run_worker`, :func:`resume`,
:func:`cancel`, :func:`refresh`, :func:`report`, :func:`build_search_space`, :class:`Settings`. Names load on first
use, so ``tao-skill`` stays quick to start.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ALGORITHMS": "tao_skill.automl.settings",
    "Settings": "tao_skill.automl.settings",
    "parse_settings": "tao_skill.automl.settings",
    "Param": "tao_skill.automl.search_space",
    "SearchSpace": "tao_skill.automl.search_space",
    "build_search_space": "tao_skill.automl.search_space",
    "cancel": "tao_skill.automl.lifecycle",
    "launch": "tao_skill.automl.lifecycle",
    "refresh": "tao_skill.automl.lifecycle",
    "resume": "tao_skill.automl.lifecycle",
    "run_worker": "tao_skill.automl.worker",
    "join": "tao_skill.automl.worker",
    "report": "tao_skill.automl.report",
    "format_report": "tao_skill.automl.report",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tao_skill.automl' has no attribute {name!r}")
