"""The worker loop: run a study's trials until its budget is met, recover trials of dead workers, keep the parent
job's best trial up to date, and close the study. Several workers, on one machine or many, can share a study."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from tao_skill.automl.objective import Objective
from tao_skill.automl.settings import Settings
from tao_skill.automl.storage import (
    CONFIG_ATTR,
    FINISHED,
    STUDY_FILE,
    load_study,
    open_storage,
    read_config,
    safe_url,
    trial_counts,
    trial_params,
    write_config,
)
from tao_skill.errors import UserError
from tao_skill.launchers.local import pid_alive
from tao_skill.models import Job, StudyRecord
from tao_skill.store import JobStore

__all__ = ["run_worker", "join", "adopt_orphans", "recover_stale_trials", "best_trial", "alive"]

IDLE_SECONDS = 2.0


def alive(pid: int | None) -> bool:
    """Whether a worker (or trial) process of this host still runs."""
    return bool(pid) and pid_alive(int(pid))


def _latest_checkpoint(job: Job) -> str | None:
    """The checkpoint a re-queued trial resumes from: the dead trial's latest (the skill's checkpoint layout)."""
    from tao_skill.checkpoints import latest_link
    from tao_skill.skill import load_skill

    link = latest_link(job.results_dir, load_skill(job.skill).info.runtime.checkpoints)
    return str(link.resolve()) if link is not None else None


def adopt_orphans(study: Any, store: JobStore) -> list[tuple[int, str]]:
    """RUNNING trials whose worker died on this host while their job still runs (a local process, or a job on a
    cluster that outlives the study's process), or after it ended ``done`` (its result is complete: following it
    reads it): this worker takes them over. Returns (trial number, job id)."""
    import optuna
    from optuna.trial import TrialState

    from tao_skill.following import status

    host = socket.gethostname()
    adopted = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        job_id = attrs.get("job_id")
        if attrs.get("host") != host or alive(attrs.get("worker_pid")) or not job_id:
            continue
        try:
            job = status(job_id, home=str(store.home))
            if job.finished and job.state != "done":
                continue  # failed or cancelled with nobody watching: recover_stale_trials re-queues it
        except UserError:
            continue
        optuna.trial.Trial(study, trial._trial_id).set_user_attr("worker_pid", os.getpid())
        adopted.append((trial.number, job_id))
    return adopted


def recover_stale_trials(study: Any, store: JobStore) -> list[int]:
    """RUNNING trials whose worker died on this host: stop their job, mark them failed, queue them again.

    The re-queued trial resumes from the dead trial's latest checkpoint when it left one.
    """
    from optuna.trial import TrialState

    from tao_skill.following import cancel, status, wait

    host = socket.gethostname()
    home = str(store.home)
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get("host") != host or alive(attrs.get("worker_pid")):
            continue
        job_id = attrs.get("job_id")
        resume_from = None
        if job_id:
            try:
                job = status(job_id, home=home)
                if not job.finished:
                    cancel(job_id, home=home)
                    job = wait(job_id, timeout=60, home=home)  # its last checkpoint is complete
                resume_from = _latest_checkpoint(job)
                store.update(job_id, interrupted=True)
            except UserError:
                pass
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(
            dict(trial.params),
            user_attrs={"resume_from": resume_from, "requeued_from": trial.number},
            skip_if_exists=False,
        )
        recovered.append(trial.number)
    return recovered


def best_trial(study: Any, tie_mode: str | None = None) -> Any:
    """The best complete trial: by value in the study's direction, equal values by the tie-breaker value the
    objective recorded (``tie_mode``: its direction), then the earlier trial; None when none completed."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and t.value is not None]
    if not complete:
        return None
    sign = 1.0 if study.direction.name == "MAXIMIZE" else -1.0
    tie_sign = -1.0 if tie_mode == "min" else 1.0

    def rank(t: Any) -> tuple[float, float, int]:
        tie = t.user_attrs.get("tie_breaker")
        return (sign * t.value, tie_sign * tie if isinstance(tie, (int, float)) else float("-inf"), -t.number)

    return max(complete, key=rank)


def _update_best(study: Any, store: JobStore, parent_id: str, tie_mode: str | None) -> None:
    best = best_trial(study, tie_mode)
    if best is None:
        return
    job_id = best.user_attrs.get("job_id")
    if job_id:
        store.update(
            parent_id,
            best_child_id=job_id,
            study={
                "best_value": best.value,
                "best_trial": best.number,
                "best_params": trial_params(best),
                "best_host": best.user_attrs.get("host"),
            },
        )


