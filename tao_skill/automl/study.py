"""AutoML studies: an AutoML parent job, trials as child train jobs, workers sharing one Optuna storage.

- :func:`launch` records the parent job (kind ``automl``), creates the study and starts a detached worker.
- :func:`run_worker` runs trials until the budget (``max_trials`` completed or pruned trials) is met; several workers,
  on one machine or many, can share a study through its storage.
- Each trial re-plans the train action through :func:`tao_skill.api.plan` (the user's overrides + the sampled values +
  per-trial spec params), so every trial spec is validated and staged like a direct run, and launches it with the
  runtime's launcher as a ``trial`` job. The worker follows the trial's status.json, reports every epoch's metric
  to Optuna and stops the trial when the pruner says so.
- The parent's ``extra.best_child_job_id`` always names the best finished trial, so the parent works as
  ``parent_job_id`` for evaluate, export and inference.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tao_skill.automl.algorithms import check as check_settings
from tao_skill.automl.algorithms import make_pruner, make_sampler, uses_pruner
from tao_skill.automl.search_space import SearchSpace, build_search_space
from tao_skill.automl.settings import Settings, parse_settings
from tao_skill.errors import UserError
from tao_skill.home import skill_home
from tao_skill.launchers.local import pid_alive
from tao_skill.models import Job
from tao_skill.store import JobStore

STUDY_FILE = "automl.json"
WORKER_LOG = "job.log"  # where `tao-skill logs JOB_ID` looks
FINISHED = ("COMPLETE", "PRUNED")
POLL_SECONDS = 0.5
SECRETS_ENV = "TAO_SKILL_AUTOML_SECRETS"
CONFIG_ATTR = "tao_skill_config"


class TrialFailed(RuntimeError):
    """A trial's train job failed; the study records it and goes on."""


# ---------------------------------------------------------------------------------------------- storage
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


def _load_study(config: dict[str, Any]) -> tuple[Any, Settings, SearchSpace]:
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


# ---------------------------------------------------------------------------------------------- launch
def _user_overrides(plan: Any) -> dict[str, Any]:
    """The values the user set (overrides, files, shorthands), as dotted keys, from the plan's provenance."""
    from tao_skill import overrides as ov

    secret = set(getattr(plan, "_secrets", {}) or {})
    picked = {}
    for key, source in sorted(plan.provenance.items()):
        if source.startswith(("override", "shorthand")) and key not in secret:
            picked[key] = ov.get_dotted(plan.spec, key)
    return picked


def _secret_env(plan: Any) -> dict[str, str]:
    """The plan's secret values, handed to the worker in its environment only (never written to disk)."""
    secrets = dict(getattr(plan, "_secrets", {}) or {})
    return {SECRETS_ENV: json.dumps(secrets)} if secrets else {}


def _take_secrets() -> dict[str, str]:
    """The secrets a worker was started with; removed from the environment so trial processes do not inherit it."""
    raw = os.environ.pop(SECRETS_ENV, "")
    try:
        data = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def launch(plan: Any, store: JobStore, *, settings: dict[str, Any] | None = None) -> Job:
    """Record the AutoML parent job of ``plan`` (a validated train plan), create its study, start a worker."""
    from tao_skill.api import _redacted
    from tao_skill.skill import load_skill

    parsed = parse_settings(settings)
    schema = load_skill(plan.skill).schema("train")
    space = build_search_space(schema, add=parsed.parameters_add, remove=parsed.parameters_remove)
    check_settings(parsed, space)
    max_epochs = parsed.max_epochs or int((plan.spec.get("train") or {}).get("num_epochs") or 1)
    home = str(store.home)
    storage = parsed.storage or default_storage(plan.job_id, home)
    config = {
        "study": plan.job_id,
        "storage": storage,
        "settings": parsed.model_dump(),
        "max_epochs": max_epochs,
        "schema": schema,
        "request": {
            "skill": plan.skill,
            "backend": plan.backend,
            "data_sources": plan.data_sources,
            "overrides": _user_overrides(plan),
        },
        "search_space": [p.describe() for p in space.params],
    }
    job = store.create(
        job_id=plan.job_id,
        skill=plan.skill,
        action="train",
        spec=_redacted(plan.spec),
        backend=plan.backend,
        kind="automl",
        results_dir=plan.results_dir or None,
        extra={
            "automl": plan.automl.model_dump(),
            "settings": parsed.model_dump(),
            "metric": parsed.metric,
            "direction": parsed.resolved_direction(),
            "storage": _safe_url(storage),
            "search_space": config["search_space"],
            "provenance": plan.provenance,
            "data_sources": plan.data_sources,
        },
    )
    results = Path(job.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    _write_private(results / STUDY_FILE, json.dumps(config, indent=2))  # the storage URL may hold a password
    study, _, _ = _load_study(config)  # create it now, so workers and reports find it at once
    # Workers on other machines join from the storage alone (they bring its URL themselves).
    study.set_user_attr(CONFIG_ATTR, {**config, "storage": _safe_url(storage)})
    pid = start_worker(job.id, home=home, log=results / WORKER_LOG, env=_secret_env(plan))
    return store.update(job.id, state="running", started_at=time.time(), pid=pid)


def start_worker(job_id: str, *, home: str | None, log: Path, env: dict[str, str] | None = None) -> int:
    """A detached ``python -m tao_skill.automl worker --job ID`` process; returns its pid."""
    env = {**os.environ, **(env or {})}
    if home is not None:
        env["TAO_SKILL_HOME"] = str(home)
    with open(log, "ab") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "tao_skill.automl", "worker", "--job", job_id],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    return process.pid


