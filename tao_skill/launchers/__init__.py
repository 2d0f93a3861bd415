"""Launchers run a job's command: ``local`` (a detached process), ``docker`` (TAO's container) or ``ray`` (a job
on a Ray cluster).

Each backend is a :class:`Launcher` subclass named in :data:`BACKENDS` and imported on first use (``docker`` needs
the Docker SDK only when it is used, ``ray`` Ray's job client only to submit).
"""

from __future__ import annotations

import importlib

from tao_skill.errors import UserError
from tao_skill.launchers._base import Launcher, LaunchHandle, PollResult

__all__ = ["Launcher", "LaunchHandle", "PollResult", "get_launcher", "launcher_class", "BACKENDS"]

#: Backend name -> ``module:Class`` of its launcher.
BACKENDS = {
    "local": "tao_skill.launchers.local:LocalLauncher",
    "docker": "tao_skill.launchers.docker:DockerLauncher",
    "ray": "tao_skill.launchers.ray:RayLauncher",
}


def launcher_class(backend: str) -> type[Launcher]:
    """The launcher class of a backend name (a UserError listing the backends when unknown)."""
    target = BACKENDS.get(backend)
    if target is None:
        raise UserError.single(
            "backend", f"unknown backend '{backend}'", rule="enum", value=backend, hint=f"one of: {', '.join(BACKENDS)}"
        )
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def get_launcher(backend: str) -> Launcher:
    """A launcher for a backend name."""
    return launcher_class(backend)()
