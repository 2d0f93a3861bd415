"""The Python API: plan, run, follow and chain jobs. The CLI and the MCP server call these functions.

The flow is request -> plan (:mod:`tao_skill.planning`, pure and fast: no download, no job record) -> job
(:mod:`tao_skill.launching`: stage, record, launch) -> results (:mod:`tao_skill.following`: state, logs, cancel,
checkpoints); :mod:`tao_skill.catalogue` says which skills exist and what they take.
"""

from __future__ import annotations

from tao_skill.catalogue import describe, list_skills
from tao_skill.following import cancel, checkpoints, follow, jobs, logs, status, wait
from tao_skill.launching import launch_plan, run
from tao_skill.planning import plan

__all__ = [
    "plan",
    "run",
    "status",
    "logs",
    "cancel",
    "jobs",
    "checkpoints",
    "wait",
    "follow",
    "list_skills",
    "describe",
    "launch_plan",
]