# ---------------------------------------------------------------------------------------------- worker
def _alive(pid: int | None) -> bool:
    return bool(pid) and pid_alive(int(pid))


def _counts(study: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def recover_stale_trials(study: Any, store: JobStore) -> list[int]:
    """RUNNING trials whose worker died on this host: stop their job, mark them failed, queue them again.

    The re-queued trial resumes from the dead trial's latest checkpoint when it left one.
    """
    from optuna.trial import TrialState

    from tao_skill import api

    host = socket.gethostname()
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get("host") != host or _alive(attrs.get("worker_pid")):
            continue
        job_id = attrs.get("job_id")
        resume_from = None
        if job_id:
            try:
                job = api.status(job_id, home=str(store.home))
                if job.state not in ("done", "failed", "cancelled"):
                    api.cancel(job_id, home=str(store.home))
                    job = api.wait(job_id, timeout=60, home=str(store.home))  # its last checkpoint is complete
                latest = Path(job.results_dir) / "train" / "oi_model_latest.pth"
                if not latest.exists():
                    latest = Path(job.results_dir) / "oi_model_latest.pth"
                resume_from = str(latest.resolve()) if latest.exists() else None
                store.update(job_id, extra={"interrupted": True})
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


class _Objective:
    def __init__(self, config: dict[str, Any], settings: Settings, space: SearchSpace, parent: Job, home: str):
        self.config, self.settings, self.space, self.parent, self.home = config, settings, space, parent, home
        self.secrets = _take_secrets()
        # Staging uses per-process scratch names: trials of one worker (parallel > 1) stage and launch one at a time.
        self.launching = threading.Lock()
        self.direction = settings.resolved_direction()

    def __call__(self, trial: Any) -> float:
        import optuna

        request = self.config["request"]
        max_epochs = int(self.config["max_epochs"])
        values = self.space.sample(trial, _base_spec(self.parent))
        overrides = dict(request["overrides"])
        overrides.update(self.secrets)
        overrides.update(values)
        overrides.update(
            {
                "train.num_epochs": max_epochs,
                "train.checkpoint_interval": min(self.settings.checkpoint_interval or max_epochs, max_epochs),
                "train.checkpoint_interval_unit": "epoch",
                "train.validation_interval": 1,
            }
        )
        resume_from = trial.user_attrs.get("resume_from")
        if resume_from:
            overrides["train.resume_training_checkpoint_path"] = resume_from
            overrides["train.pretrained_model_path"] = None  # pretrained weights only when nothing to resume
        trial.set_user_attr("worker_pid", os.getpid())
        trial.set_user_attr("host", socket.gethostname())
        with self.launching:
            job = self._launch(trial, request, overrides, values)
        trial.set_user_attr("job_id", job.id)
        return self._follow(trial, job.id, optuna)

    def _launch(self, trial: Any, request: dict[str, Any], overrides: dict[str, Any], values: dict[str, Any]) -> Job:
        from tao_skill import api

        plan = api.plan(
            request["skill"],
            "train",
            overrides=overrides,
            data_sources=request["data_sources"],
            automl_policy="off",
            backend=request["backend"],
            home=self.home,
        )
        return api.launch_plan(
            plan,
            home=self.home,
            kind="trial",
            group_id=self.parent.id,
            extra={"trial_number": trial.number, "params": values, "study": self.config["study"]},
        )

    def _follow(self, trial: Any, job_id: str, optuna: Any) -> float:
        from tao_skill import api

        metric = self.settings.metric
        reported: set[int] = set()
        series: dict[int, float] = {}
        store = JobStore(self.home)
        while True:
            job = api.status(job_id, home=self.home)
            for record in api.status_lines(job):
                kpi, epoch = record.get("kpi"), record.get("epoch")
                if not isinstance(kpi, dict) or not isinstance(epoch, int) or metric not in kpi:
                    continue
                if record.get("status") == "SUCCESS" and epoch in series:
                    continue
                series[epoch] = float(kpi[metric])
                if epoch in reported:
                    continue
                reported.add(epoch)
                trial.report(series[epoch], step=epoch + 1)
                if uses_pruner(self.settings) and trial.should_prune():
                    api.cancel(job_id, home=self.home)
                    api.wait(job_id, timeout=60, home=self.home)
                    store.update(job_id, extra={"pruned": True, "pruned_at_epoch": epoch})
                    raise optuna.TrialPruned(f"pruned after epoch {epoch} ({metric}={series[epoch]:.4g})")
            if store.get(self.parent.id).extra.get("cancel_requested"):
                api.cancel(job_id, home=self.home)
                raise TrialFailed(f"study cancelled; trial job {job_id} stopped")
            if job.state in ("done", "failed", "cancelled"):
                break
            time.sleep(POLL_SECONDS)
        if job.state != "done":
            raise TrialFailed(f"trial job {job_id} ended {job.state} (exit code {job.exit_code}); see its logs")
        if not series:
            raise TrialFailed(f"trial job {job_id} reported no '{metric}' in its status.json")
        pick = max if self.direction == "maximize" else min
        best_epoch = pick(series, key=lambda e: series[e])
        trial.set_user_attr("best_epoch", best_epoch)
        return series[best_epoch]


def _base_spec(parent: Job) -> dict[str, Any]:
    return parent.spec or {}


def _update_best(study: Any, store: JobStore, parent_id: str) -> None:
    try:
        best = study.best_trial
    except ValueError:
        return
    job_id = best.user_attrs.get("job_id")
    if job_id:
        store.update(
            parent_id,
            extra={
                "best_child_job_id": job_id,
                "best_value": best.value,
                "best_trial": best.number,
                "best_params": _params(best),
                "best_host": best.user_attrs.get("host"),
            },
        )


def _params(trial: Any) -> dict[str, Any]:
    """Sampled values by dotted key (weighted choices come back from their user attribute)."""
    out = {}
    for key, value in trial.params.items():
        if key.endswith("#u"):
            name = key[: -len("#u")]
            out[name] = trial.user_attrs.get(name)
        else:
            out[key] = value
    return out


def read_config(parent: Job) -> dict[str, Any]:
    path = Path(parent.results_dir) / STUDY_FILE
    if not path.is_file():
        raise UserError.single(
            "job_id", f"{parent.id} has no {STUDY_FILE}; it is not an AutoML study", rule="not_automl", value=parent.id
        )
    return json.loads(path.read_text(encoding="utf-8"))


def run_worker(job_id: str, home: str | None = None) -> int:
    """Run trials of the study of AutoML job ``job_id`` until its budget is met; returns an exit code."""

    store = JobStore(home)
    parent = store.get(job_id)
    config = read_config(parent)
    study, settings, space = _load_study(config)
    objective = _Objective(config, settings, space, parent, str(store.home))
    started = time.monotonic()
    cap = settings.max_trials * 3  # failed trials do not count towards the budget, but do not loop for ever
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__("now", True))
    while not stop["now"]:
        recover_stale_trials(study, store)
        counts = _counts(study)
        finished = sum(counts.get(s, 0) for s in FINISHED)
        running = counts.get("RUNNING", 0)
        waiting = counts.get("WAITING", 0)
        if finished >= settings.max_trials or sum(counts.values()) >= cap:
            break
        if store.get(job_id).extra.get("cancel_requested"):
            break
        if settings.timeout and time.monotonic() - started > settings.timeout:
            break
        slots = settings.max_trials - finished - running
        if slots <= 0 and not waiting:
            time.sleep(POLL_SECONDS * 4)  # other workers hold the rest of the budget
            continue
        batch = max(1, min(settings.parallel, slots if slots > 0 else waiting))
        study.optimize(
            objective,
            n_trials=batch,
            n_jobs=batch,
            catch=(Exception,),  # a trial that cannot be planned, staged or run is recorded FAIL; the study goes on
            callbacks=[lambda s, _t: _update_best(s, store, job_id)],
            gc_after_trial=False,
        )
    _update_best(study, store, job_id)
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
            f"no study named {study_name!r} in {_safe_url(storage)}",
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
            extra={"settings": config["settings"], "storage": _safe_url(storage), "joined": True},
        )
    results = Path(parent.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    if not (results / STUDY_FILE).is_file():
        _write_private(results / STUDY_FILE, json.dumps(config, indent=2))
    return run_worker(parent.id, home=str(store.home))


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _safe_url(url: str) -> str:
    """A storage URL without its password (for messages and job records)."""
    head, sep, tail = url.partition("://")
    if sep and "@" in tail:
        credentials, _, host = tail.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{head}://{user}:***@{host}"
    return url


def _finish(study: Any, store: JobStore, job_id: str, settings: Settings, *, cancelled: bool) -> int:
    counts = _counts(study)
    finished = sum(counts.get(s, 0) for s in FINISHED)
    if counts.get("RUNNING", 0):
        return 0  # another worker still runs trials; it closes the study
    parent = store.get(job_id)
    if parent.extra.get("cancel_requested") or cancelled:
        store.update(job_id, state="cancelled", ended_at=time.time())
        return 0
    complete = counts.get("COMPLETE", 0)
    state = "done" if complete and finished >= settings.max_trials else ("done" if complete else "failed")
    summary = {"trial_counts": counts}
    if not complete:
        summary["error"] = "no trial completed; see the trials' logs (tao-skill automl report)"
    store.update(job_id, state=state, ended_at=time.time(), exit_code=0 if state == "done" else 1, extra=summary)
    return 0 if state == "done" else 1


# ---------------------------------------------------------------------------------------------- follow
def refresh(job: Job, store: JobStore) -> Job:
    """An AutoML job whose worker died before the budget was met is marked failed (resumable)."""
    if job.kind != "automl" or job.state not in ("queued", "running") or _alive(job.pid):
        return job
    try:
        config = read_config(job)
        study, settings, _ = _load_study(config)
    except Exception:  # noqa: BLE001 - an unreadable study leaves the record as it is
        return job
    counts = _counts(study)
    host = socket.gethostname()
    workers_alive = any(  # a trial run by another machine's worker counts as alive: only that machine can tell
        t.user_attrs.get("host") != host or _alive(t.user_attrs.get("worker_pid"))
        for t in study.get_trials(deepcopy=False)
        if t.state.name == "RUNNING"
    )
    if workers_alive:
        return job
    finished = sum(counts.get(s, 0) for s in FINISHED)
    if finished >= settings.max_trials and counts.get("COMPLETE"):
        return store.update(job.id, state="done", ended_at=time.time(), exit_code=0, extra={"trial_counts": counts})
    return store.update(
        job.id,
        state="failed",
        ended_at=time.time(),
        extra={
            "interrupted": True,
            "trial_counts": counts,
            "error": f"the AutoML worker stopped early; continue with `tao-skill automl resume {job.id}`",
        },
    )


def resume(job_id: str, home: str | None = None) -> Job:
    """Continue an interrupted study: recover stale trials and start a new worker."""
    store = JobStore(home)
    job = store.get(job_id)
    if job.kind != "automl":
        raise UserError.single("job_id", f"{job_id} is not an AutoML job", rule="not_automl", value=job_id)
    if job.state in ("queued", "running") and _alive(job.pid):
        raise UserError.single(
            "job_id",
            f"{job_id} is still running (worker pid {job.pid})",
            rule="running",
            value=job_id,
            hint=f"join it with another worker: tao-skill automl worker {job_id}",
        )
    config = read_config(job)
    study, settings, _ = _load_study(config)
    counts = _counts(study)
    if job.state == "done" and sum(counts.get(s, 0) for s in FINISHED) >= settings.max_trials:
        raise UserError.single(
            "job_id",
            f"{job_id} already finished its budget of {settings.max_trials} trials",
            rule="finished",
            value=job_id,
            hint=f"read it with `tao-skill automl report {job_id}`, or start a new study with a larger max_trials",
        )
    recover_stale_trials(study, store)
    pid = start_worker(job_id, home=str(store.home), log=Path(job.results_dir) / WORKER_LOG)
    return store.update(
        job_id,
        state="running",
        pid=pid,
        ended_at=None,
        exit_code=None,
        extra={"interrupted": False, "error": None, "cancel_requested": False, "resumed_at": time.time()},
    )


def cancel(job: Job, store: JobStore) -> Job:
    """Stop a study: no new trials, running trial jobs stopped, the worker signalled."""
    from tao_skill import api

    store.update(job.id, extra={"cancel_requested": True})
    for trial_job in store.list(group_id=job.id):
        if trial_job.state in ("queued", "running"):
            api.cancel(trial_job.id, home=str(store.home))
    if _alive(job.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(job.pid, signal.SIGTERM)
    return store.update(job.id, state="cancelled", ended_at=time.time())
