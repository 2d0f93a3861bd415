"""Where the runtime keeps its state: ``$TAO_SKILL_HOME`` (default ``~/.tao-skill``) and the skill bank root."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["skill_home", "skills_root", "results_root", "data_cache_root"]

_PACKAGE_ROOT = Path(__file__).resolve().parent


def skill_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The state folder: ``home`` if given, else ``$TAO_SKILL_HOME``, else ``~/.tao-skill``."""
    if home is not None:
        return Path(home).expanduser()
    env = os.environ.get("TAO_SKILL_HOME")
    return Path(env).expanduser() if env else Path.home() / ".tao-skill"


def skills_root() -> Path:
    """The skill bank: ``$TAO_SKILL_BANK`` if set; else the skills bundled in an installed wheel
    (``tao_skill/_skills``); else the repository's ``skills/`` folder (a source checkout or editable install)."""
    env = os.environ.get("TAO_SKILL_BANK")
    if env:
        return Path(env).expanduser()
    bundled = _PACKAGE_ROOT / "_skills"
    return bundled if bundled.is_dir() else _PACKAGE_ROOT.parent / "skills"


def results_root(home: str | os.PathLike[str] | None = None) -> Path:
    """Parent of every job's results folder (``<home>/results``)."""
    return skill_home(home) / "results"


def data_cache_root(home: str | os.PathLike[str] | None = None) -> Path:
    """Where staged data sources are cached (``<home>/data``)."""
    return skill_home(home) / "data"
