"""Agent-time runtime for TAO skills: skill contract -> validated plan -> job -> launcher. Never imports torch.

The public API (``tao_skill.plan``, ``tao_skill.run``, ...) is loaded on first use so ``import tao_skill`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "plan",
    "run",
    "status",
    "logs",
    "cancel",
    "jobs",
    "checkpoints",
    "wait",
    "list_skills",
    "describe",
    "UserError",
    "RuntimeFailure",
    "Issue",
    "Request",
]


def __getattr__(name: str) -> Any:
    if name in ("UserError", "RuntimeFailure", "Issue"):
        from tao_skill import errors

        return getattr(errors, name)
    if name == "Request":
        from tao_skill.request import Request

        return Request
    if name in __all__:
        from tao_skill import api

        return getattr(api, name)
    raise AttributeError(f"module 'tao_skill' has no attribute {name!r}")
