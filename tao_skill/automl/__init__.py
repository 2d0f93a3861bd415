"""AutoML for the train action: Optuna studies whose trials are train jobs of the runtime.

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
    "cancel": "tao_skill.automl.study",
    "launch": "tao_skill.automl.study",
    "refresh": "tao_skill.automl.study",
    "resume": "tao_skill.automl.study",
    "run_worker": "tao_skill.automl.study",
    "report": "tao_skill.automl.report",
    "format_report": "tao_skill.automl.report",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tao_skill.automl' has no attribute {name!r}")
