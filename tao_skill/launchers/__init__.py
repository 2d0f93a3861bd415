"""Launchers run a job's command: ``local`` (a detached process) or ``docker`` (TAO's container)."""

from __future__ import annotations

from tao_skill.errors import UserError
from tao_skill.launchers._base import Launcher, LaunchHandle, PollResult

__all__ = ["Launcher", "LaunchHandle", "PollResult", "get_launcher", "BACKENDS"]

BACKENDS = ("local", "docker")


def get_launcher(backend: str) -> Launcher:
    """The launcher for a backend name (imported lazily: ``docker`` needs the docker SDK only when used)."""
    if backend == "local":
        from tao_skill.launchers.local import LocalLauncher

        return LocalLauncher()
    if backend == "docker":
        from tao_skill.launchers.docker import DockerLauncher

        return DockerLauncher()
    raise UserError.single(
        "backend", f"unknown backend '{backend}'", rule="enum", value=backend, hint=f"one of: {', '.join(BACKENDS)}"
    )
