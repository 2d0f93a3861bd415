"""AutoML for the train action: Optuna studies whose trials are train jobs of the runtime.

Public API: :func:`launch` (used by ``runtime.api.run`` on the AutoML route), :func:`run_worker`, :func:`resume`,
:func:`cancel`, :func:`refresh`, :func:`report`, :func:`build_search_space`, :class:`Settings`. Names load on first
use, so ``tao-skill`` stays quick to start.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ALGORITHMS": "runtime.automl.settings",
    "Settings": "runtime.automl.settings",
    "parse_settings": "runtime.automl.settings",
    "Param": "runtime.automl.search_space",
    "SearchSpace": "runtime.automl.search_space",
    "build_search_space": "runtime.automl.search_space",
    "cancel": "runtime.automl.study",
    "launch": "runtime.automl.study",
    "refresh": "runtime.automl.study",
    "resume": "runtime.automl.study",
    "run_worker": "runtime.automl.study",
    "report": "runtime.automl.report",
    "format_report": "runtime.automl.report",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'runtime.automl' has no attribute {name!r}")
