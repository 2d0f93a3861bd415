"""Where a study lives: its Optuna storage (a journal file by default), its configuration file, and reading both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tao_skill._files import atomic_write
from tao_skill.automl.algorithms import make_pruner, make_sampler
from tao_skill.automl.search_space import SearchSpace, build_search_space
from tao_skill.automl.settings import Settings, parse_settings
from tao_skill.errors import UserError
from tao_skill.home import skill_home
from tao_skill.models import Job

__all__ = [
    "STUDY_FILE",
    "CONFIG_ATTR",
    "FINISHED",
    "default_storage",
    "open_storage",
    "load_study",
    "read_config",
    "write_config",
    "safe_url",
    "trial_counts",
    "trial_params",
]

STUDY_FILE = "automl.json"
CONFIG_ATTR = "tao_skill_config"
FINISHED = ("COMPLETE", "PRUNED")


def default_storage(parent_id: str, home: str | None = None) -> str:
    """A journal file under TAO_SKILL_HOME: safe for several worker processes on one machine."""
    return f"journal:{skill_home(home) / 'automl' / f'{parent_id}.journal'}"


def open_storage(url: str) -> Any:
    """``journal:<path>`` -> Optuna's JournalStorage on a file; anything else is an Optuna RDB URL."""
    if url.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        path = Path(url.removeprefix("journal:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    return url


def load_study(config: dict[str, Any]) -> tuple[Any, Settings, SearchSpace]:
    """The Optuna study of a configuration (created when new), its settings and its search space."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings = parse_settings(config["settings"])
    space = build_search_space(config["schema"], add=settings.parameters_add, remove=settings.parameters_remove)
    study = optuna.create_study(
        study_name=config["study"],
        storage=open_storage(config["storage"]),
        direction=settings.resolved_direction(),
        sampler=make_sampler(settings, space),
        pruner=make_pruner(settings, config["max_epochs"]),
        load_if_exists=True,
    )
    return study, settings, space


def read_config(parent: Job) -> dict[str, Any]:
    """The configuration an AutoML job wrote into its results folder."""
    path = Path(parent.results_dir) / STUDY_FILE
    if not path.is_file():
        raise UserError.single(
            "job_id", f"{parent.id} has no {STUDY_FILE}; it is not an AutoML study", rule="not_automl", value=parent.id
        )
    return json.loads(path.read_text(encoding="utf-8"))


def write_config(results_dir: str | Path, config: dict[str, Any]) -> None:
    """Write the study's configuration readable by its owner only (the storage URL may hold a password)."""
    atomic_write(Path(results_dir) / STUDY_FILE, json.dumps(config, indent=2), permissions=0o600)


def safe_url(url: str) -> str:
    """A storage URL without its password (for messages and job records)."""
    head, sep, tail = url.partition("://")
    if sep and "@" in tail:
        credentials, _, host = tail.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{head}://{user}:***@{host}"
    return url


def trial_counts(study: Any) -> dict[str, int]:
    """Trials by state name (COMPLETE, PRUNED, FAIL, RUNNING, WAITING)."""
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def trial_params(trial: Any) -> dict[str, Any]:
    """Sampled values by dotted key (weighted choices come back from their user attribute)."""
    out = {}
    for key, value in trial.params.items():
        if key.endswith("#u"):
            name = key[: -len("#u")]
            out[name] = trial.user_attrs.get(name)
        else:
            out[key] = value
    return out
