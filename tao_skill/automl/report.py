"""What a study did: a trials table, the best trial with its spec and checkpoint, and PNG plots."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from tao_skill.automl.lifecycle import refresh
from tao_skill.automl.storage import load_study, read_config, safe_url, trial_counts, trial_params
from tao_skill.errors import UserError
from tao_skill.store import JobStore

PLOTS_DIR = "automl_plots"


def report(job_id: str, home: str | None = None, *, plots: bool = True) -> dict[str, Any]:
    """The study of AutoML job ``job_id`` as JSON-friendly data (and PNG plots in its results folder)."""
    from tao_skill.checkpoints import resolve as resolve_checkpoint

    store = JobStore(home)
    job = refresh(store.get(job_id), store)
    config = read_config(job)
    study, settings, _ = load_study(config)
    trials = []
    for trial in study.get_trials(deepcopy=False):
        trials.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "value": trial.value,
                "params": trial_params(trial),
                "job_id": trial.user_attrs.get("job_id"),
                "best_epoch": trial.user_attrs.get("best_epoch"),
                "epochs_reported": len(trial.intermediate_values),
                "requeued_from": trial.user_attrs.get("requeued_from"),
            }
        )
    out: dict[str, Any] = {
        "job_id": job.id,
        "state": job.state,
        "study": config["study"],
        "storage": safe_url(config["storage"]),
        "algorithm": settings.algorithm,
        "metric": settings.metric,
        "direction": settings.resolved_direction(),
        "max_trials": settings.max_trials,
        "max_epochs": config["max_epochs"],
        "trial_counts": trial_counts(study),
        "search_space": config["search_space"],
        "trials": trials,
        "best": None,
        "plots": [],
    }
    best_child = job.best_child_id
    record = job.study
    child = None
    if best_child:
        try:
            child = store.get(best_child)
        except UserError:
            out["notes"] = [f"the best trial's job {best_child} is not in this job store (another machine ran it)"]
    if best_child and child is not None:
        best: dict[str, Any] = {
            "trial": record.best_trial if record else None,
            "value": record.best_value if record else None,
            "params": record.best_params if record else None,
            "job_id": best_child,
            "spec": child.spec,
        }
        try:  # the best epoch by the study's own metric (the skill's ranking metric may differ)
            from tao_skill.skill import TieBreaker, load_skill

            mode = "max" if settings.resolved_direction() == "maximize" else "min"
            tie = config.get("tie_breaker")
            selection = resolve_checkpoint(
                child.results_dir,
                "best",
                metric=settings.metric,
                mode=mode,
                tie_breaker=TieBreaker.model_validate(tie) if tie else None,
                layout=load_skill(child.skill).info.runtime.checkpoints,
            )
            best["checkpoint"] = selection.path
            best["checkpoint_reason"] = selection.reason
        except Exception as exc:  # noqa: BLE001 - a report still shows what it can
            best["checkpoint"] = None
            best["checkpoint_reason"] = str(exc)
        out["best"] = best
    if plots:
        out["plots"] = _plots(study, Path(job.results_dir) / PLOTS_DIR, out)
    return out


def _plots(study: Any, folder: Path, out: dict[str, Any]) -> list[str]:
    with warnings.catch_warnings():  # Optuna's "experimental" and few-trials warnings would bury the table
        warnings.simplefilter("ignore")
        return _draw(study, folder, out)


def _draw(study: Any, folder: Path, out: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if complete:
        axes = ovm.plot_optimization_history(study)
        path = folder / "optimization_history.png"
        axes.figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(axes.figure)
        written.append(str(path))
    if len(complete) >= 2 and any(t.params for t in complete):
        try:
            axes = ovm.plot_param_importances(study)
            path = folder / "param_importances.png"
            axes.figure.savefig(path, dpi=100, bbox_inches="tight")
            plt.close(axes.figure)
            written.append(str(path))
        except (RuntimeError, ValueError) as exc:
            out.setdefault("notes", []).append(f"parameter importances not computed: {exc}")
    else:
        out.setdefault("notes", []).append("parameter importances need at least 2 completed trials")
    return written


def format_report(data: dict[str, Any]) -> str:
    """A human-readable trials table."""
    lines = [
        f"AutoML {data['job_id']} ({data['state']}): {data['algorithm']}, {data['metric']} ({data['direction']}), "
        f"budget {data['max_trials']} trials x {data['max_epochs']} epochs; counts {data['trial_counts']}",
        f"{'trial':>5}  {'state':<9} {'value':>9}  {'job':<20} params",
    ]
    for trial in data["trials"]:
        value = "" if trial["value"] is None else f"{trial['value']:.4f}"
        params = ", ".join(f"{_short_key(k)}={_short(v)}" for k, v in trial["params"].items())
        lines.append(f"{trial['number']:>5}  {trial['state']:<9} {value:>9}  {trial['job_id'] or '-':<20} {params}")
    best = data.get("best")
    if best:
        lines.append(f"best: trial {best['trial']} = {best['value']:.4f} (job {best['job_id']})")
        lines.append(f"checkpoint: {best.get('checkpoint')} ({best.get('checkpoint_reason')})")
    for path in data.get("plots", []):
        lines.append(f"plot: {path}")
    for note in data.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _short_key(key: str) -> str:
    """``section.sub_section.leaf`` -> ``sub_section.leaf``."""
    return ".".join(key.split(".")[-2:])