def _finish(study: Any, store: JobStore, job_id: str, settings: Settings, *, cancelled: bool) -> int:
    counts = trial_counts(study)
    finished = sum(counts.get(s, 0) for s in FINISHED)
    if counts.get("RUNNING", 0):
        return 0  # another worker still runs trials; it closes the study
    parent = store.get(job_id)
    if parent.cancel_requested or cancelled:
        store.update(job_id, state="cancelled", ended_at=time.time())
        return 0
    complete = counts.get("COMPLETE", 0)
    state = "done" if complete and finished >= settings.max_trials else ("done" if complete else "failed")
    error = None if complete else "no trial completed; see the trials' logs (tao-skill automl report)"
    store.update(
        job_id,
        state=state,
        ended_at=time.time(),
        exit_code=0 if state == "done" else 1,
        study={"trial_counts": counts},
        **({"error": error} if error else {}),
    )
    return 0 if state == "done" else 1


def run_worker(job_id: str, home: str | None = None) -> int:
    """Run trials of the study of AutoML job ``job_id`` until its budget is met; returns an exit code."""
    store = JobStore(home)
    parent = store.get(job_id)
    config = read_config(parent)
    study, settings, space = load_study(config)
    objective = Objective(config, settings, space, parent, str(store.home))
    tie_mode = (config.get("tie_breaker") or {}).get("mode")
    started = time.monotonic()
    cap = settings.max_trials * 3  # failed trials do not count towards the budget, but do not loop for ever
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__("now", True))
    following: list[threading.Thread] = []  # trials of a dead worker whose jobs still run, followed to their end
    while not stop["now"]:
        for number, trial_job in adopt_orphans(study, store):
            thread = threading.Thread(
                target=objective.adopt,
                args=(study, number, trial_job, lambda s: _update_best(s, store, job_id, tie_mode)),
                daemon=True,
            )
            thread.start()
            following.append(thread)
        following = [t for t in following if t.is_alive()]
        recover_stale_trials(study, store)
        counts = trial_counts(study)
        finished = sum(counts.get(s, 0) for s in FINISHED)
        running = counts.get("RUNNING", 0)
        waiting = counts.get("WAITING", 0)
        if finished >= settings.max_trials or sum(counts.values()) >= cap:
            break
        if store.get(job_id).cancel_requested:
            break
        if settings.timeout and time.monotonic() - started > settings.timeout:
            break
        slots = settings.max_trials - finished - running
        free = settings.parallel - len(following)
        if (slots <= 0 and not waiting) or free <= 0:
            time.sleep(IDLE_SECONDS)  # other workers (or the trials this one took over) hold the rest of the budget
            continue
        batch = max(1, min(free, slots if slots > 0 else waiting))
        study.optimize(
            objective,
            n_trials=batch,
            n_jobs=batch,
            catch=(Exception,),  # a trial that cannot be planned, staged or run is recorded FAIL; the study goes on
            callbacks=[lambda s, _t: _update_best(s, store, job_id, tie_mode)],
            gc_after_trial=False,
        )
    for thread in following:
        thread.join()
    _update_best(study, store, job_id, tie_mode)
    return _finish(study, store, job_id, settings, cancelled=stop["now"])


def join(study_name: str, storage: str, home: str | None = None) -> int:
    """Join a running study from its storage alone (e.g. on another machine); returns the worker's exit code.

    The study carries its configuration; when this machine's job store does not know the AutoML job yet, a local
    record of it is made, so the trials run here are child jobs like anywhere else.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    except KeyError:
        raise UserError.single(
            "study",
            f"no study named {study_name!r} in {safe_url(storage)}",
            rule="unknown_study",
            value=study_name,
            hint="the study name is the AutoML job id; check --storage",
        ) from None
    config = study.user_attrs.get(CONFIG_ATTR)
    if not isinstance(config, dict):
        raise UserError.single(
            "study",
            f"study {study_name!r} was not started by tao-skill (it has no {CONFIG_ATTR})",
            rule="not_automl",
            value=study_name,
        )
    config = {**config, "storage": storage}
    store = JobStore(home)
    try:
        parent = store.get(study_name)
    except UserError:
        parent = store.create(
            job_id=study_name,
            skill=config["request"]["skill"],
            action="train",
            spec={},
            backend=config["request"]["backend"],
            kind="automl",
            state="running",
            study=StudyRecord(settings=config["settings"], storage=safe_url(storage), joined=True),
        )
    results = Path(parent.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    if not (results / STUDY_FILE).is_file():
        write_config(results, config)
    return run_worker(parent.id, home=str(store.home))
