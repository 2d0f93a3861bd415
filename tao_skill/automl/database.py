"""A study's database: the default storage from the environment, and whether a storage URL answers.

A study on a database server (PostgreSQL through Optuna's RDB storage) is reachable from every machine: workers
on other hosts join it, and a resume needs nothing from the machine that started it. SQLAlchemy (Optuna's own
dependency) is imported only to probe.
"""

from __future__ import annotations

__all__ = ["STORAGE_ENV", "probe_storage"]

#: The default study storage (e.g. a PostgreSQL URL a whole team reaches) when a study names none.
STORAGE_ENV = "TAO_SKILL_AUTOML_STORAGE"


def probe_storage(url: str, timeout: float = 5.0) -> tuple[bool, str]:
    """(reachable, what was found) for an Optuna storage URL; a journal file is checked for its folder."""
    from tao_skill.automl.storage import safe_url

    shown = safe_url(url)
    if url.startswith("journal:"):
        from pathlib import Path

        folder = Path(url.removeprefix("journal:")).expanduser().parent
        return folder.is_dir() or not folder.exists(), f"journal file in {folder}"
    try:
        import sqlalchemy
    except ImportError:
        return False, f"{shown}: SQLAlchemy is not installed (the 'automl' extra)"
    connect_args = {"connect_timeout": int(timeout)} if url.startswith("postgresql") else {}
    try:
        engine = sqlalchemy.create_engine(url, connect_args=connect_args)
        with engine.connect() as conn:
            version = conn.execute(sqlalchemy.text("SELECT version()")).scalar() if "postgres" in url else "ok"
        engine.dispose()
    except ModuleNotFoundError as exc:
        return False, f"{shown}: the database driver is not installed ({exc.name}; the 'postgres' extra)"
    except Exception as exc:  # noqa: BLE001 - every failure to connect reads the same way
        first = str(exc).splitlines()[0][:200]
        return False, f"{shown} does not answer ({type(exc).__name__}: {first})"
    return True, f"{shown}: {str(version).split(',')[0]}"
